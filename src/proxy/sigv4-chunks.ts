/**
 * Re-signs an `aws-chunked` body (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, and
 * its `-TRAILER` form) as it streams through: every chunk signature chains from the one before,
 * starting at the request's seed signature, so once the proxy has signed the headers again every
 * chunk must be signed again too. Memory is one chunk (S3 clients use 64 KiB to 8 MiB), never the
 * whole body. A body that is not well-formed aws-chunked ends the stream with an error, so the
 * upstream request is cut instead of going out half re-signed.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface ChunkSigning {
  /** Signs a string to sign with the real keys (the smithy signer's `sign(string, …)`). */
  readonly sign: (stringToSign: string) => Promise<string>;
  /** `x-amz-date` of the request. */
  readonly longDate: string;
  /** `<date>/<region>/<service>/aws4_request`. */
  readonly scope: string;
  /** The new signature of the request's headers. */
  readonly seedSignature: string;
  /** Whether trailing headers with `x-amz-trailer-signature` follow the last chunk. */
  readonly trailer: boolean;
}

/** Larger chunks are refused rather than held in memory. */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
const MAX_HEADER_BYTES = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CHUNK_HEADER = /^([0-9a-fA-F]{1,8});chunk-signature=([0-9a-fA-F]{64})$/;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature:';

const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The string to sign of one chunk (AWS "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"). */
export function chunkStringToSign(longDate: string, scope: string, previous: string, data: Buffer): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', longDate, scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
}

/** Trailing headers as signed: each `name:value` line, trimmed, ended by `\n`. */
export function trailerStringToSign(longDate: string, scope: string, previous: string, trailingLines: readonly string[]): string {
  const canonical = trailingLines.map((l) => `${l.trim()}\n`).join('');
  return ['AWS4-HMAC-SHA256-TRAILER', longDate, scope, previous, sha256Hex(canonical)].join('\n');
}

type State = { kind: 'header' } | { kind: 'data'; hex: string; size: number } | { kind: 'trailer' } | { kind: 'done' };

export class AwsChunkResigner extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private state: State = { kind: 'header' };
  private previous: string;

  constructor(private readonly signing: ChunkSigning) {
    super();
    this.previous = signing.seedSignature;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    this.drain().then(() => callback(), (err: Error) => callback(err));
  }

  override _flush(callback: TransformCallback): void {
    if (this.state.kind !== 'done') {
      callback(new Error('the aws-chunked request body ended before its final chunk'));
      return;
    }
    callback();
  }

  private buffered(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [all];
    return all;
  }

  private keep(rest: Buffer): void {
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
  }

  /** Handles every complete piece in the buffer; returns when more bytes are needed. */
  private async drain(): Promise<void> {
    for (;;) {
      const s = this.state;
      if (s.kind === 'done') {
        for (const b of this.pending) this.push(b);
        this.keep(Buffer.alloc(0));
        return;
      }
      const progressed = s.kind === 'header' ? this.chunkHeader() : s.kind === 'data' ? await this.chunkData(s) : await this.trailer();
      if (!progressed) return;
    }
  }

  private chunkHeader(): boolean {
    const buf = this.buffered();
    const end = buf.indexOf('\r\n');
    if (end === -1) {
      if (buf.length > MAX_HEADER_BYTES) throw new Error('an aws-chunked chunk header is too long');
      return false;
    }
    const m = CHUNK_HEADER.exec(buf.subarray(0, end).toString('latin1'));
    if (!m) throw new Error('the request body is not aws-chunked with chunk signatures, as its x-amz-content-sha256 says');
    const size = parseInt(m[1]!, 16);
    if (size > MAX_CHUNK_BYTES) throw new Error(`an aws-chunked chunk of ${size} bytes is larger than the proxy's limit of ${MAX_CHUNK_BYTES}`);
    this.keep(buf.subarray(end + 2));
    this.state = { kind: 'data', hex: m[1]!, size };
    return true;
  }

  private async chunkData(s: { hex: string; size: number }): Promise<boolean> {
    // The final chunk has no data and (without trailers) no CRLF of its own: the body's last CRLF follows.
    const needed = s.size === 0 ? 0 : s.size + 2;
    if (this.pendingBytes < needed) return false;
    const buf = this.buffered();
    const data = buf.subarray(0, s.size);
    if (s.size > 0 && buf.toString('latin1', s.size, s.size + 2) !== '\r\n') throw new Error('an aws-chunked chunk is longer than its declared size');
    const { longDate, scope } = this.signing;
    const signature = await this.signing.sign(chunkStringToSign(longDate, scope, this.previous, data));
    this.previous = signature;
    this.push(Buffer.from(`${s.hex};chunk-signature=${signature}\r\n`, 'latin1'));
    if (s.size > 0) this.push(buf.subarray(0, needed));
    this.keep(buf.subarray(needed));
    this.state = s.size > 0 ? { kind: 'header' } : this.signing.trailer ? { kind: 'trailer' } : { kind: 'done' };
    return true;
  }

  private async trailer(): Promise<boolean> {
    const buf = this.buffered();
    const text = buf.toString('latin1');
    const at = text.toLowerCase().indexOf(TRAILER_SIGNATURE);
    const end = at === -1 ? -1 : text.indexOf('\r\n', at);
    if (end === -1) {
      if (buf.length > MAX_TRAILER_BYTES) throw new Error('the aws-chunked trailer is too long or has no x-amz-trailer-signature');
      return false;
    }
    const headers = text.slice(0, at);
    const lines = headers.split('\r\n').filter((l) => l.length > 0);
    const { longDate, scope } = this.signing;
    const signature = await this.signing.sign(trailerStringToSign(longDate, scope, this.previous, lines));
    this.push(Buffer.from(`${headers}${TRAILER_SIGNATURE}${signature}\r\n`, 'latin1'));
    this.keep(buf.subarray(end + 2));
    this.state = { kind: 'done' };
    return true;
  }
}
