/**
 * A local OAuth2 token server (plain HTTP on 127.0.0.1) standing in for the providers' token endpoints and for the
 * introspection endpoint Dovecot's `oauth2` passdb calls:
 *   - Microsoft identity platform: `POST /<tenant>/oauth2/v2.0/token`, grant_type=client_credentials.
 *   - Google and generic providers: `POST /token`, grant_type=refresh_token.
 *   - RFC 7662 introspection: `POST /introspect`, form `token=...`.
 * Errors come in the providers' real shapes, so the daemon's error handling meets what production sends. Tokens are
 * opaque random strings; the server remembers which mailbox each one logs in as and until when.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A registered OAuth2 client. With `tenant` it is a Microsoft app (client credentials), else a refresh-token one. */
export interface OAuthClient {
  /** Microsoft tenant (id or domain). Only Microsoft-shaped requests for this tenant reach the client. */
  tenant?: string;
  clientId: string;
  clientSecret: string;
  /** The refresh token the client presents on `POST /token` (Google/generic shape). */
  refreshToken?: string;
  /** The user (Dovecot / SMTP login) that tokens issued to this client log in as. */
  mailbox: string;
}

/** How the client presented its credentials on a token request. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** One token request, as the server saw it (no secrets kept). */
export interface TokenRequestRecord {
  /** `microsoft` for `/<tenant>/oauth2/v2.0/token`, `generic` for `/token`. */
  endpoint: 'microsoft' | 'generic';
  tenant: string | undefined;
  clientId: string | undefined;
  grantType: string | undefined;
  scope: string | undefined;
  authMethod: ClientAuthMethod;
  /** The HTTP status answered. */
  status: number;
}

/** A canned answer for failNext(). */
export interface CannedFailure {
  status: number;
  /** JSON-serialised unless a string. */
  body: unknown;
}

export interface OAuthServer {
  /** Base URL, e.g. `http://127.0.0.1:12345`. */
  readonly url: string;
  /** The generic / Google-shaped token endpoint (`<url>/token`). */
  readonly tokenUrl: string;
  /** The RFC 7662 introspection endpoint (`<url>/introspect`), for Dovecot's `introspection_url`. */
  readonly introspectionUrl: string;
  /** Microsoft's token endpoint shape for a tenant (`<url>/<tenant>/oauth2/v2.0/token`). */
  microsoftTokenUrl(tenant: string): string;
  /** Lifetime of tokens issued from now on (`expires_in`); default 3600. */
  tokenLifetimeSeconds: number;
  /** Registers a client; tokens issued to it log in as `mailbox`. Replaces a client with the same id. */
  addClient(client: OAuthClient): void;
  /** From now on the client's grant fails (Google: revoked refresh token; Microsoft: disabled application). */
  revoke(clientId: string): void;
  /** The next `n` token requests (any client) get this answer instead of a token. */
  failNext(n: number, failure: CannedFailure): void;
  /** Every token issued so far becomes inactive (introspection says `active: false`, checkToken() null). */
  expireAll(): void;
  /** The mailbox a live token logs in as, or null (unknown, expired, or expired by expireAll()). */
  checkToken(token: string): string | null;
  /** Token requests per client id (successful or not), for asserting caching and refresh. */
  tokenRequestCount(clientId: string): number;
  /** Every token request so far, oldest first. */
  readonly tokenRequests: readonly TokenRequestRecord[];
  /**
   * Resolves with the first token request (from the start, not only after the call) that matches, once answered;
   * rejects after `timeoutMs`. Lets a test wait for a refresh instead of sleeping.
   */
  waitForTokenRequest(match?: (r: TokenRequestRecord) => boolean, timeoutMs?: number): Promise<TokenRequestRecord>;
  /** How many introspection calls were answered (active or not). */
  readonly introspectionCount: number;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';

interface IssuedToken {
  mailbox: string;
  clientId: string;
  expiresAt: number;
  scope: string;
}

interface Reply {
  status: number;
  body: unknown;
}

/** Microsoft identity platform error body (AADSTS codes), as login.microsoftonline.com sends it. */
function microsoftError(status: number, error: string, code: number, description: string): Reply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** Google's token endpoint error body (oauth2.googleapis.com/token). */
function googleError(status: number, error: string, description: string): Reply {
  return { status, body: { error, error_description: description } };
}

interface ParsedRequest {
  form: URLSearchParams;
  basic: { clientId: string; clientSecret: string } | undefined;
}

/** client_secret_basic: `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function parseBasic(header: string | undefined): ParsedRequest['basic'] {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const unescape = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
  return { clientId: unescape(decoded.slice(0, colon)), clientSecret: unescape(decoded.slice(colon + 1)) };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

class TokenServer {
  /** Emits 'answered' with each TokenRequestRecord once its status is set. */
  readonly events = new EventEmitter();
  tokenLifetimeSeconds = 3600;
  readonly clients = new Map<string, OAuthClient>();
  readonly revoked = new Set<string>();
  readonly tokens = new Map<string, IssuedToken>();
  readonly requests: TokenRequestRecord[] = [];
  introspections = 0;
  private failures: { remaining: number; failure: CannedFailure } | undefined;

  failNext(n: number, failure: CannedFailure): void {
    this.failures = n > 0 ? { remaining: n, failure } : undefined;
  }

  private takeFailure(): Reply | undefined {
    if (this.failures === undefined) return undefined;
    const { failure } = this.failures;
    if (--this.failures.remaining <= 0) this.failures = undefined;
    return failure;
  }

  waitForTokenRequest(match: (r: TokenRequestRecord) => boolean, timeoutMs: number): Promise<TokenRequestRecord> {
    const done = this.requests.find((r) => r.status !== 0 && match(r));
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const listener = (r: TokenRequestRecord): void => {
        if (!match(r)) return;
        clearTimeout(timer);
        this.events.off('answered', listener);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.events.off('answered', listener);
        const seen = this.requests.map((r) => `${r.endpoint} ${r.clientId ?? '?'} ${r.status}`).join('; ') || 'none';
        reject(new Error(`oauth server: no matching token request within ${timeoutMs} ms (requests so far: ${seen})`));
      }, timeoutMs);
      this.events.on('answered', listener);
    });
  }

  checkToken(token: string): string | null {
    const issued = this.tokens.get(token);
    if (issued === undefined || issued.expiresAt <= Date.now()) return null;
    return issued.mailbox;
  }

  expireAll(): void {
    for (const issued of this.tokens.values()) issued.expiresAt = 0;
  }

  private issue(client: OAuthClient, scope: string): Reply {
    const token = `at-${randomBytes(24).toString('base64url')}`;
    const expiresIn = this.tokenLifetimeSeconds;
    this.tokens.set(token, { mailbox: client.mailbox, clientId: client.clientId, expiresAt: Date.now() + expiresIn * 1000, scope });
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...(scope ? { scope } : {}) } };
  }

  /** Which client the request names and how it authenticated; a secret sent both ways is an error (RFC 6749 §2.3). */
  private credentials(req: ParsedRequest): { clientId?: string; clientSecret?: string; method: ClientAuthMethod; both: boolean } {
    const postSecret = req.form.get('client_secret') ?? undefined;
    if (req.basic !== undefined) {
      return { ...req.basic, method: 'client_secret_basic', both: postSecret !== undefined };
    }
    const clientId = req.form.get('client_id') ?? undefined;
    return { clientId, clientSecret: postSecret, method: postSecret === undefined ? 'none' : 'client_secret_post', both: false };
  }

  microsoftToken(tenant: string, req: ParsedRequest): Reply {
    const creds = this.credentials(req);
    const record = this.record('microsoft', tenant, creds.clientId, creds.method, req.form);
    const reply = this.microsoftReply(tenant, req.form, creds);
    record.status = reply.status;
    this.events.emit('answered', record);
    return reply;
  }

  private microsoftReply(tenant: string, form: URLSearchParams, creds: ReturnType<TokenServer['credentials']>): Reply {
    const failure = this.takeFailure();
    if (failure) return failure;
    const grantType = form.get('grant_type');
    if (grantType !== 'client_credentials') {
      return microsoftError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType ?? ''}'.`);
    }
    const tenantKnown = [...this.clients.values()].some((c) => c.tenant === tenant);
    if (!tenantKnown) {
      return microsoftError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    const client = creds.clientId === undefined ? undefined : this.clients.get(creds.clientId);
    if (client === undefined || client.tenant !== tenant) {
      return microsoftError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${creds.clientId ?? ''}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    if (creds.both) return microsoftError(401, 'invalid_client', 7000218, 'The request body must contain the following parameter: \'client_assertion\' or \'client_secret\'.');
    if (creds.clientSecret !== client.clientSecret) {
      return microsoftError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
      );
    }
    if (this.revoked.has(client.clientId)) {
      return microsoftError(400, 'unauthorized_client', 7000112, `Application '${client.clientId}'(airut test app) is disabled.`);
    }
    const scope = form.get('scope') ?? '';
    if (scope !== EXCHANGE_SCOPE) {
      return microsoftError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    return this.issue(client, scope);
  }

  genericToken(req: ParsedRequest): Reply {
    const creds = this.credentials(req);
    const record = this.record('generic', undefined, creds.clientId, creds.method, req.form);
    const reply = this.genericReply(req.form, creds);
    record.status = reply.status;
    this.events.emit('answered', record);
    return reply;
  }

  private genericReply(form: URLSearchParams, creds: ReturnType<TokenServer['credentials']>): Reply {
    const failure = this.takeFailure();
    if (failure) return failure;
    const grantType = form.get('grant_type');
    if (grantType !== 'refresh_token') return googleError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    const client = creds.clientId === undefined ? undefined : this.clients.get(creds.clientId);
    if (client === undefined || client.tenant !== undefined) return googleError(401, 'invalid_client', 'The OAuth client was not found.');
    if (creds.both || creds.clientSecret !== client.clientSecret) return googleError(401, 'invalid_client', 'Unauthorized');
    const refreshToken = form.get('refresh_token');
    if (refreshToken === null || refreshToken === '') return googleError(400, 'invalid_request', 'Missing required parameter: refresh_token');
    if (refreshToken !== client.refreshToken || this.revoked.has(client.clientId)) {
      return googleError(400, 'invalid_grant', 'Token has been expired or revoked.');
    }
    return this.issue(client, form.get('scope') ?? '');
  }

  introspect(form: URLSearchParams): Reply {
    this.introspections++;
    const token = form.get('token') ?? '';
    const issued = this.tokens.get(token);
    if (issued === undefined || issued.expiresAt <= Date.now()) return { status: 200, body: { active: false } };
    return {
      status: 200,
      body: {
        active: true,
        username: issued.mailbox,
        client_id: issued.clientId,
        token_type: 'Bearer',
        scope: issued.scope,
        exp: Math.floor(issued.expiresAt / 1000),
      },
    };
  }

  private record(
    endpoint: TokenRequestRecord['endpoint'],
    tenant: string | undefined,
    clientId: string | undefined,
    authMethod: ClientAuthMethod,
    form: URLSearchParams,
  ): TokenRequestRecord {
    const record: TokenRequestRecord = {
      endpoint,
      tenant,
      clientId,
      grantType: form.get('grant_type') ?? undefined,
      scope: form.get('scope') ?? undefined,
      authMethod,
      status: 0,
    };
    this.requests.push(record);
    return record;
  }
}

const MICROSOFT_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;

function send(res: http.ServerResponse, reply: Reply): void {
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    // RFC 6749 §5.1: token responses must not be cached.
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(text);
}

async function route(state: TokenServer, req: http.IncomingMessage): Promise<Reply> {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  const ms = MICROSOFT_PATH.exec(pathname);
  const handler: ((r: ParsedRequest) => Reply) | undefined =
    pathname === '/introspect'
      ? (r) => state.introspect(r.form)
      : pathname === '/token'
        ? (r) => state.genericToken(r)
        : ms
          ? (r) => state.microsoftToken(decodeURIComponent(ms[1]!), r)
          : undefined;
  if (handler === undefined) return { status: 404, body: { error: 'not_found', error_description: `no endpoint ${pathname}` } };
  if (req.method !== 'POST') return { status: 405, body: { error: 'invalid_request', error_description: 'POST only' } };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const raw = await readBody(req);
  if (type !== 'application/x-www-form-urlencoded') {
    return { status: 400, body: { error: 'invalid_request', error_description: `Content-Type must be application/x-www-form-urlencoded, not ${type || 'missing'}` } };
  }
  return handler({ form: new URLSearchParams(raw), basic: parseBasic(req.headers.authorization) });
}

function checkClient(client: OAuthClient): void {
  for (const key of ['clientId', 'clientSecret', 'mailbox'] as const) {
    if (typeof client[key] !== 'string' || client[key] === '') throw new Error(`oauth server: addClient needs a non-empty ${key}`);
  }
  if (client.tenant === undefined && !client.refreshToken) {
    throw new Error(`oauth server: client ${client.clientId} needs a tenant (Microsoft) or a refreshToken (Google/generic)`);
  }
}

/** Starts the token server on a free port of 127.0.0.1. */
export async function startOAuthServer(): Promise<OAuthServer> {
  const state = new TokenServer();
  const server = http.createServer((req, res) => {
    route(state, req).then(
      (reply) => send(res, reply),
      (err: unknown) => send(res, { status: 500, body: { error: 'server_error', error_description: String(err) } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://${HOST}:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    tokenUrl: `${url}/token`,
    introspectionUrl: `${url}/introspect`,
    microsoftTokenUrl: (tenant) => `${url}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`,
    get tokenLifetimeSeconds() {
      return state.tokenLifetimeSeconds;
    },
    set tokenLifetimeSeconds(value: number) {
      state.tokenLifetimeSeconds = value;
    },
    addClient: (client) => {
      checkClient(client);
      state.clients.set(client.clientId, { ...client });
    },
    revoke: (clientId) => void state.revoked.add(clientId),
    failNext: (n, failure) => state.failNext(n, failure),
    expireAll: () => state.expireAll(),
    checkToken: (token) => state.checkToken(token),
    tokenRequestCount: (clientId) => state.requests.filter((r) => r.clientId === clientId).length,
    tokenRequests: state.requests,
    waitForTokenRequest: (match = () => true, timeoutMs = 10_000) => state.waitForTokenRequest(match, timeoutMs),
    get introspectionCount() {
      return state.introspections;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
