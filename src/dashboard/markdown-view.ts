/**
 * Untrusted markdown (the agent's text, a request, a reply) as a dashboard fragment. Secrets are
 * redacted in the source first, as `h` does for every string, since the rendered HTML is inserted
 * as is; the sanitizing is the mail's own (src/markdown/safe-markdown.ts).
 */
import { redactSecretValues } from '../log/logger.ts';
import { renderSafeMarkdown, type MarkdownTarget } from '../markdown/safe-markdown.ts';
import { SafeHtml, shorten } from './html.ts';

/** `text` rendered into `<div class="md">`, cut at `max` characters of source; `request` keeps single line breaks. */
export function markdownBlock(text: string, max: number, role = '', target: Exclude<MarkdownTarget, 'mail'> = 'dashboard'): SafeHtml {
  const source = shorten(redactSecretValues(text), max);
  const roleAttr = /^[a-z-]+$/.test(role) ? ` data-role="${role}"` : '';
  return new SafeHtml(`<div class="md"${roleAttr}>${renderSafeMarkdown(source, target)}</div>`);
}
