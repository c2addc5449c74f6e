/**
 * A TCP forwarder placed between the daemon and a real server, so a test can cause outages the daemon must survive:
 * cut every live connection (what a server restart or a NAT timeout looks like to the client), refuse new ones for a
 * while, or silently swallow traffic (a hung server — only socket timeouts notice that).
 */
import net from 'node:net';

export interface TcpProxy {
  readonly host: string;
  /** Where clients connect. Stays the same across setDown(). */
  readonly port: number;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Connections open right now. */
  readonly openConnections: number;
  /** Connections accepted and forwarded since start (refused ones excluded). */
  readonly totalConnections: number;
  /** Destroy every open connection, both sides. New connections are still accepted. */
  cutAll(): void;
  /**
   * While down, new connections are accepted and destroyed at once (the client sees a reset / close before any
   * greeting). Open connections are left alone; call cutAll() too for a full outage.
   */
  setDown(down: boolean): void;
  /**
   * While black-holed, bytes in both directions are dropped but sockets stay open: a hung server or a dead network
   * path that only a client-side timeout detects.
   */
  setBlackhole(on: boolean): void;
  /** Resolves once a new connection has been forwarded after the call (e.g. the client reconnected). */
  waitForConnection(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

/** A per-connection rewrite of the bytes one side sends: returns what to forward (may be empty). */
export type ChunkFilter = (chunk: Buffer) => Buffer;

export interface TcpProxyOptions {
  /**
   * Called once per connection; the filter it returns sees every chunk the server sends, in order, and returns what
   * the client gets. For protocol-aware faults (imap-filter-proxy.ts drops IMAP notifications).
   */
  fromServer?: () => ChunkFilter;
}

/** Starts a forwarder on a free port of 127.0.0.1 to `targetHost:targetPort`. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1', options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let down = false;
  let blackhole = false;
  let total = 0;
  const waiters = new Set<() => void>();

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: targetPort, host: targetHost });
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    pairs.add(pair);
    total++;
    for (const wake of waiters) wake();
    waiters.clear();

    // Forward by hand instead of pipe() so the black hole can drop bytes without breaking the streams.
    client.on('data', (chunk) => {
      if (!blackhole) upstream.write(chunk);
    });
    const filter = options.fromServer?.();
    upstream.on('data', (chunk: Buffer) => {
      if (blackhole) return;
      const out = filter === undefined ? chunk : filter(chunk);
      if (out.length > 0) client.write(out);
    });
    const teardown = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  const cutAll = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    host: HOST,
    port,
    targetHost,
    targetPort,
    get openConnections() {
      return pairs.size;
    },
    get totalConnections() {
      return total;
    },
    cutAll,
    setDown(value: boolean) {
      down = value;
    },
    setBlackhole(value: boolean) {
      blackhole = value;
    },
    waitForConnection(timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`tcp proxy :${port} → ${targetHost}:${targetPort}: no new connection within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
      });
    },
  };
}
