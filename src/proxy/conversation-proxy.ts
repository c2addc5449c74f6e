/**
 * The sandbox proxy of one conversation: the only way out of its task container. It listens on
 * three Unix sockets in a directory that the container's network sidecar (see
 * src/sandbox/network-sidecar.ts) forwards to:
 *
 *   http.sock   plain HTTP the container sent to port 80 (its DNS pointed the name at the sidecar)
 *   tls.sock    TLS the container sent to port 443; terminated with a certificate from the
 *               daemon's CA for the name in SNI, so paths and methods can be checked
 *   proxy.sock  clients that use HTTP_PROXY/HTTPS_PROXY: absolute-URI requests, and CONNECT
 *               tunnels, which are terminated the same way as tls.sock
 *
 * Every request passes the request guard (well-formed, no path tricks, every name for the
 * destination agrees) and then the allowlist; a blocked request gets a 403 that says which rule
 * file to change. Allowed requests get masked secrets swapped in and go upstream from the daemon's
 * own network. Every request is reported through `onRequest` for the network log.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import dns from 'node:dns';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { ALLOWLIST_PATH, decide, type Allowlist } from './allowlist.ts';
import type { CertificateAuthority } from './certificate-authority.ts';
import { applyMasks, type MaskRule } from './masked-secrets.ts';
import { guardRequest, parseHostHeader, type RequestTarget } from './request-guard.ts';
import { isForbiddenUpstreamAddress } from './upstream-address.ts';

export const PROXY_SOCKETS = { http: 'http.sock', tls: 'tls.sock', explicit: 'proxy.sock' } as const;

export interface NetworkLogEntry {
  readonly at: number;
  readonly method: string;
  /** Host as the container named it (lower-case, no port). */
  readonly host: string;
  readonly port: number;
  /** Path without the query string (queries may carry tokens). */
  readonly path: string;
  /** Status sent back to the container (the proxy's own 403/502 included); 0 if none was sent. */
  readonly status: number;
  readonly allowed: boolean;
  /** Which allowlist rule allowed it, or why it was blocked. */
  readonly rule: string;
  /** Headers in which a masked secret was swapped in. */
  readonly masked: number;
  readonly durationMs: number;
  readonly error?: string;
}

/** Where the proxy connects for a host instead of resolving it (operator config). */
export interface UpstreamOverride {
  readonly host: string;
  readonly port: number | null;
}

export interface ConversationProxyOptions {
  readonly socketDir: string;
  readonly allowlist: Allowlist;
  readonly masks: readonly MaskRule[];
  readonly ca: CertificateAuthority;
  readonly upstreamOverrides?: Readonly<Record<string, UpstreamOverride>>;
  readonly onRequest: (entry: NetworkLogEntry) => void;
  /**
   * Extra CAs trusted for upstream TLS besides Node's bundled roots. The daemon leaves this unset
   * (NODE_EXTRA_CA_CERTS in its environment serves operators); in-process tests use it.
   */
  readonly upstreamCa?: readonly string[];
  /** Upstream idle timeout. Default 5 minutes (long polls, slow downloads). */
  readonly upstreamTimeoutMs?: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface TunnelInfo {
  readonly host: string | null;
  readonly port: number;
  readonly scheme: 'http' | 'https';
}

export class ConversationProxy {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<Duplex>();
  private readonly tunnels = new WeakMap<object, TunnelInfo>();
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /** Parses HTTP on TLS sockets we terminated ourselves (CONNECT tunnels). */
  private readonly innerHttp: http.Server;
  /** Name resolution for every upstream connection (agents and upgrades). */
  private readonly upstreamLookup: net.LookupFunction;
  /** TLS trust for upstream connections: Node's roots plus `upstreamCa`, or the default. */
  private readonly upstreamTrust: { ca?: string[] };
  private closed = false;

  private constructor(private readonly opts: ConversationProxyOptions) {
    this.upstreamLookup = this.lookup.bind(this) as unknown as net.LookupFunction;
    this.upstreamTrust = opts.upstreamCa?.length ? { ca: [...tls.rootCertificates, ...opts.upstreamCa] } : {};
    const lookup = this.upstreamLookup;
    this.httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 16, lookup } as http.AgentOptions);
    this.httpsAgent = new https.Agent({ keepAlive: true, maxFreeSockets: 16, lookup, ...this.upstreamTrust } as https.AgentOptions);
    this.innerHttp = http.createServer((req, res) => this.handle(req, res));
    this.innerHttp.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  static async start(opts: ConversationProxyOptions): Promise<ConversationProxy> {
    const proxy = new ConversationProxy(opts);
    await fs.mkdir(opts.socketDir, { recursive: true });
    const ca = opts.ca;

    const plain = http.createServer((req, res) => proxy.handle(req, res));
    plain.on('upgrade', (req, socket, head) => proxy.handleUpgrade(req, socket, head));

    const terminated = https.createServer(
      {
        SNICallback: (servername, cb) => {
          try {
            cb(null, ca.contextFor(servername));
          } catch (err) {
            cb(err as Error);
          }
        },
        // Clients that send no SNI (an address instead of a name) get a certificate that matches
        // nothing; the request is still judged by the allowlist if they go on regardless.
        secureContext: ca.contextFor('airut-sandbox-proxy.invalid'),
      },
      (req, res) => proxy.handle(req, res),
    );
    terminated.on('upgrade', (req, socket, head) => proxy.handleUpgrade(req, socket, head));

    const explicit = http.createServer((req, res) => proxy.handle(req, res));
    explicit.on('upgrade', (req, socket, head) => proxy.handleUpgrade(req, socket, head));
    explicit.on('connect', (req, socket, head) => proxy.handleConnect(req, socket, head));

    for (const [server, file] of [
      [plain, PROXY_SOCKETS.http],
      [terminated, PROXY_SOCKETS.tls],
      [explicit, PROXY_SOCKETS.explicit],
    ] as const) {
      server.on('connection', (s: net.Socket) => proxy.track(s));
      server.on('secureConnection', (s: tls.TLSSocket) => proxy.track(s));
      server.on('clientError', (_err, s: Duplex) => s.destroy());
      const socketPath = path.join(opts.socketDir, file);
      await fs.rm(socketPath, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      proxy.servers.push(server);
    }
    return proxy;
  }

  /** Stops listening, cuts every connection and removes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await Promise.all(Object.values(PROXY_SOCKETS).map((f) => fs.rm(path.join(this.opts.socketDir, f), { force: true })));
  }

  private track(s: Duplex): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private tunnelOf(req: http.IncomingMessage): TunnelInfo {
    const known = this.tunnels.get(req.socket);
    if (known) return known;
    if (req.socket instanceof tls.TLSSocket) {
      const sni = (req.socket as tls.TLSSocket & { servername?: string | false }).servername;
      return { host: typeof sni === 'string' && sni ? sni : null, port: 443, scheme: 'https' };
    }
    return { host: null, port: 80, scheme: 'http' };
  }

  /** CONNECT host:port from an HTTPS_PROXY client: terminate TLS for that name, then as tls.sock. */
  private handleConnect(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const startedAt = Date.now();
    const target = parseHostHeader(req.url ?? '', 443);
    if (!target) {
      this.log({ at: startedAt, method: 'CONNECT', host: String(req.url).slice(0, 200), port: 0, path: '', status: 400, allowed: false, rule: 'malformed CONNECT target', masked: 0, durationMs: 0 });
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const secure = new tls.TLSSocket(socket as net.Socket, {
      isServer: true,
      secureContext: this.opts.ca.contextFor(target.host),
    });
    this.track(secure);
    secure.on('error', () => secure.destroy());
    this.tunnels.set(secure, { host: target.host, port: target.port, scheme: 'https' });
    this.innerHttp.emit('connection', secure);
  }

  /** Guard + allowlist. On refusal the 403 is already sent and logged. */
  private admit(
    req: http.IncomingMessage,
    startedAt: number,
    refuse: (status: number, body: string) => void,
  ): { target: RequestTarget; tunnel: TunnelInfo; rule: string } | null {
    const tunnel = this.tunnelOf(req);
    const method = req.method ?? 'GET';
    const guarded = guardRequest({ url: req.url ?? '', hostHeader: req.headers.host, tunnelHost: tunnel.host, defaultPort: tunnel.port });
    if (!guarded.ok) {
      const host = (tunnel.host ?? parseHostHeader(req.headers.host ?? '', tunnel.port)?.host ?? '').toLowerCase();
      this.log({ at: startedAt, method, host, port: tunnel.port, path: pathOnly(req.url), status: 403, allowed: false, rule: `refused: ${guarded.reason}`, masked: 0, durationMs: Date.now() - startedAt });
      refuse(403, blockedBody(`the request was refused: ${guarded.reason}.`, null));
      return null;
    }
    const { target } = guarded;
    const decision = decide(this.opts.allowlist, { host: target.host, path: target.path, method });
    if (!decision.allowed) {
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status: 403, allowed: false, rule: decision.rule, masked: 0, durationMs: Date.now() - startedAt });
      refuse(403, blockedBody(`${decision.rule}.`, { host: target.host, path: target.path, method, blockedBy: decision.blockedBy! }));
      return null;
    }
    return { target, tunnel, rule: decision.rule };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const startedAt = Date.now();
    const method = req.method ?? 'GET';
    const admitted = this.admit(req, startedAt, (status, body) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-airut-blocked': '1', connection: 'close' });
      res.end(body);
      req.resume();
    });
    if (!admitted) return;
    const { target, tunnel, rule } = admitted;

    const headers: Record<string, string | string[] | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
    const masked = applyMasks(this.opts.masks, target.host, headers);

    const override = this.opts.upstreamOverrides?.[target.host];
    const port = override?.port ?? target.port;
    const options: https.RequestOptions = {
      method,
      host: target.host,
      port,
      path: target.pathAndQuery,
      headers,
      servername: net.isIP(target.host) ? undefined : target.host,
      timeout: this.opts.upstreamTimeoutMs ?? 300_000,
    };
    const upstream =
      tunnel.scheme === 'https'
        ? https.request({ ...options, agent: this.httpsAgent })
        : http.request({ ...options, agent: this.httpAgent });

    let settled = false;
    const finish = (status: number, error?: string) => {
      if (settled) return;
      settled = true;
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status, allowed: true, rule, masked, durationMs: Date.now() - startedAt, ...(error ? { error } : {}) });
    };
    upstream.on('response', (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      up.pipe(res);
      up.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
        finish(up.statusCode ?? 0, res.writableFinished ? undefined : 'the connection closed before the response ended');
      });
    });
    upstream.on('timeout', () => upstream.destroy(new Error('the upstream server did not answer in time')));
    upstream.on('error', (err) => {
      const message = upstreamErrorMessage(err, target.host);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end(`airut network sandbox: could not reach ${target.host}:${port}: ${message}\n`);
        finish(502, message);
      } else {
        res.destroy();
        finish(res.statusCode, message);
      }
    });
    req.pipe(upstream);
    req.on('error', () => upstream.destroy());
  }

  /** WebSocket and other upgrades: judged like any request, then spliced through. */
  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const startedAt = Date.now();
    const method = req.method ?? 'GET';
    const admitted = this.admit(req, startedAt, (status, body) => {
      socket.end(`HTTP/1.1 ${status} Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nX-Airut-Blocked: 1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    if (!admitted) return;
    const { target, tunnel, rule } = admitted;
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const masked = applyMasks(this.opts.masks, target.host, headers);
    const override = this.opts.upstreamOverrides?.[target.host];
    const port = override?.port ?? target.port;
    const log = (status: number, error?: string) =>
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status, allowed: true, rule, masked, durationMs: Date.now() - startedAt, ...(error ? { error } : {}) });
    const lookup = this.upstreamLookup;
    const upstream: net.Socket =
      tunnel.scheme === 'https'
        ? tls.connect({ host: target.host, port, servername: net.isIP(target.host) ? undefined : target.host, lookup, ...this.upstreamTrust })
        : net.connect({ host: target.host, port, lookup });
    this.track(upstream);
    upstream.once(tunnel.scheme === 'https' ? 'secureConnect' : 'connect', () => {
      const lines = [`${method} ${target.pathAndQuery} HTTP/1.1`];
      for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v ?? '']) lines.push(`${k}: ${one}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
      log(101);
    });
    upstream.on('error', (err) => {
      log(502, upstreamErrorMessage(err, target.host));
      socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  }

  /**
   * Name resolution for upstream connections: the operator's override if there is one, otherwise
   * DNS — but never to loopback, link-local (cloud metadata) or unspecified addresses, so an
   * allowlisted name that someone points at 127.0.0.1 cannot reach the daemon's own services.
   */
  private lookup(
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ): void {
    const override = this.opts.upstreamOverrides?.[hostname.toLowerCase()];
    const name = override?.host ?? hostname;
    dns.lookup(name, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const usable = override ? list : list.filter((a) => !isForbiddenUpstreamAddress(a.address));
      if (usable.length === 0) {
        const e = new Error(`${hostname} resolves only to local or link-local addresses, which the sandbox does not connect to`) as NodeJS.ErrnoException;
        e.code = 'EAIRUTFORBIDDEN';
        return callback(e, '', 0);
      }
      if (options.all) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  }

  private log(entry: NetworkLogEntry): void {
    try {
      this.opts.onRequest(entry);
    } catch {
      /* the log is best effort; it must never break a request */
    }
  }
}

function pathOnly(url: string | undefined): string {
  const u = url ?? '';
  const noScheme = u.replace(/^https?:\/\/[^/]*/i, '');
  const q = noScheme.indexOf('?');
  return (q === -1 ? noScheme : noScheme.slice(0, q)).slice(0, 2000);
}

function upstreamErrorMessage(err: Error, host: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the name ${host} could not be resolved`;
  if (code === 'ECONNREFUSED') return 'connection refused';
  return err.message;
}

/** The 403 body: what was blocked, and where to allow it. Written for the agent to act on. */
export function blockedBody(
  reason: string,
  req: { host: string; path: string; method: string; blockedBy: 'host' | 'path' | 'method' } | null,
): string {
  const lines = [
    `Blocked by the airut network sandbox: ${reason}`,
    '',
    `This container may reach only what ${ALLOWLIST_PATH} on the repository's default branch allows.`,
  ];
  if (req) {
    const pathPattern = req.path.replace(/\/[^/]*$/, '/*') || '/*';
    lines.push(
      `To allow this request, add an entry to ${ALLOWLIST_PATH}, for example:`,
      '',
      'url_prefixes:',
      `  - host: ${req.host}`,
      `    path: ${pathPattern}`,
      `    methods: [${req.method}]`,
      '',
      'and have the change reviewed and merged into the default branch; it applies to the next task.',
      'Editing the file in this workspace has no effect on the running sandbox.',
    );
  }
  return `${lines.join('\n')}\n`;
}
