/**
 * GitHub App installation tokens for the sandbox proxy (Airut's spec/github-app-credential.md).
 * The container holds only a surrogate; the proxy swaps in a real installation token, minted here:
 *
 *   1. a JWT signed RS256 with the app's private key (iss = app_id, iat = now - 60 s against clock
 *      skew, exp = now + 9 min, under GitHub's 10-minute limit), with `jose`;
 *   2. `POST {base_url}/app/installations/{id}/access_tokens` with the configured `permissions`
 *      and `repositories`, sent from the daemon directly (never through a task's proxy).
 *
 * A token is reused until 5 minutes before its `expires_at`, then minted again; concurrent requests
 * share one mint. Failures are not cached (the app may be reinstated): the next request tries
 * again. Every minted token is registered for log redaction; neither the key, the JWT nor a token
 * is ever put in an error message.
 */
import { createPrivateKey } from 'node:crypto';
import https from 'node:https';
import { importPKCS8, SignJWT } from 'jose';
import type { GithubAppCredential } from '../config/types.ts';
import { AirutError } from '../errors.ts';
import { registerSecretValues, type Logger } from '../log/logger.ts';
import { randomToken, type MaskRule } from './masked-secrets.ts';

/** Reuse a token until this long before its expiry. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export class GithubAppTokenError extends AirutError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GITHUB_APP_TOKEN_FAILED', message, options);
  }
}

export interface GithubAppTokenOptions {
  /** Extra CAs for the token endpoint (tests); the daemon relies on Node's roots and NODE_EXTRA_CA_CERTS. */
  readonly ca?: readonly string[];
  /** Clock in ms (tests). */
  readonly now?: () => number;
  /** Per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** The task's log: one line per mint and per failed mint (never a token or the key). */
  readonly log?: Pick<Logger, 'info' | 'warn'>;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

export class GithubAppTokens {
  private cached: CachedToken | null = null;
  private inFlight: Promise<string> | null = null;
  private readonly now: () => number;

  /** `configPath` names the entry in messages, e.g. `repos.app.github_app_credentials.GH_TOKEN`. */
  constructor(
    private readonly configPath: string,
    private readonly credential: GithubAppCredential,
    private readonly opts: GithubAppTokenOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** A current installation token, minted when there is none or it expires within 5 minutes. */
  token(): Promise<string> {
    if (this.cached && this.now() < this.cached.expiresAt - REFRESH_MARGIN_MS) return Promise.resolve(this.cached.token);
    this.inFlight ??= this.mint()
      .then(
        (token) => {
          this.opts.log?.info({ credential: this.configPath, expiresAt: new Date(this.cached!.expiresAt).toISOString() }, 'minted a GitHub App installation token');
          return token;
        },
        (err: Error) => {
          this.opts.log?.warn({ credential: this.configPath, err: err.message }, 'could not mint a GitHub App installation token; the request got a 502');
          throw err;
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  private async mint(): Promise<string> {
    const jwt = await this.appJwt();
    const { status, body } = await this.post(jwt);
    if (status !== 201 && status !== 200) {
      throw new GithubAppTokenError(`${this.what()}: GitHub answered ${status}${githubMessage(body)}; ${statusAdvice(status, this.configPath)}`);
    }
    const parsed = parseTokenResponse(body);
    if (!parsed) throw new GithubAppTokenError(`${this.what()}: the answer had no token and expires_at`);
    registerSecretValues([parsed.token]);
    this.cached = parsed;
    return parsed.token;
  }

  private what(): string {
    return `minting a GitHub App installation token for ${this.configPath} at ${this.credential.baseUrl} failed`;
  }

  private async appJwt(): Promise<string> {
    let key: Awaited<ReturnType<typeof importPKCS8>>;
    try {
      // jose reads PKCS#8; node:crypto reads PKCS#1 too and converts it.
      const pkcs8 = createPrivateKey(this.credential.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
      key = await importPKCS8(pkcs8, 'RS256');
    } catch (err) {
      throw new GithubAppTokenError(`${this.configPath}.private_key is not a PEM RSA private key (PKCS#1 or PKCS#8) that can sign RS256`, { cause: err });
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.credential.appId)
      .setIssuedAt(nowSeconds - 60)
      .setExpirationTime(nowSeconds + 9 * 60)
      .sign(key);
  }

  private post(jwt: string): Promise<{ status: number; body: string }> {
    const c = this.credential;
    const url = new URL(`${c.baseUrl}/app/installations/${encodeURIComponent(c.installationId)}/access_tokens`);
    const payload = JSON.stringify({ ...(c.permissions ? { permissions: c.permissions } : {}), ...(c.repositories ? { repositories: c.repositories } : {}) });
    return new Promise((resolve, reject) => {
      const req = https.request(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${jwt}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'user-agent': 'airut-ts',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: this.opts.timeoutMs ?? 30_000,
        ...(this.opts.ca ? { ca: [...this.opts.ca] } : {}),
      });
      req.on('timeout', () => req.destroy(new Error('no answer in time')));
      req.on('error', (err) => reject(new GithubAppTokenError(`${this.what()}: ${err.message}`, { cause: err })));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) res.destroy(new Error('the answer was too large'));
          else chunks.push(chunk);
        });
        res.on('error', (err) => reject(new GithubAppTokenError(`${this.what()}: ${err.message}`, { cause: err })));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(payload);
    });
  }
}

function parseTokenResponse(body: string): CachedToken | null {
  try {
    const json = JSON.parse(body) as { token?: unknown; expires_at?: unknown };
    const expiresAt = typeof json.expires_at === 'string' ? Date.parse(json.expires_at) : NaN;
    if (typeof json.token !== 'string' || json.token === '' || Number.isNaN(expiresAt)) return null;
    return { token: json.token, expiresAt };
  } catch {
    return null;
  }
}

/** GitHub's own `message` (short, no secrets: it describes the request, not the key). */
function githubMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === 'string' && m ? ` (${m.slice(0, 200)})` : '';
  } catch {
    return '';
  }
}

function statusAdvice(status: number, configPath: string): string {
  if (status === 401) return `check ${configPath}.app_id and ${configPath}.private_key (the JWT was refused)`;
  if (status === 404) return `check ${configPath}.installation_id and that the app is installed`;
  if (status === 403 || status === 422) return `check ${configPath}.permissions and ${configPath}.repositories against what the installation grants`;
  return 'GitHub may be unavailable; the next request tries again';
}

/**
 * One rule per GitHub App credential: a `ghs_` + 36 surrogate, stable for the task while the real
 * token behind it rotates, swapped only into `Authorization` (Bearer, `token`, or git's Basic).
 */
export function buildGithubAppRules(
  repoId: string,
  credentials: Readonly<Record<string, GithubAppCredential>>,
  opts: GithubAppTokenOptions = {},
): MaskRule[] {
  return Object.entries(credentials).map(([name, c]) => {
    const tokens = new GithubAppTokens(`repos.${repoId}.github_app_credentials.${name}`, c, opts);
    return {
      name,
      surrogate: randomToken('ghs_', 36),
      scopes: c.scopes.map((s) => s.toLowerCase()),
      headers: ['authorization'],
      allowForeign: c.allowForeignCredentials,
      realValue: () => tokens.token(),
    };
  });
}
