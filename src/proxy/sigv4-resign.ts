/**
 * AWS SigV4 re-signing for `signing_credentials` (Airut's spec/aws-sigv4-resigning.md). A request
 * to a host in a credential's scopes whose `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/…`
 * (or presigned `X-Amz-Credential`) names this task's surrogate key id is signed again with the
 * real keys: same date, region, service and signed headers as the client chose, the payload hash
 * taken from `x-amz-content-sha256` without reading the body, the surrogate session token swapped
 * for the real one. Nothing of the surrogate signature is checked: it is simply replaced.
 *
 * The signing itself is the AWS SDK's own implementation (@smithy/signature-v4). Requests this
 * cannot sign faithfully go out as they came, with the surrogate signature the upstream rejects:
 * failing closed, and the reason is reported for the network log. A key id that is not this task's
 * surrogate is left alone (Airut's semantics): it is no credential of ours, so there is nothing to
 * swap and nothing of ours to leak.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { createHash } from 'node:crypto';
import type { Readable, Transform } from 'node:stream';
import { hostMatches } from './allowlist.ts';
import { AwsChunkResigner } from './sigv4-chunks.ts';
import type { SigningRule } from './sigv4-surrogates.ts';
import { awsPathForS3, parseQuery, serializeQuery, type QueryMap } from './sigv4-uri.ts';

type HeaderMap = Record<string, string | string[] | undefined>;

export interface ResignInput {
  /** Lower-case host the request goes to. */
  readonly host: string;
  readonly method: string;
  readonly pathAndQuery: string;
  /** Lower-case names; modified in place when the request is signed again. */
  readonly headers: HeaderMap;
  /**
   * The request body, read only for a request that signs its body without saying its hash in
   * `x-amz-content-sha256` (non-S3 SDKs, curl): then the signature needs SHA-256 of the body.
   */
  readonly body?: Readable;
}

export interface ResignResult {
  /** The request now carries a signature made with the real keys. */
  readonly signed: boolean;
  /** The path and query to send (a presigned URL's query changes). */
  readonly pathAndQuery: string;
  /** Re-signs an aws-chunked body on its way; null when the body goes unchanged. */
  readonly body: Transform | null;
  /** The whole body, already read from `input.body` to hash it: send this instead. */
  readonly bytes: Buffer | null;
  /** Why a request with this task's surrogate could not be signed again (it goes out unchanged). */
  readonly error: string | null;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'];
const CHUNKED_SIGNED = new Set(['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']);

class ResignError extends Error {}

interface Credential {
  readonly keyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

/** `<key id>/<yyyymmdd>/<region>/<service>/aws4_request`. */
function parseCredential(value: string): Credential | null {
  const m = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(value);
  return m ? { keyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]! } : null;
}

/** `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, or null for anything else. */
export function parseAuthorization(value: string): { credential: Credential; signedHeaders: string[] } | null {
  if (!value.startsWith(`${ALGORITHM} `)) return null;
  const params = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parseCredential(params.get('Credential') ?? '');
  const signed = params.get('SignedHeaders');
  if (!credential || !signed || !params.get('Signature')) return null;
  return { credential, signedHeaders: signed.split(';').map((h) => h.trim().toLowerCase()) };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `20130524T000000Z`, which must be on the credential's date. */
function signingDateOf(longDate: string | undefined, credential: Credential, where: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(longDate ?? '');
  if (!m) throw new ResignError(`${where} is missing or not of the form YYYYMMDDTHHMMSSZ`);
  if (longDate!.slice(0, 8) !== credential.date) throw new ResignError(`${where} is not on the credential scope's date`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/**
 * The SDK's signer, asked for a signature over exactly the headers the client signed: its
 * `sign(request)` would add and drop headers of its own (x-amz-date, date).
 */
class Resigner extends SignatureV4 {
  async signatureFor(request: HttpRequest, signedHeaders: readonly string[], payloadHash: string, longDate: string, signingDate: Date, scope: string): Promise<string> {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(signedHeaders));
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    return this.sign(await this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER), { signingDate });
  }
}

function signerFor(rule: SigningRule, credential: Credential, sessionToken: boolean): Resigner {
  return new Resigner({
    credentials: {
      accessKeyId: rule.accessKeyId.value,
      secretAccessKey: rule.secretAccessKey.value,
      ...(sessionToken && rule.sessionToken ? { sessionToken: rule.sessionToken.value } : {}),
    },
    region: credential.region,
    service: credential.service,
    sha256: Sha256,
    // S3 signs the path as sent (encoded once); every other service encodes it a second time.
    uriEscapePath: credential.service !== 's3',
    applyChecksum: false,
  });
}

/** The headers the client signed, with their values as they go upstream. */
function signedSubset(headers: HeaderMap, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = headers[name];
    if (v === undefined) throw new ResignError(`the signed header ${name} is not in the request`);
    out[name] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function splitTarget(pathAndQuery: string, service: string): { path: string; rawQuery: string; signingPath: string } {
  const q = pathAndQuery.indexOf('?');
  const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const rawQuery = q === -1 ? '' : pathAndQuery.slice(q + 1);
  return { path, rawQuery, signingPath: service === 's3' ? awsPathForS3(path) : path };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join(';') === [...b].sort().join(';');
}

async function resignHeaders(rule: SigningRule, input: ResignInput, auth: NonNullable<ReturnType<typeof parseAuthorization>>): Promise<ResignResult> {
  const { credential, signedHeaders } = auth;
  const { headers } = input;
  const longDate = first(headers['x-amz-date']);
  const signingDate = signingDateOf(longDate, credential, 'the x-amz-date header');
  const declared = first(headers['x-amz-content-sha256']);
  const bytes = declared ? null : await readSmallBody(input);
  const payload = declared ?? createHash('sha256').update(bytes!).digest('hex');
  if (payload.startsWith('STREAMING-') && !CHUNKED_SIGNED.has(payload) && payload !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
    throw new ResignError(`x-amz-content-sha256: ${payload} is not supported (SigV4A is not)`);
  }
  // The real token goes in before signing, so a client that signed the header gets it signed.
  if (headers['x-amz-security-token'] !== undefined && rule.sessionToken) headers['x-amz-security-token'] = rule.sessionToken.value;
  const { signingPath, rawQuery } = splitTarget(input.pathAndQuery, credential.service);
  const signer = signerFor(rule, credential, false);
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const request = { method: input.method, protocol: 'https:', hostname: input.host, path: signingPath, query: parseQuery(rawQuery), headers: signedSubset(headers, signedHeaders) };
  const signature = await signer.signatureFor(request, signedHeaders, payload, longDate!, signingDate, scope);
  headers['authorization'] = `${ALGORITHM} Credential=${rule.accessKeyId.value}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  const body = CHUNKED_SIGNED.has(payload)
    ? new AwsChunkResigner({
        sign: (s) => signer.sign(s, { signingDate }),
        longDate: longDate!,
        scope,
        seedSignature: signature,
        trailer: payload.endsWith('-TRAILER'),
      })
    : null;
  return { signed: true, pathAndQuery: input.pathAndQuery, body, bytes, error: null };
}

/** Most bytes read into memory to hash a body that did not declare its hash. */
export const MAX_HASHED_BODY_BYTES = 16 * 1024 * 1024;

/**
 * The body of a request that did not declare its hash, to hash it. With a Content-Length over the
 * limit nothing is read; a chunked body that turns out too large is read no further, and what was
 * read is lost: the request then goes out unsigned and the upstream refuses it.
 */
async function readSmallBody(input: ResignInput): Promise<Buffer> {
  const length = first(input.headers['content-length']);
  const tooLarge = `the request signs a body without x-amz-content-sha256, and the proxy hashes at most ${MAX_HASHED_BODY_BYTES} bytes (send x-amz-content-sha256)`;
  if (length !== undefined && Number(length) > MAX_HASHED_BODY_BYTES) throw new ResignError(tooLarge);
  if (length === '0' || !input.body) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const part of input.body) {
    total += (part as Buffer).length;
    if (total > MAX_HASHED_BODY_BYTES) throw new ResignError(tooLarge);
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}

function queryValue(query: QueryMap, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[0] : (v ?? undefined);
}

async function resignPresigned(rule: SigningRule, input: ResignInput, query: QueryMap, credential: Credential): Promise<ResignResult> {
  const signingDate = signingDateOf(queryValue(query, 'X-Amz-Date'), credential, 'the X-Amz-Date parameter');
  const expires = Number(queryValue(query, 'X-Amz-Expires') ?? '');
  if (!Number.isInteger(expires) || expires <= 0) throw new ResignError('the X-Amz-Expires parameter is missing or not a positive number of seconds');
  const signedHeaders = (queryValue(query, 'X-Amz-SignedHeaders') ?? '').split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (!signedHeaders.length) throw new ResignError('the X-Amz-SignedHeaders parameter is missing');
  const rest: QueryMap = {};
  for (const [k, v] of Object.entries(query)) if (!PRESIGN_PARAMS.includes(k)) rest[k] = v;
  const headers = signedSubset(input.headers, signedHeaders);
  // S3 presigned URLs sign no payload; other services sign the empty one (smithy's default).
  const s3 = credential.service === 's3';
  const { signingPath } = splitTarget(input.pathAndQuery, credential.service);
  const signer = signerFor(rule, credential, query['X-Amz-Security-Token'] !== undefined);
  const out = await signer.presign(
    { method: input.method, protocol: 'https:', hostname: input.host, path: signingPath, query: rest, headers: s3 ? { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : headers },
    {
      signingDate,
      expiresIn: expires,
      signingRegion: credential.region,
      signingService: credential.service,
      signableHeaders: new Set(signedHeaders),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set([...Object.keys(headers), 'x-amz-content-sha256']),
    },
  );
  const outQuery = out.query as QueryMap;
  const ourSigned = String(outQuery['X-Amz-SignedHeaders'] ?? '').split(';');
  if (!sameList(ourSigned, signedHeaders)) throw new ResignError(`the signed headers (${signedHeaders.join(';')}) cannot be signed again as they are`);
  const { path } = splitTarget(input.pathAndQuery, credential.service);
  return { signed: true, pathAndQuery: `${path}?${serializeQuery(outQuery)}`, body: null, bytes: null, error: null };
}

const unchanged = (input: ResignInput, error: string | null = null): ResignResult => ({ signed: false, pathAndQuery: input.pathAndQuery, body: null, bytes: null, error });

/** The rule whose surrogate key id this is, when the host is in its scopes. */
function ruleFor(rules: readonly SigningRule[], keyId: string, host: string): SigningRule | undefined {
  return rules.find((r) => r.accessKeyId.surrogate === keyId && r.scopes.some((s) => hostMatches(s, host)));
}

/** Whether `resignSigV4` could do anything with this request; cheap, so the proxy only waits when it might. */
export function mayNeedResigning(rules: readonly SigningRule[], input: ResignInput): boolean {
  if (!rules.length) return false;
  const auth = first(input.headers['authorization']);
  return auth?.startsWith(ALGORITHM) === true || input.pathAndQuery.includes('X-Amz-Credential=');
}

/**
 * Signs the request again with the real keys when it names this task's surrogate for a scoped
 * host. `input.headers` is modified in place. Never throws: what cannot be signed is reported in
 * `error` and goes out unchanged.
 */
export async function resignSigV4(rules: readonly SigningRule[], input: ResignInput): Promise<ResignResult> {
  if (!mayNeedResigning(rules, input)) return unchanged(input);
  // A client that goes away while the proxy signs: the proxy's own handlers take over afterwards.
  const swallow = (): undefined => undefined;
  input.body?.on('error', swallow);
  try {
    const authValue = first(input.headers['authorization']);
    if (authValue !== undefined) {
      const auth = parseAuthorization(authValue);
      const rule = auth && ruleFor(rules, auth.credential.keyId, input.host);
      return rule ? await resignHeaders(rule, input, auth) : unchanged(input);
    }
    const q = input.pathAndQuery.indexOf('?');
    const query = parseQuery(q === -1 ? '' : input.pathAndQuery.slice(q + 1));
    const credential = parseCredential(queryValue(query, 'X-Amz-Credential') ?? '');
    const rule = credential && ruleFor(rules, credential.keyId, input.host);
    if (!rule || !credential) return unchanged(input);
    if (queryValue(query, 'X-Amz-Algorithm') !== ALGORITHM) throw new ResignError(`X-Amz-Algorithm must be ${ALGORITHM} (SigV4A is not supported)`);
    return await resignPresigned(rule, input, query, credential);
  } catch (err) {
    return unchanged(input, `could not re-sign the AWS request: ${(err as Error).message}`);
  } finally {
    input.body?.off('error', swallow);
  }
}
