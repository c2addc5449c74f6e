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
 * file to change. Allowed requests go upstream from the daemon's own network, through
 * `UpstreamConnector`, which checks the address every connection actually goes to. Masked secrets
 * are swapped in only for requests that travel upstream inside TLS the proxy verified; an absolute
 * `https://` URL on a plain connection is refused (HTTPS goes through CONNECT). An upstream answer
 * the proxy cannot forward faithfully becomes its own 502. Every request is reported through
 * `onRequest` for the network log.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { ALLOWLIST_PATH, decide, type Allowlist } from './allowlist.ts';
import { GitPushWatch } from './git-push-watch.ts';
import type { CertificateAuthority } from './certificate-authority.ts';
import { graphqlBlockedBody, screenGraphqlRequest } from './graphql-body.ts';
import type { GraphqlRule } from './graphql-rule.ts';
import { applyCredentials, strippedNote, type CredentialOutcome } from './credential-headers.ts';
import type { MaskRule } from './masked-secrets.ts';
import { guardRequest, parseHostHeader, type RequestTarget } from './request-guard.ts';
import { headerPairs, responseHeadProblem, writeRawResponse } from './response-head.ts';
import { relayUpgrade } from './upgrade-relay.ts';
import { resignSigV4, type ResignResult } from './sigv4-resign.ts';
import type { SigningRule } from './sigv4-surrogates.ts';
import { UpstreamConnector, type UpstreamOverride } from './upstream-connector.ts';

export type { UpstreamOverride } from './upstream-connector.ts';

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
  /** Headers removed as foreign credentials (see credential-headers.ts); absent means none. */
  readonly stripped?: number;
  /** 1 when the request was signed again with the real keys of a signing credential (also counted in `masked`). */
  readonly signed?: number;
  readonly durationMs: number;
  readonly error?: string;
  /** Refs a git push created or moved, as the upstream reported them accepted (git-push-watch.ts). */
  readonly pushed?: readonly string[];
}

export interface ConversationProxyOptions {
  readonly socketDir: string;
  readonly allowlist: Allowlist;
  readonly masks: readonly MaskRule[];
  /** signing_credentials (AWS SigV4) whose surrogate-signed requests are signed again. */
  readonly signing?: readonly SigningRule[];
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
  /** `https` when the request arrived inside TLS the proxy terminated; the upstream is then TLS too. */
  readonly scheme: 'http' | 'https';
}

/** A request past the guard and the allowlist; `graphql` when its rule checks GraphQL operations. */
interface Admitted {
  readonly target: RequestTarget;
  readonly tunnel: TunnelInfo;
  readonly rule: string;
  readonly graphql?: GraphqlRule;
}

/** A request whose GraphQL body was read and allowed (graphql-body.ts): sent on from this buffer. */
interface Screened {
  readonly admitted: Admitted;
  readonly startedAt: number;
  readonly body: Buffer;
  readonly tag: string;
}

/** Header maps the proxy builds from what a client or upstream sent: no prototype to answer for `constructor`. */
type HeaderMap = Record<string, string | string[] | undefined>;
function headerMap(from: http.IncomingHttpHeaders, skip: ReadonlySet<string>): HeaderMap {
  const out: HeaderMap = Object.create(null) as HeaderMap;
  for (const [k, v] of Object.entries(from)) if (!skip.has(k)) out[k] = v;
  return out;
}

export class ConversationProxy {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<Duplex>();
  private readonly tunnels = new WeakMap<object, TunnelInfo>();
  /** Opens (and checks) every upstream connection. */
  private readonly upstream: UpstreamConnector;
  /** Parses HTTP on TLS sockets we terminated ourselves (CONNECT tunnels). */
  private readonly innerHttp: http.Server;
  private closed = false;

  private constructor(private readonly opts: ConversationProxyOptions) {
    this.upstream = new UpstreamConnector(opts.upstreamOverrides, opts.upstreamCa);
    this.innerHttp = http.createServer((req, res) => this.serve(req, res));
    this.innerHttp.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  static async start(opts: ConversationProxyOptions): Promise<ConversationProxy> {
    const proxy = new ConversationProxy(opts);
    await fs.mkdir(opts.socketDir, { recursive: true });
    const ca = opts.ca;

    const plain = http.createServer((req, res) => proxy.serve(req, res));
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
      (req, res) => proxy.serve(req, res),
    );
    terminated.on('upgrade', (req, socket, head) => proxy.handleUpgrade(req, socket, head));

    const explicit = http.createServer((req, res) => proxy.serve(req, res));
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
      server.on('tlsClientError', (_err, s: Duplex) => s.destroy());
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
    this.upstream.destroy();
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
    // Node's server drops its own error handler before this event: without one, a client reset
    // would be an uncaught exception in the runner thread.
    socket.on('error', () => socket.destroy());
    const startedAt = Date.now();
    const target = parseHostHeader(req.url ?? '', 443);
    if (!target) {
      this.log({ at: startedAt, method: 'CONNECT', host: String(req.url).slice(0, 200), port: 0, path: '', status: 400, allowed: false, rule: 'malformed CONNECT target', masked: 0, durationMs: 0 });
      writeRawResponse(socket, 400, 'airut network sandbox: the CONNECT target must be host:port\n');
      return;
    }
    let secureContext: tls.SecureContext;
    try {
      secureContext = this.opts.ca.contextFor(target.host);
    } catch (err) {
      this.log({ at: startedAt, method: 'CONNECT', host: target.host, port: target.port, path: '', status: 502, allowed: false, rule: 'no certificate for the CONNECT target', masked: 0, durationMs: 0, error: (err as Error).message });
      writeRawResponse(socket, 502, `airut network sandbox: cannot terminate TLS for ${target.host}: ${(err as Error).message}\n`);
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const secure = new tls.TLSSocket(socket as net.Socket, { isServer: true, secureContext });
    this.track(secure);
    secure.on('error', () => secure.destroy());
    this.tunnels.set(secure, { host: target.host, port: target.port, scheme: 'https' });
    this.innerHttp.emit('connection', secure);
  }

  /** Guard + allowlist. On refusal the 4xx is already sent and logged. */
  private admit(
    req: http.IncomingMessage,
    startedAt: number,
    refuse: (status: number, body: string) => void,
  ): Admitted | null {
    const tunnel = this.tunnelOf(req);
    const method = req.method ?? 'GET';
    const guarded = guardRequest({ url: req.url ?? '', hostHeader: req.headers.host, tunnelHost: tunnel.host, defaultPort: tunnel.port, encrypted: tunnel.scheme === 'https' });
    if (!guarded.ok) {
      const host = (tunnel.host ?? parseHostHeader(req.headers.host ?? '', tunnel.port)?.host ?? '').toLowerCase();
      this.log({ at: startedAt, method, host, port: tunnel.port, path: pathOnly(req.url), status: guarded.status, allowed: false, rule: `refused: ${guarded.reason}`, masked: 0, durationMs: Date.now() - startedAt });
      refuse(guarded.status, blockedBody(`the request was refused: ${guarded.reason}.`, null));
      return null;
    }
    const { target } = guarded;
    const decision = decide(this.opts.allowlist, { host: target.host, path: target.path, method });
    if (!decision.allowed) {
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status: 403, allowed: false, rule: decision.rule, masked: 0, durationMs: Date.now() - startedAt });
      refuse(403, blockedBody(`${decision.rule}.`, { host: target.host, path: target.path, method, blockedBy: decision.blockedBy! }));
      return null;
    }
    return { target, tunnel, rule: decision.rule, ...(decision.graphql ? { graphql: decision.graphql } : {}) };
  }

  /**
   * Masked secrets are swapped in only when the request goes upstream inside TLS that this proxy
   * opened and verified (`https.request` with certificate checks on). A request on a plain
   * connection carries the surrogate, which is worth nothing to anyone who reads it on the way.
   */
  private async maskedHeaders(tunnel: TunnelInfo, target: RequestTarget, headers: HeaderMap): Promise<CredentialOutcome> {
    return tunnel.scheme === 'https' ? applyCredentials(this.opts.masks, target.host, headers) : { masked: 0, stripped: [] };
  }

  /**
   * Swaps credentials in (minting a GitHub App token may take a round trip) and strips foreign ones;
   * the rule gains the STRIPPED note. A credential that cannot be had (a failed mint) is the proxy's
   * own 502, logged, and null.
   */
  private async credentials(
    tunnel: TunnelInfo,
    target: RequestTarget,
    headers: HeaderMap,
    at: { startedAt: number; method: string; rule: string },
    refuse: (body: string) => void,
  ): Promise<{ masked: number; stripped?: number; rule: string } | null> {
    try {
      const cred = await this.maskedHeaders(tunnel, target, headers);
      const n = cred.stripped.length;
      return { masked: cred.masked, ...(n ? { stripped: n } : {}), rule: n ? `${at.rule}; ${strippedNote(cred.stripped)}` : at.rule };
    } catch (err) {
      const message = (err as Error).message;
      this.log({ at: at.startedAt, method: at.method, host: target.host, port: target.port, path: target.path, status: 502, allowed: true, rule: at.rule, masked: 0, durationMs: Date.now() - at.startedAt, error: message });
      refuse(`airut network sandbox: ${message}\n`);
      return null;
    }
  }

  /** The upstream request for an admitted one; every socket comes from the checking connector. */
  private upstreamRequest(tunnel: TunnelInfo, target: RequestTarget, method: string, headers: HeaderMap, upgrade: boolean): http.ClientRequest {
    const options: https.RequestOptions = {
      method,
      host: target.host,
      port: this.upstream.portFor(target.host, target.port),
      path: target.pathAndQuery,
      headers,
      timeout: this.opts.upstreamTimeoutMs ?? 300_000,
    };
    const secure = tunnel.scheme === 'https';
    // Upgraded connections leave the pool, so they get a connection of their own. (No `agent`
    // key at all: `agent: false` would make Node ignore `createConnection`.)
    const via: https.RequestOptions = upgrade
      ? { createConnection: this.upstream.createConnection(tunnel.scheme) as https.RequestOptions['createConnection'] }
      : { agent: secure ? this.upstream.httpsAgent : this.upstream.httpAgent };
    return secure ? https.request({ ...options, ...via }) : http.request({ ...options, ...via });
  }

  /** `handle` for a server callback: whatever it throws ends this request, never the runner thread. */
  private serve(req: http.IncomingMessage, res: http.ServerResponse, screened?: Screened): void {
    this.handle(req, res, screened).catch(() => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end('airut network sandbox: the request could not be forwarded\n');
        req.resume();
      }
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, screened?: Screened): Promise<void> {
    const startedAt = screened?.startedAt ?? Date.now();
    const method = req.method ?? 'GET';
    const admitted = screened?.admitted ?? this.admit(req, startedAt, (status, body) => sendBlocked(req, res, status, body));
    if (!admitted) return;
    if (admitted.graphql && !screened) {
      this.screenGraphql(req, res, admitted, admitted.graphql, startedAt);
      return;
    }
    const { target, tunnel } = admitted;
    const screenedRule = screened ? `${admitted.rule} [graphql-op: ${screened.tag}]` : admitted.rule;
    const headers = headerMap(req.headers, HOP_BY_HOP);
    if (screened && (screened.body.length > 0 || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
      headers['content-length'] = String(screened.body.length);
    }
    // The body as it arrived: read already when a GraphQL rule screened it.
    const source: Readable = screened ? Readable.from([screened.body]) : req;
    const cred = await this.credentials(tunnel, target, headers, { startedAt, method, rule: screenedRule }, (body) => {
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(body);
      req.resume();
    });
    if (!cred) return;
    const { rule } = cred;
    // SigV4 re-signing after the credentials, over the headers as they go out; like masks only
    // inside TLS this proxy verifies (src/proxy/sigv4-resign.ts).
    const signing = await resignSigV4(tunnel.scheme === 'https' ? (this.opts.signing ?? []) : [], { host: target.host, method, pathAndQuery: target.pathAndQuery, headers, body: source });
    const masked = cred.masked + (signing.signed ? 1 : 0);
    const stripped = cred.stripped === undefined ? {} : { stripped: cred.stripped };
    // After the await: its 'data' listener starts the body flowing, which is piped on in this same tick.
    const push = GitPushWatch.forRequest(method, target.path, source);

    let settled = false;
    const finish = (status: number, error?: string) => {
      if (settled) return;
      settled = true;
      const err = error ?? signing.error;
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status, allowed: true, rule, masked, ...stripped, signed: signing.signed ? 1 : 0, durationMs: Date.now() - startedAt, ...(err ? { error: err } : {}), ...push?.logFields() });
    };
    const fail = (message: string) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end(`airut network sandbox: could not reach ${target.host}:${target.port}: ${message}\n`);
        finish(502, message);
      } else {
        res.destroy();
        finish(res.statusCode, message);
      }
    };
    let upstream: http.ClientRequest;
    try {
      upstream = this.upstreamRequest(tunnel, { ...target, pathAndQuery: signing.pathAndQuery }, method, headers, false);
    } catch (err) {
      fail((err as Error).message);
      req.resume();
      return;
    }
    this.relayResponse(upstream, res, push, fail, finish);
    upstream.on('timeout', () => upstream.destroy(new Error('the upstream server did not answer in time')));
    upstream.on('error', (err) => fail(upstreamErrorMessage(err, target.host)));
    sendBody(upstream, req, source, signing, screened);
  }

  /** The upstream's answer to the client; a head the proxy cannot forward faithfully is its own 502. */
  private relayResponse(
    upstream: http.ClientRequest,
    res: http.ServerResponse,
    push: GitPushWatch | null,
    fail: (message: string) => void,
    finish: (status: number, error?: string) => void,
  ): void {
    upstream.on('response', (up) => {
      const out = headerPairs(up.rawHeaders).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase()));
      const problem = responseHeadProblem(up.statusCode, up.statusMessage, out);
      if (problem) {
        up.destroy();
        fail(`the upstream server sent a malformed response: ${problem}`);
        return;
      }
      try {
        res.writeHead(up.statusCode!, up.statusMessage, out.flat());
      } catch (err) {
        // Whatever Node's server refuses that the check above let through: still a 502, never a throw.
        up.destroy();
        fail(`the upstream server sent a response that cannot be forwarded: ${(err as Error).message}`);
        return;
      }
      up.pipe(res);
      push?.watchResponse(up);
      up.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
        finish(up.statusCode!, res.writableFinished ? undefined : 'the connection closed before the response ended');
      });
    });
  }

  /** Reads and checks the body of a request under a `graphql` rule, then refuses it or sends it on. */
  private screenGraphql(req: http.IncomingMessage, res: http.ServerResponse, admitted: Admitted, rule: GraphqlRule, startedAt: number): void {
    const { target } = admitted;
    void screenGraphqlRequest(req, target.pathAndQuery, rule).then((screen) => {
      if (screen.allowed) {
        this.serve(req, res, { admitted, startedAt, body: screen.body, tag: screen.tag });
        return;
      }
      const log = (status: number, tagged: string, error?: string) =>
        this.log({ at: startedAt, method: req.method ?? 'GET', host: target.host, port: target.port, path: target.path, status, allowed: false, rule: tagged, masked: 0, durationMs: Date.now() - startedAt, ...(error ? { error } : {}) });
      if ('aborted' in screen) {
        log(0, admitted.rule, 'the client closed the connection before its request body arrived');
        res.destroy();
        return;
      }
      const { verdict } = screen;
      log(403, `${admitted.rule} [graphql-op: ${verdict.tag ?? verdict.detail ?? 'refused'}] refused: ${verdict.reason ?? 'it could not be checked'}`);
      sendBlocked(req, res, 403, graphqlBlockedBody(verdict, admitted.rule));
    }).catch((err: unknown) => {
      // Fail-secure, and never an unhandled rejection in the runner thread.
      const reason = `the GraphQL check failed: ${(err as Error)?.message ?? String(err)}`.slice(0, 300);
      this.log({ at: startedAt, method: req.method ?? 'GET', host: target.host, port: target.port, path: target.path, status: 403, allowed: false, rule: `${admitted.rule} refused: ${reason}`, masked: 0, durationMs: Date.now() - startedAt });
      if (!res.headersSent) sendBlocked(req, res, 403, graphqlBlockedBody({ allowed: false, detail: '<unparseable>', reason }, admitted.rule));
      else res.destroy();
    });
  }

  /**
   * WebSocket, h2c and other upgrades: judged like any request; see `relayUpgrade` for why nothing
   * else the client sent reaches the upstream before it has switched protocols.
   */
  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // First: Node's server no longer handles this socket's errors (see handleConnect).
    socket.on('error', () => socket.destroy());
    this.upgrade(req, socket, head).catch(() => socket.destroy());
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const startedAt = Date.now();
    const method = req.method ?? 'GET';
    const blocked: Array<[string, string]> = [['X-Airut-Blocked', '1']];
    const admitted = this.admit(req, startedAt, (status, body) => writeRawResponse(socket, status, body, blocked));
    if (!admitted) return;
    const { target, tunnel } = admitted;
    if (admitted.graphql) {
      // What a WebSocket carries after the switch (graphql-ws subscriptions) cannot be checked.
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status: 403, allowed: false, rule: `${admitted.rule} refused: an upgrade under a graphql rule cannot be checked`, masked: 0, durationMs: Date.now() - startedAt });
      writeRawResponse(socket, 403, `Blocked by the airut network sandbox: ${admitted.rule} checks GraphQL operations, and what a WebSocket or other upgraded connection carries cannot be checked. Send each operation as an HTTP request.\n`, blocked);
      return;
    }
    const headers = headerMap(req.headers, new Set(['proxy-connection', 'proxy-authorization']));
    const cred = await this.credentials(tunnel, target, headers, { startedAt, method, rule: admitted.rule }, (body) => writeRawResponse(socket, 502, body));
    if (!cred) return;
    const { rule, masked } = cred;
    const stripped = cred.stripped === undefined ? {} : { stripped: cred.stripped };
    const log = (status: number, error?: string) =>
      this.log({ at: startedAt, method, host: target.host, port: target.port, path: target.path, status, allowed: true, rule, masked, ...stripped, durationMs: Date.now() - startedAt, ...(error ? { error } : {}) });
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) {
      // Its body would be indistinguishable from the bytes held back until the switch.
      log(400, 'upgrade request with a body');
      writeRawResponse(socket, 400, 'airut network sandbox: an upgrade request must not have a body.\n');
      return;
    }
    let upstream: http.ClientRequest;
    try {
      upstream = this.upstreamRequest(tunnel, target, method, headers, true);
    } catch (err) {
      log(502, (err as Error).message);
      writeRawResponse(socket, 502, `airut network sandbox: could not reach ${target.host}:${target.port}: ${(err as Error).message}\n`);
      return;
    }
    relayUpgrade({
      client: socket,
      clientHead: head,
      upstream,
      track: (s) => this.track(s),
      done: log,
      describeError: (err) => `could not reach ${target.host}:${target.port}: ${upstreamErrorMessage(err, target.host)}`,
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

function sendBlocked(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-airut-blocked': '1', connection: 'close' });
  res.end(body);
  req.resume();
}

/** The request body upstream: re-signed chunks as they stream, re-signed or screened bytes, or the client's own stream. */
function sendBody(upstream: http.ClientRequest, req: http.IncomingMessage, source: Readable, signing: ResignResult, screened?: Screened): void {
  if (signing.bytes) upstream.end(signing.bytes);
  else if (signing.body) {
    signing.body.on('error', (err) => upstream.destroy(new Error(`${err.message}; the request was cut`)));
    source.pipe(signing.body).pipe(upstream);
  } else if (screened) upstream.end(screened.body);
  else req.pipe(upstream);
  req.on('error', () => upstream.destroy());
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
