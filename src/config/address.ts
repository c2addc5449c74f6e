/**
 * The two kinds of mail address the configuration holds: the repo's own `from` header (exactly
 * one address, which loop protection and Message-IDs depend on) and `authorized_senders` patterns.
 */

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** A bare address `local@domain` (no display name, no comments). */
export function isBareAddress(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || text.indexOf('@') !== at) return false;
  return LOCAL_PART.test(text.slice(0, at)) && DOMAIN.test(text.slice(at + 1));
}

/** Splits a header value on commas and semicolons that are not inside quotes, <…> or (…). */
function splitTopLevel(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inQuote = false;
  let angle = 0;
  let paren = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (inQuote) {
      if (c === '\\') {
        current += c + (value[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '<') angle++;
    else if (c === '>') angle = Math.max(0, angle - 1);
    else if (c === '(') paren++;
    else if (c === ')') paren = Math.max(0, paren - 1);
    else if ((c === ',' || c === ';') && angle === 0 && paren === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function withoutQuotedText(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^)]*\)/g, '');
}

export type FromParse = { readonly address: string } | { readonly problem: string };

/**
 * Parses the `from` setting: `addr@example.com` or `Name <addr@example.com>`. Anything that holds
 * zero or several addresses is refused, because the bare address is what replies are sent from,
 * what loop protection compares against and where Message-IDs get their domain.
 */
export function parseFromHeader(value: string): FromParse {
  const expected = 'must contain exactly one email address, like "Airut <airut@example.com>" or airut@example.com';
  const parts = splitTopLevel(value);
  if (parts.length !== 1) return { problem: `${expected} (found ${parts.length === 0 ? 'none' : parts.length})` };
  const part = parts[0] as string;
  const angled = /^(.*)<([^<>]*)>\s*$/s.exec(part);
  if (angled) {
    const display = withoutQuotedText(angled[1] ?? '');
    const address = (angled[2] ?? '').trim();
    // An unquoted `@` or `<` in the display name is a second address in disguise.
    if (/[@<>:]/.test(display) || !isBareAddress(address)) return { problem: expected };
    return { address: address.toLowerCase() };
  }
  const bare = withoutQuotedText(part).trim();
  if (!isBareAddress(bare)) return { problem: expected };
  return { address: bare.toLowerCase() };
}

/** How an `authorized_senders` entry is stored and compared: trimmed and lowercased. */
export function normalizeSender(entry: string): string {
  return entry.trim().toLowerCase();
}

/**
 * Why an `authorized_senders` entry is not acceptable, or null when it is. Only exact addresses
 * and `*@domain` are allowed: broader patterns (`*`, `*.domain`, `a*@domain`) would authorize
 * senders the operator never listed, and sender authorization is the gate to running code.
 */
export function senderPatternProblem(entry: string): string | null {
  const e = normalizeSender(entry);
  const shown = JSON.stringify(entry);
  if (e === '*' || e === '*@*') {
    return `${shown} would let anyone send tasks; list addresses (name@example.com) or whole domains (*@example.com)`;
  }
  const at = e.lastIndexOf('@');
  const domain = at >= 0 ? e.slice(at + 1) : e;
  if (domain.startsWith('*.') || e.startsWith('*.')) {
    return `${shown}: subdomain wildcards are not supported; list each domain as *@sub.example.com`;
  }
  if (e.startsWith('*@')) {
    return DOMAIN.test(e.slice(2)) ? null : `${shown}: the domain after *@ is not a valid domain name`;
  }
  if (e.includes('*')) return `${shown}: * may only stand for the whole local part, as in *@example.com`;
  return isBareAddress(e) ? null : `${shown} is not an email address (name@example.com) or *@domain`;
}
