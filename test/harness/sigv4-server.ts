/**
 * A small S3-style server over TLS that accepts only requests signed with the REAL AWS keys: it
 * recomputes every signature over the request it received with the AWS SDK's signer
 * (@smithy/signature-v4) and compares — Authorization headers, presigned query strings, and each
 * chunk signature of an aws-chunked body (parsed here on its own, not with the proxy's code). A
 * declared payload hash must match the body. PUT stores the (decoded) body under its path, GET
 * returns it; a bad signature is a 403 `SignatureDoesNotMatch`, like S3.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import type net from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Sigv4ServerOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, every request must carry exactly this token. */
  readonly sessionToken?: string;
  readonly tls: { readonly key: string; readonly cert: string };
}

export interface Sigv4Verdict {
  readonly method: string;
  readonly path: string;
  readonly kind: 'header' | 'presigned' | 'none';
  readonly ok: boolean;
  readonly reason: string;
  /** aws-chunked chunks whose signatures were verified (final chunk included). */
  readonly chunks: number;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');
const PRESIGN = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'];
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

class Refused extends Error {}

interface Scope {
  keyId: string;
  date: string;
  region: string;
  service: string;
}

function parseScope(credential: string): Scope {
  const [keyId, date, region, service, term] = credential.split('/');
  if (!keyId || !date || !region || !service || term !== 'aws4_request') throw new Refused(`malformed credential ${credential}`);
  return { keyId, date, region, service };
}

function query(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const pair of raw.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const k = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    const v = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export class Sigv4Server {
  readonly verdicts: Sigv4Verdict[] = [];
  readonly objects = new Map<string, Buffer>();
  private constructor(
    private readonly opts: Sigv4ServerOptions,
    private readonly server: https.Server,
  ) {}

  static async start(opts: Sigv4ServerOptions, host = '127.0.0.1'): Promise<Sigv4Server> {
    const server = https.createServer(opts.tls);
    const s = new Sigv4Server(opts, server);
    server.on('request', (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => void s.answer(req, Buffer.concat(parts), res));
    });
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private signer(scope: Scope, withToken: boolean): SignatureV4 {
    if (scope.keyId !== this.opts.accessKeyId) throw new Refused(`unknown access key id ${scope.keyId}`);
    return new SignatureV4({
      credentials: { accessKeyId: this.opts.accessKeyId, secretAccessKey: this.opts.secretAccessKey, ...(withToken && this.opts.sessionToken ? { sessionToken: this.opts.sessionToken } : {}) },
      region: scope.region,
      service: scope.service,
      sha256: Sha256,
      uriEscapePath: scope.service !== 's3',
      applyChecksum: false,
    });
  }

  private checkToken(token: string | undefined): void {
    if (this.opts.sessionToken === undefined) return;
    if (token !== this.opts.sessionToken) throw new Refused(token === undefined ? 'no session token' : 'wrong session token');
  }

  private async answer(req: import('node:http').IncomingMessage, body: Buffer, res: import('node:http').ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    let kind: Sigv4Verdict['kind'] = 'none';
    let chunks = 0;
    try {
      const qs = query(q === -1 ? '' : url.slice(q + 1));
      let stored = body;
      if (typeof req.headers.authorization === 'string') {
        kind = 'header';
        ({ body: stored, chunks } = await this.verifyHeader(req, method, path, qs, body));
      } else if (qs['X-Amz-Signature'] !== undefined) {
        kind = 'presigned';
        await this.verifyPresigned(req, method, path, qs);
      } else throw new Refused('the request is not signed');
      this.verdicts.push({ method, path, kind, ok: true, reason: 'signature verified', chunks });
      if (method === 'PUT') {
        this.objects.set(path, stored);
        res.writeHead(200, { etag: `"${sha256(stored).slice(0, 32)}"` }).end();
      } else {
        const obj = this.objects.get(path);
        if (obj) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(obj);
        else res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      }
    } catch (err) {
      const reason = err instanceof Refused ? err.message : `error: ${(err as Error).message}`;
      this.verdicts.push({ method, path, kind, ok: false, reason, chunks });
      res.writeHead(403, { 'content-type': 'application/xml' }).end(`<Error><Code>SignatureDoesNotMatch</Code><Message>${reason}</Message></Error>`);
    }
  }

  private async verifyHeader(req: import('node:http').IncomingMessage, method: string, path: string, qs: Record<string, string | string[]>, body: Buffer): Promise<{ body: Buffer; chunks: number }> {
    const auth = String(req.headers.authorization);
    const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) throw new Refused('malformed Authorization');
    const scope = parseScope(m[1]!);
    const signedHeaders = m[2]!.split(';');
    const signer = this.signer(scope, false);
    this.checkToken(req.headers['x-amz-security-token'] as string | undefined);
    const declared = req.headers['x-amz-content-sha256'] as string | undefined;
    const payload = declared ?? sha256(body);
    if (declared && /^[0-9a-f]{64}$/.test(declared) && declared !== sha256(body)) throw new Refused('x-amz-content-sha256 does not match the body');
    const headers: Record<string, string> = { 'x-amz-content-sha256': payload };
    for (const h of signedHeaders) headers[h] = String(req.headers[h] ?? '');
    const date = String(req.headers['x-amz-date']);
    const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const expected = await signer.sign({ method, protocol: 'https:', hostname: String(req.headers.host), path, query: qs, headers }, {
      signingDate,
      signableHeaders: new Set(signedHeaders),
      // The payload hash is read from this header; it is a canonical header only when the client signed it.
      ...(signedHeaders.includes('x-amz-content-sha256') ? {} : { unsignableHeaders: new Set(['x-amz-content-sha256']) }),
    });
    if (!String(expected.headers['authorization']).endsWith(`Signature=${m[3]}`)) throw new Refused('the signature does not match');
    if (!declared?.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) return { body, chunks: 0 };
    const sign = (s: string) => signer.sign(s, { signingDate });
    return this.verifyChunks(body, `${scope.date}/${scope.region}/${scope.service}/aws4_request`, date, m[3]!, sign);
  }

  /** Walks the whole aws-chunked body, checking every signature in the chain. */
  private async verifyChunks(raw: Buffer, scope: string, date: string, seed: string, sign: (s: string) => Promise<string>): Promise<{ body: Buffer; chunks: number }> {
    let at = 0;
    let previous = seed;
    let chunks = 0;
    const data: Buffer[] = [];
    for (;;) {
      const end = raw.indexOf('\r\n', at);
      const header = /^([0-9a-f]+);chunk-signature=([0-9a-f]{64})$/i.exec(raw.toString('latin1', at, end));
      if (end === -1 || !header) throw new Refused(`malformed aws-chunked body at byte ${at}`);
      const size = parseInt(header[1]!, 16);
      const chunk = raw.subarray(end + 2, end + 2 + size);
      const expected = await sign(['AWS4-HMAC-SHA256-PAYLOAD', date, scope, previous, EMPTY_SHA256, sha256(chunk)].join('\n'));
      if (expected !== header[2]) throw new Refused(`chunk ${chunks} has a wrong signature`);
      previous = expected;
      chunks++;
      data.push(chunk);
      at = end + 2 + size + (size > 0 ? 2 : 0);
      if (size === 0) break;
    }
    const rest = raw.toString('latin1', at);
    const trailer = /^([\s\S]*?)x-amz-trailer-signature:([0-9a-f]{64})\r\n\r\n$/.exec(rest);
    if (trailer) {
      const lines = trailer[1]!.split('\r\n').filter(Boolean).map((l) => `${l.trim()}\n`).join('');
      const expected = await sign(['AWS4-HMAC-SHA256-TRAILER', date, scope, previous, sha256(lines)].join('\n'));
      if (expected !== trailer[2]) throw new Refused('the trailer has a wrong signature');
    } else if (rest !== '\r\n') throw new Refused('the aws-chunked body does not end as it should');
    return { body: Buffer.concat(data), chunks };
  }

  private async verifyPresigned(req: import('node:http').IncomingMessage, method: string, path: string, qs: Record<string, string | string[]>): Promise<void> {
    const get = (k: string) => (Array.isArray(qs[k]) ? qs[k][0] : qs[k]) as string | undefined;
    const scope = parseScope(get('X-Amz-Credential') ?? '');
    this.checkToken(get('X-Amz-Security-Token'));
    const signedHeaders = (get('X-Amz-SignedHeaders') ?? '').split(';');
    const headers: Record<string, string> = {};
    for (const h of signedHeaders) headers[h] = String(req.headers[h] ?? '');
    const rest = Object.fromEntries(Object.entries(qs).filter(([k]) => !PRESIGN.includes(k)));
    const date = get('X-Amz-Date') ?? '';
    const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const signer = this.signer(scope, get('X-Amz-Security-Token') !== undefined);
    const expected = await signer.presign(
      { method, protocol: 'https:', hostname: String(req.headers.host), path, query: rest, headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { signingDate, expiresIn: Number(get('X-Amz-Expires')), signableHeaders: new Set(signedHeaders), unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set(['x-amz-content-sha256', ...signedHeaders]) },
    );
    if (expected.query?.['X-Amz-Signature'] !== get('X-Amz-Signature')) throw new Refused('the presigned signature does not match');
  }
}
