/**
 * The pod gateway's reading of a request head (pure: bytes in, a route out). The gateway parses
 * heads itself rather than through node:http because it must hand the very bytes of a proxy request
 * on to the task's proxy socket, minus one header, and keep whatever followed the head.
 *
 * Task ids are plain decimal numbers and tokens base64url of 32 bytes; a path that does not match
 * exactly (`..`, `%2e`, a sign, a leading zero, a query) is simply not a route: the caller answers
 * 404 without ever turning it into a file name.
 */

/** Largest request head accepted; beyond it the gateway answers 431. */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface RequestHead {
  readonly requestLine: string;
  readonly method: string;
  readonly target: string;
  /** The head's lines after the request line, without their CRLF. */
  readonly headerLines: readonly string[];
}

/** Where a head ends (index of the byte after the blank line), or -1. */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 4;
}

/** Parses a head (without the blank line's CRLF); null when it is not an HTTP/1.x request. */
export function parseHead(text: string): RequestHead | null {
  const lines = text.split('\r\n');
  const m = /^([A-Z]{1,16}) (\S{1,8192}) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) return null;
  return { requestLine: lines[0] as string, method: m[1] as string, target: m[2] as string, headerLines: lines.slice(1).filter((l) => l !== '') };
}

/** The value of a header (first occurrence, trimmed), or null. */
export function headerValue(head: RequestHead, name: string): string | null {
  const lower = name.toLowerCase();
  for (const line of head.headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) return line.slice(colon + 1).trim();
  }
  return null;
}

/** The head as bytes again, without any `Proxy-Authorization` line (the task proxy must not see the token). */
export function headWithoutProxyAuth(head: RequestHead): Buffer {
  const kept = head.headerLines.filter((l) => !/^proxy-authorization\s*:/i.test(l));
  return Buffer.from(`${[head.requestLine, ...kept].join('\r\n')}\r\n\r\n`, 'latin1');
}

const TASK_ID = '([1-9][0-9]{0,14})';
const TOKEN = '([A-Za-z0-9_-]{43})';
const STATE_PATH = new RegExp(`^/airut-state/${TASK_ID}/${TOKEN}/(in|out)$`);

export type GatewayRoute =
  | { readonly kind: 'state'; readonly taskId: number; readonly token: string; readonly direction: 'in' | 'out' }
  | { readonly kind: 'proxy'; readonly taskId: number; readonly token: string }
  | { readonly kind: 'proxy-unauthenticated' }
  | { readonly kind: 'not-found' };

/** Which kind of request a head is, with the credentials it carries (unchecked: the token file decides). */
export function routeOf(head: RequestHead): GatewayRoute {
  const isProxy = head.method === 'CONNECT' || /^http:\/\//i.test(head.target);
  if (!isProxy) {
    const m = STATE_PATH.exec(head.target);
    if (!m) return { kind: 'not-found' };
    const direction = m[3] as 'in' | 'out';
    if ((direction === 'in') !== (head.method === 'GET') || (direction === 'out' && head.method !== 'POST')) return { kind: 'not-found' };
    return { kind: 'state', taskId: Number(m[1]), token: m[2] as string, direction };
  }
  const creds = proxyCredentials(headerValue(head, 'proxy-authorization'));
  return creds ? { kind: 'proxy', ...creds } : { kind: 'proxy-unauthenticated' };
}

const CREDENTIALS = new RegExp(`^task-${TASK_ID}:${TOKEN}$`);

/** `Basic base64("task-<id>:<token>")` → its parts, or null. */
export function proxyCredentials(value: string | null): { taskId: number; token: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,200})$/i.exec(value ?? '');
  if (!m) return null;
  const c = CREDENTIALS.exec(Buffer.from(m[1] as string, 'base64').toString('latin1'));
  return c ? { taskId: Number(c[1]), token: c[2] as string } : null;
}
