/**
 * A TLS front for a plain test server: terminates TLS with a certificate for `name` from a test CA
 * and pipes the bytes to 127.0.0.1:`targetPort`. The mock Anthropic API behind it is reached by the
 * sandbox proxy as `https://<name>` (through `network.upstream_overrides`), as the CLI reaches
 * api.anthropic.com.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { TestTls } from './test-tls.ts';

export interface TlsFront {
  readonly port: number;
  close(): void;
}

export async function startTlsFront(testTls: TestTls, name: string, targetPort: number): Promise<TlsFront> {
  const server = tls.createServer(testTls.serverOptions(name), (client) => {
    const target = net.connect(targetPort, '127.0.0.1');
    client.pipe(target).pipe(client);
    client.on('error', () => target.destroy());
    target.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}
