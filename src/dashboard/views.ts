/**
 * HTML fragments shared by the pages and the live streams: the task card, the task summary, one
 * timeline event, the page layout. Everything from an email or from the agent goes through `h`,
 * which escapes and redacts; links are built from ids only.
 */
import type { RepoStatusRow } from '../store/repo-status.ts';
import type { TaskEventRow } from '../store/task-events.ts';
import type { TaskRow } from '../store/task-queries.ts';
import type { OutgoingMailSummary } from '../store/outgoing-mail.ts';
import type { TaskStageRow } from '../store/task-stages.ts';
import { formatCost, formatDuration, h, href, seg, shorten, timeTag, type SafeHtml } from './html.ts';
import { markdownBlock } from './markdown-view.ts';
import { cleanSubject } from './title.ts';

export interface PageContext {
  readonly csrfToken: string;
  /** Show the log-out button (a token is configured and the visitor is signed in by cookie). */
  readonly canLogOut: boolean;
}

export function layout(ctx: PageContext | null, title: string, page: string, body: SafeHtml, attrs: SafeHtml = h``): SafeHtml {
  return h`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · airut</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body data-page="${page}" data-csrf="${ctx?.csrfToken ?? ''}"${attrs}>
<header class="top">
<a class="brand" href="/">airut</a>
<nav>${ctx ? h`<a href="/">Tasks</a><a href="/repos">Repos</a><a href="/overview">Overview</a>` : ''}</nav>
${
  ctx?.canLogOut
    ? h`<form class="logout" method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.csrfToken}"><button type="submit">Log out</button></form>`
    : ''
}
<span class="live-indicator" id="live-indicator" hidden>live</span>
</header>
<main>
${body}
</main>
</body>
</html>`;
}

export function statusBadge(status: string): SafeHtml {
  return h`<span class="status status-${status.replace(/[^a-z_]/g, '')}" data-role="status">${statusLabel(status)}</span>`;
}

/** A status as people read it: `budget_exceeded` → `budget exceeded`. */
export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

export function repoBadge(repoId: string): SafeHtml {
  return h`<a class="badge repo" href="${href('/', { repo: repoId })}" title="Tasks of ${repoId}">${repoId}</a>`;
}

/** waited / running / took, from the task's timestamps; live ones carry data-since for the ticking script. */
export function durations(t: TaskRow, now: number): SafeHtml {
  const parts: SafeHtml[] = [];
  if (t.status === 'queued') {
    parts.push(h`<span>waiting <span data-since="${t.createdAt}">${formatDuration(now - t.createdAt)}</span></span>`);
  } else if (t.startedAt !== null) {
    parts.push(h`<span>waited ${formatDuration(t.startedAt - t.createdAt)}</span>`);
  }
  if (t.status === 'running' && t.startedAt !== null) {
    parts.push(h`<span>running <span data-since="${t.startedAt}">${formatDuration(now - t.startedAt)}</span></span>`);
  } else if (t.startedAt !== null && t.finishedAt !== null) {
    parts.push(h`<span>took ${formatDuration(t.finishedAt - t.startedAt)}</span>`);
  }
  return h`<span class="durations">${parts.map((p, i) => (i ? h` · ${p}` : p))}</span>`;
}

export const UNSANDBOXED_TITLE = "this task's container had unrestricted network access";

/**
 * Whether the task's container ran behind the network sandbox: a loud badge when it did not
 * (`network.sandbox_enabled: false`), a quiet one when it did, nothing before the container started.
 */
export function sandboxBadge(t: TaskRow): SafeHtml {
  if (t.networkSandbox === false) {
    return h`<span class="net-badge unsandboxed" data-role="sandbox" title="${UNSANDBOXED_TITLE}">unsandboxed</span>`;
  }
  if (t.networkSandbox === true) {
    return h`<span class="net-badge sandboxed" data-role="sandbox" title="this task's container reached the network only through the allowlist proxy">sandboxed</span>`;
  }
  return h``;
}

/** The subject without reply prefixes and the `[ID:…]` tag (title.ts); the id is shown apart by conversationLabel. */
export function subjectText(t: TaskRow): string {
  return cleanSubject(t.subject);
}

/** The conversation id as a small label beside a cleaned title; nothing for a task without one. */
export function conversationLabel(conversationId: string | null): SafeHtml {
  return conversationId ? h`<span class="conv-label" data-role="conversation-label" title="conversation id">${conversationId}</span>` : h``;
}

export function taskCard(t: TaskRow, now: number): SafeHtml {
  return h`<article class="card" data-task-id="${t.id}" data-status="${t.status}">
<div class="card-head">${repoBadge(t.repoId)}<a class="subject" href="/tasks/${t.id}">${subjectText(t)}</a>${conversationLabel(t.conversationId)}${sandboxBadge(t)}${statusBadge(t.status)}</div>
<div class="meta"><span class="sender">${t.sender ?? '(unknown sender)'}</span><span class="id">#${t.id}</span>${timeTag(t.createdAt)}${
    t.model ? h`<span class="model">${t.model}</span>` : t.modelHint ? h`<span class="model">${t.modelHint}?</span>` : ''
  }${t.costUsd !== null ? h`<span class="cost">${formatCost(t.costUsd)}</span>` : ''}</div>
<div class="times">${durations(t, now)}</div>
${t.status === 'rejected' ? h`<div class="reason">Rejected: <strong>${t.reason ?? 'unknown'}</strong>${t.detail ? h` — ${t.detail}` : ''}</div>` : ''}
${t.error && t.status !== 'rejected' ? h`<div class="error-line">${shorten(t.error, 300)}</div>` : ''}
${mergedLine(t)}
</article>`;
}

/** A merged mail names the task that handled it: "coalesced into #N" (or "live into #N"), a link. */
export function mergedLink(t: TaskRow): SafeHtml | null {
  if (t.status !== 'merged' || t.mergedInto === null) return null;
  return h`${t.mergeKind ?? 'merged'} into <a href="/tasks/${t.mergedInto}" data-role="merged-into">#${t.mergedInto}</a>`;
}

function mergedLine(t: TaskRow): SafeHtml {
  const link = mergedLink(t);
  return link ? h`<div class="merged-line">${link}</div>` : h``;
}

/** Queued and running tasks stop; a paused one is stopped from being resumed by a reply. */
export function canStop(status: string): boolean {
  return status === 'queued' || status === 'running' || status === 'paused';
}

function stopLabel(status: string): string {
  if (status === 'running') return 'Stop task';
  if (status === 'paused') return 'Do not resume';
  return 'Remove from queue';
}

export function stopForm(t: TaskRow, csrfToken: string): SafeHtml {
  if (!canStop(t.status)) return h``;
  return h`<form class="stop-form" method="post" action="/api/tasks/${t.id}/stop" data-task-id="${t.id}">
<input type="hidden" name="csrf" value="${csrfToken}">
<button type="submit" class="danger" data-role="stop">${stopLabel(t.status)}</button>
<span class="stop-message" data-role="stop-message" aria-live="polite"></span>
</form>`;
}

function repliesTable(replies: readonly OutgoingMailSummary[]): SafeHtml {
  if (replies.length === 0) return h`<p class="muted">No mail sent for this task yet.</p>`;
  return h`<div class="table-scroll"><table class="replies"><thead><tr><th>Kind</th><th>Subject</th><th>To</th><th>Status</th><th>Attempts</th><th>Last error</th><th>Written</th><th>Sent</th></tr></thead><tbody>
${replies.map(
  (m) => h`<tr data-mail-status="${m.status}"><td>${m.kind}</td><td class="mail-subject">${m.subject}</td><td class="sender">${m.recipient}</td><td>${statusBadge(m.status)}</td><td>${m.attempts}</td><td class="error-text">${m.lastError ?? ''}</td><td>${timeTag(m.createdAt)}</td><td>${timeTag(m.sentAt)}</td></tr>`,
)}
</tbody></table></div>`;
}

function networkField(t: TaskRow): SafeHtml | null {
  if (t.networkSandbox === null) return null;
  const log = t.conversationId
    ? h` · <a href="/conversations/${seg(t.repoId)}/${seg(t.conversationId)}#network" data-role="network-log">request log</a>`
    : '';
  return t.networkSandbox
    ? h`through the allowlist proxy${log}`
    : h`<strong class="error-text">unrestricted</strong> — the repository turned the network sandbox off; nothing was filtered or logged`;
}

/** Where a running task is: the stage its runner last entered in this attempt (src/runner/stages/), and since when. */
function stageField(t: TaskRow, stage: TaskStageRow | null): SafeHtml | null {
  if (t.status !== 'running' || !stage || stage.attempt !== t.attempts) return null;
  return h`<span class="stage" data-role="stage">${stage.stage}</span> since ${timeTag(stage.at)}`;
}

/** The model, and the effort level when one was given (`--effort`). */
function modelField(t: TaskRow): string | null {
  const model = t.model ?? (t.modelHint ? `${t.modelHint} (requested)` : null);
  if (model === null) return null;
  return t.effort ? `${model} · effort ${t.effort}` : model;
}

/** The part of the task page that changes while it runs; replaced as a whole by the live stream. */
export function taskSummary(
  t: TaskRow,
  replies: readonly OutgoingMailSummary[],
  csrfToken: string,
  now: number,
  stage: TaskStageRow | null = null,
): SafeHtml {
  const row = (label: string, value: SafeHtml | string | number | null): SafeHtml =>
    value === null || value === '' ? h`` : h`<dt>${label}</dt><dd>${value}</dd>`;
  return h`<div class="summary-head">${repoBadge(t.repoId)}${statusBadge(t.status)}${sandboxBadge(t)}${stopForm(t, csrfToken)}</div>
<dl class="fields">
${row('Sender', h`<span class="sender">${t.sender ?? '(unknown sender)'}</span>`)}
${row(
  'Conversation',
  t.conversationId ? h`<a href="/conversations/${seg(t.repoId)}/${seg(t.conversationId)}" data-role="conversation">${t.conversationId}</a>` : null,
)}
${row('Handled by', mergedLink(t))}
${row('Stage', stageField(t, stage))}
${row('Network', networkField(t))}
${row('Model', modelField(t))}
${row('Cost', t.costUsd !== null ? h`${formatCost(t.costUsd)} <span class="muted">(session total)</span>` : null)}
${row('Turns', t.turns)}
${row('Received', timeTag(t.createdAt))}
${row('Started', t.startedAt !== null ? timeTag(t.startedAt) : null)}
${row('Finished', t.finishedAt !== null ? timeTag(t.finishedAt) : null)}
${row('Durations', durations(t, now))}
${row('Attempts', t.attempts > 1 ? t.attempts : null)}
${row('API retries', t.apiRetries > 0 ? h`<span data-role="api-retries">${t.apiRetries}</span> <span class="muted">(after temporary API failures; see the timeline)</span>` : null)}
${row('Message-ID', t.messageId)}
${row('Rejected because', t.status === 'rejected' ? h`<strong>${t.reason ?? 'unknown'}</strong>${t.detail ? h` — ${t.detail}` : ''}` : null)}
</dl>
${t.error ? h`<div class="error-box"><h3>Error</h3><pre>${shorten(t.error, 8000)}</pre></div>` : ''}
<h2>Mail sent</h2>
${repliesTable(replies)}`;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

/** The one field of a tool's input that says what it does, for the collapsed line. */
function toolInputHeadline(input: unknown): string {
  if (!isObject(input)) return typeof input === 'string' ? input : '';
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt', 'notebook_path']) {
    const v = input[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return '';
}

function jsonPreview(v: unknown, max: number): string {
  let s: string;
  try {
    s = JSON.stringify(v, null, 2) ?? '';
  } catch {
    s = String(v);
  }
  return shorten(s, max);
}

/** One row of the timeline. `data` is the stored AgentEvent (or a truncation marker). */
export function timelineEvent(e: TaskEventRow): SafeHtml {
  const d = isObject(e.data) ? e.data : {};
  const at = timeTag(e.at);
  const wrap = (cls: string, label: string, body: SafeHtml): SafeHtml =>
    h`<li class="event ev-${cls}" data-event-id="${e.id}"><div class="ev-head"><span class="ev-kind">${label}</span>${at}</div>${body}</li>`;
  if (d.truncated === true) {
    return wrap('raw', e.kind, h`<pre class="text">${shorten(str(d.preview), 2000)} [truncated]</pre>`);
  }
  switch (e.kind) {
    case 'system_init':
      return wrap('system', 'session started', h`<div class="muted">model ${str(d.model)} · session ${str(d.sessionId)}</div>`);
    case 'assistant_text':
      return wrap('text', 'assistant', markdownBlock(str(d.text), 20000));
    case 'tool_use': {
      const headline = toolInputHeadline(d.input);
      return wrap(
        'tool',
        `tool · ${str(d.name)}`,
        h`<div class="tool-line"><code>${shorten(headline.replace(/\s+/g, ' '), 240)}</code></div>
<details><summary>input</summary><pre>${jsonPreview(d.input, 4000)}</pre></details>`,
      );
    }
    case 'tool_result': {
      const content = str(d.content);
      return wrap(
        d.isError === true ? 'tool-error' : 'tool-result',
        d.isError === true ? 'tool error' : 'tool result',
        content === '' ? h`<div class="muted">(empty)</div>` : h`<details><summary>${shorten(content.split('\n', 1)[0] ?? '', 160)}</summary><pre>${shorten(content, 4000)}</pre></details>`,
      );
    }
    case 'todo_list': {
      const todos = Array.isArray(d.todos) ? d.todos.filter(isObject) : [];
      const done = todos.filter((t) => t.status === 'completed').length;
      return wrap(
        'todo',
        'todo list',
        h`<div class="todo-progress"><progress max="${Math.max(todos.length, 1)}" value="${done}"></progress> ${done}/${todos.length} done</div>
<ul class="todos">${todos.map((t) => {
          const status = str(t.status);
          const text = status === 'in_progress' && typeof t.activeForm === 'string' ? t.activeForm : str(t.content);
          return h`<li class="todo todo-${status.replace(/[^a-z_]/g, '')}"><span class="todo-mark">${status === 'completed' ? '✓' : status === 'in_progress' ? '▸' : '○'}</span> ${shorten(text, 500)}</li>`;
        })}</ul>`,
      );
    }
    case 'result': {
      const isError = d.isError === true;
      const facts = [
        typeof d.costUsd === 'number' ? formatCost(d.costUsd) : '',
        typeof d.turns === 'number' ? `${d.turns} turns` : '',
        typeof d.durationMs === 'number' ? formatDuration(d.durationMs) : '',
      ].filter((x) => x !== '');
      return wrap(
        isError ? 'result-error' : 'result',
        isError ? `result · error (${str(d.subtype)})` : 'result',
        h`<div class="muted">${facts.join(' · ')}</div>${markdownBlock(str(d.result), 20000)}`,
      );
    }
    case 'raw':
      return wrap('raw', 'output', h`<pre class="text">${shorten(str(d.text), 4000)}</pre>`);
    case 'api_retry':
      // Written by the daemon before it waits and resumes the session after a transient API failure.
      return wrap('retry', `API retry ${str(d.attempt)} · ${str(d.cause).replace(/_/g, ' ')}`, h`<div class="muted">${shorten(str(d.message), 500)}</div>`);
    case 'output_truncated':
      // Written by the daemon when a cap of task_output cut the agent's output or network log.
      return wrap('raw', 'output truncated', h`<div class="muted">${shorten(str(d.message), 500)}</div>`);
    default:
      return wrap('raw', e.kind, h`<pre>${jsonPreview(e.data, 4000)}</pre>`);
  }
}

export function listenerStateBadge(state: string, healthy: boolean): SafeHtml {
  return h`<span class="state ${healthy ? 'healthy' : 'unhealthy'}">${state}</span>`;
}

export type { RepoStatusRow };
