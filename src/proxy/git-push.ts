/**
 * What a git push over smart HTTP did, read from the bytes the sandbox proxy relays: the ref-update
 * commands at the start of the `POST …/git-receive-pack` body and the upstream's report-status in
 * its answer. Pure functions over buffers (no I/O); git-push-watch.ts feeds them from the streams.
 *
 * The wire format (gitprotocol-pack, gitprotocol-http): pkt-lines, each a 4-hex-digit length that
 * counts itself, `0000` a flush. The request starts with optional `shallow <oid>` lines, then
 * `<old-oid> <new-oid> <ref>` per ref (the first one followed by NUL and the client's
 * capabilities), a flush, then the pack. The answer is `unpack ok` and `ok <ref>` / `ng <ref>
 * <reason>` per ref, each a pkt-line; with `side-band`/`side-band-64k` those pkt-lines travel inside
 * band 1 of an outer pkt-line stream (band 2 is progress, band 3 an error).
 *
 * Everything here is read from the container (the request) or the network (the answer), so
 * anything unexpected — a bad length, a truncated line, a ref that was not asked for — gives
 * `null` or leaves the ref out: nothing is recorded that the upstream did not plainly accept.
 */

const ZERO_ID = /^0+$/;
const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** The largest pkt-line git writes (LARGE_PACKET_MAX). */
const MAX_PKT = 65520;

export interface PushCommand {
  readonly oldId: string;
  readonly newId: string;
  readonly ref: string;
}

export interface PushRequest {
  readonly commands: readonly PushCommand[];
  /** The client asked for side-band (the report-status then arrives in band 1). */
  readonly sideBand: boolean;
}

export interface ReportStatus {
  readonly unpackOk: boolean;
  /** Refs the upstream reported `ok`. */
  readonly ok: readonly string[];
}

/** A POST to the receive-pack endpoint of a repository: the request that updates refs. */
export function isGitPushRequest(method: string, path: string): boolean {
  return method === 'POST' && path.endsWith('/git-receive-pack') && path.length > '/git-receive-pack'.length;
}

/** `/owner/repo.git` from `/owner/repo.git/git-receive-pack`. */
export function pushRepoPath(path: string): string {
  return path.slice(0, -'/git-receive-pack'.length);
}

type Pkt = { kind: 'flush' } | { kind: 'data'; payload: Buffer };

/**
 * Splits `buf` into pkt-lines. Returns the lines read and whether the input ended exactly at a line
 * boundary; `null` on a malformed length (not hex, or 1–3, or over the protocol's maximum).
 */
export function readPktLines(buf: Buffer, stopAtFlush = false): { pkts: Pkt[]; rest: number } | null {
  const pkts: Pkt[] = [];
  let at = 0;
  while (buf.length - at >= 4) {
    const hex = buf.toString('latin1', at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) return null;
    const len = Number.parseInt(hex, 16);
    if (len === 0) {
      pkts.push({ kind: 'flush' });
      at += 4;
      if (stopAtFlush) break;
      continue;
    }
    // 0001 (delim) and 0002 (response end) belong to protocol v2, which receive-pack does not speak.
    if (len < 4 || len > MAX_PKT + 4) return null;
    if (buf.length - at < len) break;
    pkts.push({ kind: 'data', payload: buf.subarray(at + 4, at + len) });
    at += len;
  }
  return { pkts, rest: buf.length - at };
}

function lineText(payload: Buffer): string {
  const s = payload.toString('utf8');
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

/**
 * The ref-update commands at the start of a receive-pack request body (`head`: its first bytes,
 * at least up to the flush). `null` when the commands are not all there or not well-formed.
 */
export function parsePushRequest(head: Buffer): PushRequest | null {
  const read = readPktLines(head, true);
  if (!read || read.pkts.at(-1)?.kind !== 'flush') return null;
  const commands: PushCommand[] = [];
  let sideBand = false;
  for (const pkt of read.pkts.slice(0, -1)) {
    if (pkt.kind !== 'data') return null;
    let text = lineText(pkt.payload);
    if (commands.length === 0 && text.startsWith('shallow ')) continue;
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      if (commands.length > 0) return null; // capabilities follow the first command only
      const caps = text.slice(nul + 1).split(' ');
      sideBand = caps.includes('side-band-64k') || caps.includes('side-band');
      text = text.slice(0, nul);
    }
    const m = /^(\S+) (\S+) (\S+)$/.exec(text);
    if (!m || !OBJECT_ID.test(m[1]!) || !OBJECT_ID.test(m[2]!) || !/^refs\/[^\0\s]+$/.test(m[3]!)) return null;
    commands.push({ oldId: m[1]!, newId: m[2]!, ref: m[3]! });
  }
  return commands.length > 0 ? { commands, sideBand } : null;
}

/** Band 1 of a side-band stream, concatenated; `null` if the stream is malformed or reports an error. */
function sideBandData(body: Buffer): Buffer | null {
  const read = readPktLines(body, true);
  // The stream ends with a flush; one cut short is not a report.
  if (!read || read.pkts.at(-1)?.kind !== 'flush') return null;
  const parts: Buffer[] = [];
  for (const pkt of read.pkts) {
    if (pkt.kind === 'flush') break;
    const band = pkt.payload[0];
    if (band === 1) parts.push(pkt.payload.subarray(1));
    else if (band !== 2) return null; // 3: the upstream reported an error; anything else is not side-band
  }
  return Buffer.concat(parts);
}

/** The upstream's report-status (the whole response body). `null` when it is not one. */
export function parseReportStatus(body: Buffer, sideBand: boolean): ReportStatus | null {
  const inner = sideBand ? sideBandData(body) : body;
  if (!inner) return null;
  const read = readPktLines(inner, true);
  if (!read || read.pkts.at(-1)?.kind !== 'flush') return null;
  const lines = read.pkts.filter((p): p is Extract<Pkt, { kind: 'data' }> => p.kind === 'data').map((p) => lineText(p.payload));
  if (!lines[0]?.startsWith('unpack ')) return null;
  const ok: string[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('ok ')) ok.push(line.slice(3));
    // `ng <ref> <reason>` and report-status-v2's `option …` lines add no accepted ref.
  }
  return { unpackOk: lines[0] === 'unpack ok', ok };
}

/**
 * The refs a push created or moved, as the upstream accepted them: asked for in the request (not a
 * deletion) and reported `ok` after `unpack ok`. Empty for anything else.
 */
export function acceptedPushRefs(requestHead: Buffer, responseBody: Buffer): string[] {
  const request = parsePushRequest(requestHead);
  if (!request) return [];
  const status = parseReportStatus(responseBody, request.sideBand);
  if (!status?.unpackOk) return [];
  const accepted = new Set(status.ok);
  const refs = request.commands.filter((c) => !ZERO_ID.test(c.newId) && accepted.has(c.ref)).map((c) => c.ref);
  return [...new Set(refs)];
}
