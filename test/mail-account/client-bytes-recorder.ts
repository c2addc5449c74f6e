/**
 * A TCP forwarder that keeps every byte the client sent, for tests that must prove what a client
 * did NOT send in plain text (no LOGIN / AUTH after a refused STARTTLS). Test-local: the harness
 * proxy (tcp-proxy.ts) rewrites server bytes only.
 */
import net from 'node:net';

export interface ClientBytesRecorder {
  readonly port: number;
  /** Everything clients sent so far, all connections in order of arrival, as latin1 text. */
  sent(): string;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startClientBytesRecorder(targetPort: number, targetHost = '127.0.0.1'): Promise<ClientBytesRecorder> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect({ port: targetPort, host: targetHost });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sent: () => Buffer.concat(chunks).toString('latin1'),
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
