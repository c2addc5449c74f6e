/**
 * Safe file names for attachments. The name comes from a mail's Content-Disposition, i.e. from
 * anyone who can send mail: it must not reach outside `inbox/`, hide itself, spoof its extension
 * with bidi controls, or exceed what file systems accept.
 */

export const MAX_FILENAME_BYTES = 200;
export const FALLBACK_FILENAME = 'attachment';

// C0 and C1 controls, DEL; bidi embeddings/overrides/isolates and marks; BOM and zero-width chars.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/gu;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The longest prefix of `s` (whole code points) that fits in `maxBytes` of UTF-8. */
function truncateUtf8(s: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  if (utf8Length(s) <= maxBytes) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = utf8Length(ch);
    if (used + n > maxBytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/** Splits `report.final.pdf` into `report.final` + `.pdf`. Overlong "extensions" are not extensions. */
export function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return { stem: name, ext: '' };
  const ext = name.slice(dot);
  if (utf8Length(ext) > 32) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext };
}

// Device names Windows reserves whatever the extension (`CON.txt` opens the console). Harmless on
// the Linux host, but the files travel on: into a Windows checkout, back out as attachments.
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:\.|$)/i;

/**
 * Dots and whitespace off the end, by a scan: `/[.\s]+$/` retries from every character of a long
 * `. . . .` run that is followed by something else, which is quadratic in a name a sender chose.
 */
function withoutTrailingDotsAndSpaces(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '.' || /\s/.test(s[end - 1] as string))) end--;
  return s.slice(0, end);
}

/**
 * The base name of `raw` made safe: last path segment (after `/` or `\`), unsafe characters
 * removed, no leading dots (nothing hidden, never `.` or `..`), runs of dots collapsed, trimmed,
 * Windows device names prefixed with `_`, at most MAX_FILENAME_BYTES of UTF-8 with the extension
 * kept. Never empty.
 */
export function safeFileName(raw: string): string {
  let name = String(raw).normalize('NFC').replace(UNSAFE_CHARS, '');
  const segments = name.split(/[\\/]+/).filter((s) => s.trim().length > 0);
  name = segments.length ? (segments[segments.length - 1] as string) : '';
  name = name
    .replace(/\.{2,}/g, '.')
    .trim()
    .replace(/^[.\s]+/, '');
  name = withoutTrailingDotsAndSpaces(name);
  if (!name) return FALLBACK_FILENAME;
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  return fitName(name, '');
}

/** `stem + suffix + ext` cut down to MAX_FILENAME_BYTES by shortening the stem only. */
export function fitName(name: string, suffix: string): string {
  const { stem, ext } = splitExtension(name);
  const room = MAX_FILENAME_BYTES - utf8Length(ext) - utf8Length(suffix);
  const cut = withoutTrailingDotsAndSpaces(truncateUtf8(stem, room));
  return (cut || FALLBACK_FILENAME.slice(0, Math.max(1, room))) + suffix + ext;
}

/** The n-th alternative for a taken name: `report.pdf` → `report-1.pdf`, `report-2.pdf`, … */
export function numberedName(safeName: string, n: number): string {
  return n === 0 ? safeName : fitName(safeName, `-${n}`);
}
