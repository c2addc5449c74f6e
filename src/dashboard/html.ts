/**
 * The one way HTML is built here: a tagged template that escapes every interpolated value unless
 * it is already `SafeHtml` (built by this same template). Every string also passes through
 * `redactSecretValues` on its way in, so a secret that reached the database (an error message,
 * a tool input) is never shown. Synchronous and allocation-light: the tasks page renders on
 * every request.
 */
import { redactSecretValues } from '../log/logger.ts';

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an element body or a double-quoted attribute value. */
const SPECIAL = /[&<>"']/;
export function escapeHtml(text: string): string {
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!) : text;
}

/** Text shown to a person: secrets redacted, then escaped. */
export function clean(text: string): string {
  return redactSecretValues(text);
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) {
    let out = '';
    for (const x of v as readonly HtmlValue[]) out += render(x);
    return out;
  }
  return escapeHtml(redactSecretValues(String(v)));
}

/** `h\`<p>${subject}</p>\`` — interpolations are escaped (and redacted); nested `h` results are not. */
export function h(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/**
 * A link target built from our own route and path segments only (numbers, repo ids, conversation
 * ids), each percent-encoded, so data can never become a `javascript:` URL.
 */
export function href(path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const q = Object.entries(query)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

/** Shortens long text for the timeline, keeping the start. */
export function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours}h ${m % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function formatCost(usd: number | null): string {
  if (usd === null || !Number.isFinite(usd)) return '';
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** UTC, to the second: the same text whatever the viewer's zone, sortable. */
export function formatTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

export function timeTag(ms: number | null): SafeHtml {
  if (ms === null || !Number.isFinite(ms)) return EMPTY;
  const iso = new Date(ms).toISOString();
  return new SafeHtml(`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)}Z</time>`);
}

const EMPTY = new SafeHtml('');
