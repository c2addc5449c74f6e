/**
 * Turns the agent's markdown into the two bodies of a reply. The markdown is untrusted (the agent
 * may echo anything it read); the sanitizing rules live in src/markdown/safe-markdown.ts, shared
 * with the dashboard so both show the same thing.
 */
import { escapeHtml, isSafeHref, renderSafeMarkdown } from '../markdown/safe-markdown.ts';
import { formatUsd } from '../limits/spend-caps.ts';

export { escapeHtml, isSafeHref };

export interface RenderedBody {
  readonly text: string;
  readonly html: string;
}

export interface UsageSummary {
  readonly costUsd?: number | null;
  readonly turns?: number | null;
  readonly durationMs?: number | null;
  readonly model?: string | null;
  /** The sender's spend in the repository, this task included; in every reply, against the caps where set. */
  readonly senderSpend?: SenderSpendFooter | null;
}

/** Spend over the last 24 hours and this calendar month (UTC), with the caps (null: no cap). */
export interface SenderSpendFooter {
  readonly dayUsd: number;
  readonly monthUsd: number;
  readonly dayCapUsd: number | null;
  readonly monthCapUsd: number | null;
}

function spendAgainstCap(usd: number, cap: number | null): string {
  return cap === null ? formatUsd(usd) : `${formatUsd(usd)} of ${formatUsd(cap)}`;
}

const BODY_STYLE =
  'font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#24292e';
const FOOTER_STYLE = 'color:#6a737d;font-size:12px';

/** Markdown → HTML fragment, sanitized by the core the dashboard shares (src/markdown/safe-markdown.ts). */
export function markdownToHtml(source: string): string {
  return renderSafeMarkdown(source, 'mail');
}

function htmlDocument(inner: string): string {
  return (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n</head>\n' +
    `<body style="${BODY_STYLE}">\n${inner}</body>\n</html>\n`
  );
}

function footerHtml(footer: string): string {
  return footer ? `<hr style="border:none;border-top:1px solid #e1e4e8">\n<p style="${FOOTER_STYLE}">${escapeHtml(footer)}</p>\n` : '';
}

function textWithFooter(text: string, footer: string): string {
  const body = text.replace(/\s+$/, '');
  if (!footer) return `${body}\n`;
  return body ? `${body}\n\n${footer}\n` : `${footer}\n`;
}

/** The agent's markdown as text/plain (as-is) and text/html (rendered), each with the footer. */
export function renderReply(markdownSource: string, footer = ''): RenderedBody {
  return {
    text: textWithFooter(markdownSource, footer),
    html: htmlDocument(markdownToHtml(markdownSource) + footerHtml(footer)),
  };
}

/** Plain text (an error explanation, a notice) as both bodies: nothing in it is interpreted. */
export function renderPlain(text: string, footer = ''): RenderedBody {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .trim()
    .split(/\n{2,}/)
    .filter((p) => p.length > 0)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>\n`)
    .join('');
  return { text: textWithFooter(text, footer), html: htmlDocument(paragraphs + footerHtml(footer)) };
}

/** `1m 12s`, `45s`, `2h 3m`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** `— Cost $0.0123 · 4 turns · 1m 12s · model sonnet`; parts that are unknown are left out. */
export function usageFooter(usage: UsageSummary): string {
  const parts: string[] = [];
  if (typeof usage.costUsd === 'number' && Number.isFinite(usage.costUsd)) parts.push(`Cost $${usage.costUsd.toFixed(4)}`);
  if (typeof usage.turns === 'number' && Number.isFinite(usage.turns)) {
    parts.push(`${usage.turns} ${usage.turns === 1 ? 'turn' : 'turns'}`);
  }
  if (typeof usage.durationMs === 'number' && Number.isFinite(usage.durationMs)) parts.push(formatDuration(usage.durationMs));
  if (usage.model) parts.push(`model ${usage.model.replace(/[\u0000-\u001f\u007f]/g, '')}`);
  const s = usage.senderSpend;
  if (s) parts.push(`your spend: 24 h ${spendAgainstCap(s.dayUsd, s.dayCapUsd)}, this month ${spendAgainstCap(s.monthUsd, s.monthCapUsd)}`);
  return parts.length > 0 ? `— ${parts.join(' · ')}` : '';
}
