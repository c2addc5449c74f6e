/**
 * Untrusted markdown (the agent's reply, a mail's text) → an HTML fragment that cannot run code
 * nor make the reader's client fetch anything. One core for both places that show it, so the
 * mail's HTML part (src/reply/render.ts) and the dashboard (src/dashboard/markdown-view.ts)
 * sanitize identically:
 * - raw HTML (block or inline) is shown as text, never passed through;
 * - a link keeps its target only when it is absolute http, https or mailto (a relative link means
 *   nothing in a mail and would point into the dashboard), with rel="noopener noreferrer nofollow";
 *   any other link shows its text alone;
 * - an image is never loaded (a tracking pixel at best): it becomes a link to its target, or its
 *   alt text when the target is not allowed.
 * The targets differ only in looks: inline styles for mail clients, classes for the dashboard
 * (whose CSP forbids inline styles).
 */
import { Marked, type Tokens } from 'marked';

/**
 * Where the HTML goes. `request` is the dashboard's look for what a person typed in a mail client:
 * there a single newline is a line break the writer meant (a signature, a list without markers), so
 * it is kept instead of being joined into the paragraph as markdown would.
 */
export type MarkdownTarget = 'mail' | 'dashboard' | 'request';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const SAFE_SCHEMES = new Set(['http', 'https', 'mailto']);

/** What a browser would read as the scheme: it ignores controls and whitespace inside it and decodes `&colon;`. */
function normalisedTarget(href: string): string {
  return href.replace(/[\u0000-\u0020\u007f-\u009f]/g, '').replace(/&(?:colon|#0*58|#x0*3a);?/gi, ':');
}

/**
 * True when a link target cannot run code: no scheme (a relative link or an anchor), or
 * http/https/mailto. A target that still holds an entity after normalising is refused (it may
 * hide its scheme).
 */
export function isSafeHref(href: string): boolean {
  const normalised = normalisedTarget(href);
  if (/&#|&[a-z]+;/i.test(normalised)) return false;
  const scheme = /^([^:/?#]*):/.exec(normalised)?.[1];
  if (scheme === undefined) return true;
  return SAFE_SCHEMES.has(scheme.toLowerCase());
}

/** A target kept as a link: safe, and absolute with one of the allowed schemes. */
export function isAllowedLink(href: string): boolean {
  return isSafeHref(href) && /^(?:https?|mailto):/i.test(normalisedTarget(href));
}

/** The target as an attribute value, or null when it cannot be one (a malformed URI). */
function linkTarget(href: string): string | null {
  if (!isAllowedLink(href)) return null;
  try {
    // As marked's own links do: encode what is not yet encoded, keep existing escapes.
    return escapeHtml(encodeURI(href).replace(/%25/g, '%'));
  } catch {
    return null;
  }
}

const REL = 'noopener noreferrer nofollow';

const MONO = 'font-family:SFMono-Regular,Consolas,Menlo,monospace';
const MAIL_ATTRS = {
  pre: ` style="background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:12px;overflow-x:auto;${MONO};font-size:13px;line-height:1.45;white-space:pre"`,
  codespan: ` style="background:#f6f8fa;border-radius:3px;padding:1px 4px;${MONO};font-size:90%"`,
  htmlBlock: ' style="white-space:pre-wrap"',
  image: '',
};
const DASHBOARD_ATTRS = { pre: ' class="md-pre"', codespan: ' class="md-code"', htmlBlock: ' class="md-raw"', image: ' class="md-image"' };

function buildRenderer(target: MarkdownTarget): Marked {
  const attrs = target === 'mail' ? MAIL_ATTRS : DASHBOARD_ATTRS;
  return new Marked({
    gfm: true,
    breaks: target === 'request',
    async: false,
    renderer: {
      html(token: Tokens.HTML | Tokens.Tag): string {
        const shown = escapeHtml(token.text);
        return token.block ? `<p${attrs.htmlBlock}>${shown.replace(/\n+$/, '')}</p>\n` : shown;
      },
      code(token: Tokens.Code): string {
        const body = token.text.replace(/\n$/, '');
        const lang = (token.lang ?? '').match(/^[\w+#.-]*/)?.[0] ?? '';
        const cls = lang ? ` class="language-${escapeHtml(lang)}"` : '';
        return `<pre${attrs.pre}><code${cls}>${token.escaped ? body : escapeHtml(body)}</code></pre>\n`;
      },
      codespan(token: Tokens.Codespan): string {
        return `<code${attrs.codespan}>${escapeHtml(token.text)}</code>`;
      },
      link(token: Tokens.Link): string {
        const inner = this.parser.parseInline(token.tokens);
        const target = linkTarget(token.href);
        if (target === null) return inner;
        const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
        return `<a href="${target}" rel="${REL}"${title}>${inner}</a>`;
      },
      image(token: Tokens.Image): string {
        const label = escapeHtml(token.text || token.href);
        const target = linkTarget(token.href);
        return target === null ? label : `<a${attrs.image} href="${target}" rel="${REL}">${label}</a>`;
      },
    },
  });
}

const renderers: Record<MarkdownTarget, Marked> = {
  mail: buildRenderer('mail'),
  dashboard: buildRenderer('dashboard'),
  request: buildRenderer('request'),
};

/** Markdown → HTML fragment for the given target; safe to insert as is. */
export function renderSafeMarkdown(source: string, target: MarkdownTarget): string {
  return renderers[target].parse(source, { async: false });
}
