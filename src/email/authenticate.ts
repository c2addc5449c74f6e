/**
 * DMARC by trust in the repo's own mail server: the server checked SPF/DKIM/DMARC on arrival and
 * wrote the verdict into an Authentication-Results header (RFC 8601) at the top of the message.
 * Everything below that header came from the sender and proves nothing.
 */
import { firstHeaderValue, headerValues, type HeaderLine } from './headers.ts';
import { dropComments, skipCfws, splitTopLevel, stripComments, unquote, words } from './lexical.ts';
import { printable } from './text.ts';

export type DmarcVerdict = { ok: true } | { ok: false; reason: string };

/** One `method=result` statement of an Authentication-Results header, with its properties. */
export interface AuthResult {
  /** Lowercased method keyword (`dmarc`, `spf`, …). */
  readonly method: string;
  /** Lowercased result keyword (`pass`, `fail`, …), or null when the statement could not be read. */
  readonly result: string | null;
  /** Lowercased property names (`header.from`) → values as written, unquoted. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface AuthenticationResults {
  /** As written, unquoted; compare case-insensitively. */
  readonly authservId: string;
  readonly results: readonly AuthResult[];
}

export type ParsedAuthenticationResults =
  | ({ ok: true } & AuthenticationResults)
  | { ok: false; problem: string };

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9_.-]*/;
/**
 * `method=result` in one piece, as every mail server writes it, ended by whitespace, a comment or
 * the end of the statement. RFC 8601 would allow comments and whitespace around the `=` and a
 * method version (`dmarc/1`), but verifiers disagree on such forms, and `dmarc=(fail)pass` reads
 * as a pass only to a parser that drops the comment first; so anything but the literal token
 * makes the statement unreadable, and an unreadable dmarc statement rejects.
 */
const METHOD_SPEC = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=([A-Za-z0-9_-]+)(?=[\s(]|$)/;

/**
 * Parses one Authentication-Results header value (already unfolded). With `idOptional`, a value
 * that starts with a `method=result` statement is read as having no authserv-id (authservId ''):
 * Exchange Online writes its headers that way.
 */
export function parseAuthenticationResults(value: string, options: { idOptional?: boolean } = {}): ParsedAuthenticationResults {
  const lexed = stripComments(value);
  if (!lexed.ok) return { ok: false, problem: `it contains ${lexed.problem}` };
  // Split the value as written, comments kept, so that each statement is read as written.
  const [head = '', ...statements] = splitTopLevel(value, ';');
  if (options.idOptional && METHOD_SPEC.test(head.slice(skipCfws(head)))) return { ok: true, authservId: '', results: readStatements([head, ...statements]) };

  // authserv-id, optionally followed by a version number ("mx.example.com 1").
  const headWords = words(dropComments(head));
  const [id, version, ...rest] = headWords;
  if (id === undefined || id === '=') return { ok: false, problem: 'it has no authserv-id' };
  if (rest.length > 0 || (version !== undefined && !/^\d+$/.test(version))) {
    return { ok: false, problem: `its authserv-id part "${dropComments(head).trim()}" is not an identifier with an optional version` };
  }

  return { ok: true, authservId: unquote(id), results: readStatements(statements) };
}

function readStatements(statements: readonly string[]): AuthResult[] {
  const results: AuthResult[] = [];
  for (const statement of statements) {
    const text = statement.slice(skipCfws(statement));
    const plain = dropComments(text).trim();
    if (plain === '' || plain.toLowerCase() === 'none') continue;
    const spec = METHOD_SPEC.exec(text);
    if (!spec) {
      // Not a readable statement; remember its method so that a garbled dmarc entry cannot hide.
      const method = KEYWORD.exec(plain)?.[0].toLowerCase();
      if (method) results.push({ method, result: null, properties: {} });
      continue;
    }
    const method = (spec[1] as string).toLowerCase();
    const result = (spec[2] as string).toLowerCase();
    results.push({ method, result, properties: readProperties(dropComments(text.slice(spec[0].length))) });
  }
  return results;
}

/** `reason="…" header.from=example.com policy.dmarc=reject` → { 'header.from': 'example.com', … } */
function readProperties(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  const w = words(text);
  for (let i = 0; i + 2 < w.length; i++) {
    if (w[i + 1] !== '=' || w[i] === '=' || w[i + 2] === '=') continue;
    const key = (w[i] as string).toLowerCase();
    if (!(key in props)) props[key] = unquote(w[i + 2] as string);
    i += 2;
  }
  return props;
}

export interface VerifyDmarcOptions {
  /**
   * The domain of the message's single From address. When given, a `header.from` property on the
   * dmarc result must name the same domain: the server evaluated DMARC for the From it read, and
   * that must be the From we read.
   */
  readonly fromDomain?: string | null;
  /**
   * Microsoft 365: a message with no Authentication-Results header at all is accepted when
   * Exchange marked it `X-MS-Exchange-Organization-AuthAs: Internal` (mail from inside the tenant,
   * which Exchange delivers without the header). Exchange removes that header from mail that
   * arrives from outside, so only the tenant can have set it.
   */
  readonly microsoftInternalFallback?: boolean;
}

/**
 * Accepts only when the topmost Authentication-Results header was written by the trusted server
 * and says `dmarc=pass`. Any other dmarc result in that header (a contradiction, or text an
 * attacker smuggled into a property) rejects.
 */
export function verifyDmarc(
  headerLines: readonly HeaderLine[],
  trustedAuthservId: string,
  options: VerifyDmarcOptions = {},
): DmarcVerdict {
  // '' is Airut's Exchange Online mode: EOP writes no authserv-id, so none can be compared; the
  // header is still the topmost one and must still say dmarc=pass.
  const trusted = trustedAuthservId.trim().toLowerCase();

  const top = firstHeaderValue(headerLines, 'Authentication-Results');
  if (top === null) {
    if (options.microsoftInternalFallback) return internalFallback(headerLines);
    return { ok: false, reason: 'the message has no Authentication-Results header' };
  }

  const parsed = parseAuthenticationResults(top, { idOptional: trusted === '' });
  if (!parsed.ok) return { ok: false, reason: `the topmost Authentication-Results header is malformed: ${parsed.problem}` };

  if (trusted !== '' && parsed.authservId.toLowerCase() !== trusted) {
    return {
      ok: false,
      reason: `the topmost Authentication-Results header comes from "${printable(parsed.authservId)}", not from the trusted server "${trusted}"`,
    };
  }

  const dmarc = parsed.results.filter((r) => r.method === 'dmarc');
  const server = trusted === '' ? 'the topmost Authentication-Results header' : `the trusted server "${trusted}"`;
  if (dmarc.length === 0) return { ok: false, reason: `${server} reported no DMARC result` };
  const notPass = dmarc.find((r) => r.result !== 'pass');
  if (notPass) {
    const what = notPass.result === null ? 'an unreadable DMARC result' : `dmarc=${notPass.result}`;
    return { ok: false, reason: `${server} reported ${what}` };
  }

  const fromDomain = options.fromDomain?.trim().toLowerCase();
  if (fromDomain) {
    for (const r of dmarc) {
      const reported = r.properties['header.from'];
      if (reported === undefined) continue;
      const domain = reported.slice(reported.lastIndexOf('@') + 1).trim().toLowerCase();
      if (domain !== fromDomain) {
        return {
          ok: false,
          reason: `DMARC passed for "${printable(domain)}", but the From address is in "${fromDomain}"`,
        };
      }
    }
  }
  return { ok: true };
}

const AUTH_AS = 'X-MS-Exchange-Organization-AuthAs';

/** `microsoft_internal_fallback`: exactly one AuthAs header, and it says Internal. */
function internalFallback(headerLines: readonly HeaderLine[]): DmarcVerdict {
  const values = headerValues(headerLines, AUTH_AS).map((v) => v.trim());
  if (values.length === 0) return { ok: false, reason: `the message has no Authentication-Results header and no ${AUTH_AS} header` };
  if (values.length > 1) return { ok: false, reason: `the message has no Authentication-Results header and ${values.length} ${AUTH_AS} headers` };
  if (values[0]!.toLowerCase() !== 'internal') {
    return { ok: false, reason: `the message has no Authentication-Results header and ${AUTH_AS} is "${printable(values[0]!)}", not Internal` };
  }
  return { ok: true };
}
