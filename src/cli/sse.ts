/**
 * An incremental parser of server-sent events (the `text/event-stream` format of the WHATWG HTML
 * standard): text in, whole events out. Chunks may split a line, or a CRLF, anywhere; only what
 * `airut logs --follow` needs is kept (event, data, id; `retry` and comments are ignored).
 */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** The `id:` field of this event, if it had one. */
  readonly id?: string;
}

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return null;
  }

  /** A blank line ends an event; one without data is dropped, as a browser does. */
  private dispatch(): SseEvent | null {
    const ev: SseEvent | null = this.data.length
      ? { event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) }
      : null;
    this.event = '';
    this.data = [];
    this.id = undefined;
    return ev;
  }
}
