/**
 * The conversation page's network log: one table row per request the sandbox proxy saw. Hosts,
 * paths, methods and block reasons come from inside the container (attacker-controlled), so they
 * only ever pass through `h` (escaped, secrets redacted) and never into a link target.
 */
import type { NetworkRequestRow } from '../store/network-log.ts';
import type { TaskRow } from '../store/task-queries.ts';
import { h, href, seg, shorten, timeTag, type SafeHtml } from './html.ts';

/** Rows rendered with the page; a conversation with 100k requests still renders at once. */
export const NETWORK_PAGE_ROWS = 500;
/** Rows the page keeps while it follows the stream; older ones are dropped from the bottom. */
export const NETWORK_LIVE_ROWS = 2000;

function hostText(r: NetworkRequestRow): string {
  return r.port === 80 || r.port === 443 || r.port === 0 ? r.host : `${r.host}:${r.port}`;
}

/** The refs an accepted git push created or moved (src/proxy/git-push-watch.ts). */
function pushedNote(r: NetworkRequestRow): SafeHtml | '' {
  if (!r.pushed?.length) return '';
  return h`<div class="net-pushed" data-role="pushed">pushed: ${r.pushed.map((ref, i) => h`${i ? ', ' : ''}<code>${shorten(ref, 200)}</code>`)}</div>`;
}

/** One request. `data-net-id` lets the page drop a row the stream sends twice. */
export function networkRow(r: NetworkRequestRow): SafeHtml {
  const verdict = r.allowed ? 'allowed' : 'blocked';
  return h`<tr class="net-row net-${verdict}" data-net-id="${r.id}" data-task-id="${r.taskId}">
<td>${timeTag(r.at)}</td>
<td><a href="/tasks/${r.taskId}">#${r.taskId}</a></td>
<td><code>${shorten(r.method, 32)}</code></td>
<td class="net-host">${hostText(r)}</td>
<td class="net-path"><code>${shorten(r.path, 400)}</code></td>
<td title="${r.durationMs} ms">${r.status === 0 ? '—' : r.status}</td>
<td><span class="net-verdict ${verdict}" data-role="verdict">${verdict}</span></td>
<td class="net-rule">${shorten(r.rule, 400)}${r.error ? h`<div class="error-text">${shorten(r.error, 400)}</div>` : ''}${pushedNote(r)}</td>
<td>${r.masked > 0 ? h`<span class="net-masked" title="masked secrets swapped in (headers)">${r.masked}</span>` : ''}${(r.stripped ?? 0) > 0 ? h` <span class="net-stripped" data-role="stripped" title="headers stripped: a credential that was not this task's surrogate, sent to a host a credential is scoped to">stripped ${r.stripped}</span>` : ''}</td>
</tr>`;
}

export interface NetworkSectionInput {
  readonly repoId: string;
  readonly conversationId: string;
  readonly tasks: readonly TaskRow[];
  /** Newest first, at most NETWORK_PAGE_ROWS. */
  readonly rows: readonly NetworkRequestRow[];
  /** Older rows exist beyond `rows`. */
  readonly more: boolean;
}

/** The "Network" section: newest request on top; the script prepends live rows. */
export function networkSection(n: NetworkSectionInput): SafeHtml {
  const apiUrl = `/api/conversations/${seg(n.repoId)}/${seg(n.conversationId)}/network`;
  const streamUrl = `/api/stream/conversations/${seg(n.repoId)}/${seg(n.conversationId)}`;
  const newest = n.rows.length ? n.rows[0]!.id : 0;
  const unsandboxed = n.tasks.filter((t) => t.networkSandbox === false);
  return h`<section id="network" class="network">
<h2>Network</h2>
${
  unsandboxed.length
    ? h`<p class="net-warning" data-role="unsandboxed-note">${unsandboxed.map((t, i) => h`${i ? ', ' : ''}<a href="/tasks/${t.id}">#${t.id}</a>`)} ran with unrestricted network access (the repository turned <code>network.sandbox_enabled</code> off): nothing was filtered, and those requests are not in this log.</p>`
    : ''
}
<p class="muted" id="network-capped"${n.more ? '' : h` hidden`}>Only the newest requests are shown (${NETWORK_PAGE_ROWS} when the page loaded, up to ${NETWORK_LIVE_ROWS} while it stays open). All of them: <a href="${href(apiUrl, { limit: 1000 })}">JSON API</a> (page with <code>?after=</code>).</p>
<div class="table-scroll"><table class="network-log">
<thead><tr><th>Time</th><th>Task</th><th>Method</th><th>Host</th><th>Path</th><th>Status</th><th>Verdict</th><th>Rule / reason</th><th>Masked</th></tr></thead>
<tbody id="network-rows" data-stream="${streamUrl}" data-after="${newest}" data-max="${NETWORK_LIVE_ROWS}">
${n.rows.map(networkRow)}
</tbody>
</table></div>
<p class="muted" id="network-empty"${n.rows.length ? h` hidden` : ''}>No network requests logged yet.</p>
</section>`;
}
