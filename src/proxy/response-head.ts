/**
 * Status lines and headers the proxy passes from an upstream server to the container, checked
 * before they are written. Node's HTTP client is lenient about what it parses (a reason phrase such
 * as `O\x01K` gets through), while Node's server side throws when asked to send it: unchecked, one
 * bad upstream answer would throw inside the task's runner thread and end the task. A head that
 * fails these checks becomes the proxy's own 502 instead.
 *
 * The raw writer serves upgrade requests, whose client socket is no longer driven by Node's HTTP
 * server and gets bytes written by hand.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';

/** Visible ASCII, space, tab and obs-text: what RFC 9110 allows in a reason phrase. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

export type HeaderPairs = ReadonlyArray<readonly [string, string]>;

/** Why this head cannot be forwarded, or null when it can. */
export function responseHeadProblem(status: number | undefined, reason: string | undefined, headers: HeaderPairs): string | null {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) {
    return `the status code ${String(status)} is not valid`;
  }
  if (!REASON.test(reason ?? '')) return 'the status line contains a control character';
  for (const [name, value] of headers) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      return `the header ${JSON.stringify(name.slice(0, 60))} is not valid`;
    }
  }
  return null;
}

/** `rawHeaders` ([name, value, name, value…]) as pairs. */
export function headerPairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** The bytes of a response head; the caller has checked it with `responseHeadProblem`. */
export function serializeResponseHead(status: number, reason: string | undefined, headers: HeaderPairs): string {
  const lines = [`HTTP/1.1 ${status} ${reason || http.STATUS_CODES[status] || ''}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * A whole response written by the proxy itself on a raw socket, then the socket is closed.
 * Anything the client sends afterwards (pipelined requests) is read and dropped, never forwarded.
 */
export function writeRawResponse(socket: Duplex, status: number, body: string, extra: HeaderPairs = []): void {
  const head = serializeResponseHead(status, undefined, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ...extra,
    ['Connection', 'close'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ]);
  socket.write(head + body);
  closeAfterWrite(socket);
}

/**
 * Ends the socket once what was written is flushed. Input still arriving is drained and thrown
 * away, so the close is a FIN and not a reset that could cost the client the response it has not
 * read yet; a client that never closes its side is cut after a few seconds.
 */
export function closeAfterWrite(socket: Duplex): void {
  socket.unpipe();
  socket.on('data', () => undefined);
  socket.on('end', () => socket.destroy());
  socket.end();
  setTimeout(() => socket.destroy(), 5_000).unref();
}
