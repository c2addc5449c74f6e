/**
 * A TCP proxy for plain IMAP that, once switched on, silently drops the untagged `* <n> EXISTS` and `* <n> RECENT`
 * lines the server sends and forwards everything else: what Gmail and Outlook look like when they stop notifying a
 * long IDLE session while the connection stays up. The daemon must still see new mail (re-IDLE, safety poll).
 *
 * The filter is line-aware: it buffers a partial line across chunks and passes IMAP literals (`{n}\r\n` + n bytes)
 * through untouched, so message text that happens to look like a notification is never dropped.
 */
import { EventEmitter } from 'node:events';
import { startTcpProxy, type ChunkFilter, type TcpProxy } from './tcp-proxy.ts';

export interface ImapFilterProxy extends TcpProxy {
  /** While on, EXISTS and RECENT notifications from the server are dropped on every connection. Default off. */
  setDropNotifications(on: boolean): void;
  /** The lines dropped so far (without CRLF), oldest first. */
  readonly droppedLines: readonly string[];
  /** Resolves with the next dropped line (after the call) of that kind, e.g. `* 2 EXISTS`. */
  waitForDrop(kind?: 'EXISTS' | 'RECENT', timeoutMs?: number): Promise<string>;
}

const NOTIFICATION = /^\* \d+ (EXISTS|RECENT)\r?\n$/i;
const LITERAL_AT_END = /\{(\d+)\+?\}\r?\n$/;

/**
 * One connection's server-to-client filter. `shouldDrop()` is read per line, so switching takes effect at the next
 * line; `onDrop` hears each dropped line.
 */
export function notificationFilter(shouldDrop: () => boolean, onDrop: (line: string) => void): ChunkFilter {
  let pending = Buffer.alloc(0);
  let literalLeft = 0;
  // After a literal the next line continues the same response, so it is never a notification of its own.
  let continuation = false;
  return (chunk) => {
    const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    pending = Buffer.alloc(0);
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < data.length) {
      if (literalLeft > 0) {
        const n = Math.min(literalLeft, data.length - pos);
        out.push(data.subarray(pos, pos + n));
        pos += n;
        literalLeft -= n;
        if (literalLeft === 0) continuation = true;
        continue;
      }
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) {
        pending = Buffer.from(data.subarray(pos));
        break;
      }
      const line = data.subarray(pos, nl + 1);
      pos = nl + 1;
      const text = line.toString('latin1');
      const literal = LITERAL_AT_END.exec(text);
      if (!continuation && literal === null && shouldDrop() && NOTIFICATION.test(text)) {
        onDrop(text.replace(/\r?\n$/, ''));
        continue;
      }
      out.push(line);
      continuation = false;
      if (literal !== null) literalLeft = Number(literal[1]);
      if (literalLeft === 0 && literal !== null) continuation = true;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  };
}

/** Starts the filtering proxy on a free port of 127.0.0.1, forwarding to the IMAP server at `targetHost:targetPort`. */
export async function startImapFilterProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<ImapFilterProxy> {
  let dropping = false;
  const droppedLines: string[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const onDrop = (line: string): void => {
    droppedLines.push(line);
    events.emit('drop', line);
  };
  const proxy = await startTcpProxy(targetPort, targetHost, { fromServer: () => notificationFilter(() => dropping, onDrop) });
  const waitForDrop = (kind?: 'EXISTS' | 'RECENT', timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const listener = (line: string): void => {
        if (kind !== undefined && !line.toUpperCase().endsWith(` ${kind}`)) return;
        clearTimeout(timer);
        events.off('drop', listener);
        resolve(line);
      };
      const timer = setTimeout(() => {
        events.off('drop', listener);
        reject(new Error(`imap filter proxy :${proxy.port}: no ${kind ?? 'notification'} line dropped within ${timeoutMs} ms`));
      }, timeoutMs);
      events.on('drop', listener);
    });
  // A spread would evaluate the proxy's getters (openConnections, totalConnections) once; delegate instead.
  return Object.assign(Object.create(proxy) as TcpProxy, {
    setDropNotifications(on: boolean) {
      dropping = on;
    },
    droppedLines,
    waitForDrop,
  });
}
