/**
 * Watches one admitted git push as it passes through the sandbox proxy, so the network log can say
 * which refs the upstream accepted (and the task's reply which branches were pushed). It listens
 * beside the pipes, never instead of them: the pack streams on untouched while the first bytes of
 * the request (the ref-update commands) and the answer (the report-status, a few hundred bytes) are
 * copied aside, each up to a cap. Past a cap, or on anything unreadable, it records nothing.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { acceptedPushRefs, isGitPushRequest, readPktLines } from './git-push.ts';

/** Room for thousands of ref updates; the commands come before the pack, so this never holds pack data for long. */
const MAX_COMMAND_BYTES = 1 << 20;
/** Report-status plus side-band progress messages. */
const MAX_REPORT_BYTES = 4 << 20;

export class GitPushWatch {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private headDone = false;
  private readonly report: Buffer[] = [];
  private reportBytes = 0;
  private response: http.IncomingMessage | null = null;

  private constructor(req: Readable) {
    const onData = (chunk: Buffer) => {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      const read = this.headBytes > MAX_COMMAND_BYTES ? null : readPktLines(Buffer.concat(this.head), true);
      if (!read || read.pkts.at(-1)?.kind === 'flush') {
        this.headDone = read !== null;
        req.off('data', onData);
      }
    };
    req.on('data', onData);
  }

  /** A watch for a receive-pack POST; `null` for every other request. */
  static forRequest(method: string, path: string, req: Readable): GitPushWatch | null {
    return isGitPushRequest(method, path) ? new GitPushWatch(req) : null;
  }

  /** Copies the upstream's answer aside (only a 200 can carry a report-status). */
  watchResponse(up: http.IncomingMessage): void {
    if (up.statusCode !== 200 || !this.headDone) return;
    this.response = up;
    const onData = (chunk: Buffer) => {
      this.reportBytes += chunk.length;
      if (this.reportBytes > MAX_REPORT_BYTES) {
        this.response = null;
        up.off('data', onData);
        return;
      }
      this.report.push(chunk);
    };
    up.on('data', onData);
  }

  /** Refs the upstream accepted; empty unless both sides were read whole. Call once the answer ended. */
  pushedRefs(): string[] {
    const up = this.response;
    if (!up?.complete || !this.headDone) return [];
    const body = decode(Buffer.concat(this.report), String(up.headers['content-encoding'] ?? 'identity').toLowerCase());
    return body ? acceptedPushRefs(Buffer.concat(this.head), body) : [];
  }

  /** The network log's `pushed` field, present only when something was pushed. */
  logFields(): { pushed?: readonly string[] } {
    const refs = this.pushedRefs();
    return refs.length > 0 ? { pushed: refs } : {};
  }
}

/** The answer as sent before any content coding; `null` for a coding git hosts do not use. */
function decode(body: Buffer, encoding: string): Buffer | null {
  try {
    if (encoding === 'identity') return body;
    if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(body, { maxOutputLength: MAX_REPORT_BYTES });
    if (encoding === 'deflate') return zlib.inflateSync(body, { maxOutputLength: MAX_REPORT_BYTES });
  } catch {
    /* a corrupt or oversized body: nothing recorded */
  }
  return null;
}
