/**
 * A TLS front for a plain local server: the mock Anthropic API behind a certificate for a name
 * (api.mock.test), as the CLI talks HTTPS to api.anthropic.com. Bytes are piped both ways.
 */
import net from 'node:net';
import tls from 'node:tls';

export async function startTlsFront(serverOptions: { key: string; cert: string }, targetPort: number): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer(serverOptions, (client) => {
    const target = net.connect(targetPort, '127.0.0.1');
    client.pipe(target).pipe(client);
    client.on('error', () => target.destroy());
    target.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as net.AddressInfo).port };
}
