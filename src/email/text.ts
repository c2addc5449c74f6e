/** Small text helpers for header values that came from strangers. */

// C0 and C1 controls and DEL; bidi overrides/isolates, which can make a dashboard line read backwards.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Control characters (CR and LF included) become spaces; runs of whitespace collapse; trimmed. */
export function singleLine(text: string): string {
  return text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
}

/** For messages shown to operators: single line, bounded length. */
export function printable(text: string, max = 120): string {
  const line = singleLine(text);
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

// Linear: a match starts only at `=?`, and each part stops at the next `?` or blank, so no character
// is scanned from more than a few starts (test/email/hostile-text-time.test.ts, 5 MB of `=?x?q?`).
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * Decodes RFC 2047 encoded words (`=?utf-8?q?Gr=C3=BC=C3=9Fe?=`). Whitespace between two adjacent
 * encoded words is dropped, as the RFC says. An unknown charset leaves the word as written.
 */
export function decodeMimeWords(text: string): string {
  const joined = text.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(ENCODED_WORD, (whole, charset: string, encoding: string, data: string) => {
    let bytes: Buffer;
    if (encoding.toUpperCase() === 'B') bytes = Buffer.from(data, 'base64');
    else {
      const qp = data.replace(/_/g, ' ');
      const out: number[] = [];
      for (let i = 0; i < qp.length; i++) {
        const hex = qp.slice(i + 1, i + 3);
        if (qp[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
          out.push(parseInt(hex, 16));
          i += 2;
        } else out.push(qp.charCodeAt(i) & 0xff);
      }
      bytes = Buffer.from(out);
    }
    try {
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    } catch {
      return whole;
    }
  });
}

/** An error as one short line, for a message's `problems`. */
export function problemText(err: unknown): string {
  return singleLine(err instanceof Error ? err.message : String(err)).slice(0, 200);
}
