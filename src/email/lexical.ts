/**
 * The small part of RFC 5322 lexical syntax that header checks need: comments, quoted strings and
 * separators outside them. Written out by hand because the security checks must know exactly which
 * characters are structure and which are text an attacker chose.
 */

export type Lexed = { ok: true; text: string } | { ok: false; problem: string };

/**
 * Replaces every comment `( … )` (nested, with `\` escapes) that is outside a quoted string by one
 * space. Quoted strings are kept as written, quotes included. An unterminated comment or quoted
 * string is an error, never silently closed: the rest of the header would change meaning.
 */
export function stripComments(value: string): Lexed {
  const scan = scanComments(value);
  if (scan.depth > 0) return { ok: false, problem: 'an unterminated comment' };
  if (scan.inQuote) return { ok: false, problem: 'an unterminated quoted string' };
  return { ok: true, text: scan.text };
}

/**
 * The same, for values that decide nothing about who sent a mail (a keyword, a date): never fails,
 * an unterminated comment runs to the end of the value.
 */
export function dropComments(value: string): string {
  return scanComments(value).text;
}

/** Every comment outside quoted strings, as written (without its outer parentheses). */
export function commentsOf(value: string): string[] {
  return scanComments(value).comments;
}

/** One pass over the value; linear, whatever the nesting. */
function scanComments(value: string): { text: string; comments: string[]; depth: number; inQuote: boolean } {
  let out = '';
  const comments: string[] = [];
  let commentStart = 0;
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        out += ' ';
        comments.push(value.slice(commentStart, i));
      }
      continue;
    }
    if (inQuote) {
      out += c;
      if (c === '\\' && i + 1 < value.length) out += value[++i];
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '(') {
      depth = 1;
      commentStart = i + 1;
    } else {
      if (c === '"') inQuote = true;
      out += c;
    }
  }
  if (depth > 0) comments.push(value.slice(commentStart));
  return { text: out, comments, depth, inQuote };
}

/**
 * Splits on `separator` where it is outside quoted strings and comments; the parts keep their
 * comments, so a caller can still tell text that was written in one piece from text joined across
 * a comment. The value must lex (see `stripComments`).
 */
export function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '(') depth = 1;
    else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The index of the first character after the whitespace and comments that start `text` at `from`. */
export function skipCfws(text: string, from = 0): number {
  let i = from;
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '(') depth = 1;
    else if (!/\s/.test(c)) break;
  }
  return i;
}

/**
 * Splits into words at whitespace outside quoted strings; `=` is a word of its own so that
 * `key = value` and `key=value` read the same.
 */
export function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  const flush = (): void => {
    if (cur !== '') out.push(cur);
    cur = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inQuote) {
      cur += c;
      if (c === '\\' && i + 1 < text.length) cur += text[++i];
      else if (c === '"') inQuote = false;
    } else if (c === '"') {
      inQuote = true;
      cur += c;
    } else if (/\s/.test(c)) flush();
    else if (c === '=') {
      flush();
      out.push('=');
    } else cur += c;
  }
  flush();
  return out;
}

/** `"a\"b"` → `a"b`; anything not a complete quoted string is returned unchanged. */
export function unquote(word: string): string {
  if (word.length >= 2 && word.startsWith('"') && word.endsWith('"')) {
    return word.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return word;
}
