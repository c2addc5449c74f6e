/** The server-rendered pages: tasks, task, conversation (with its network log), repos (the login form is in login.ts). */
import { Hono, type Context } from 'hono';
import { h, href, formatCost, timeTag, type SafeHtml } from '../html.ts';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { parseId } from '../params.ts';
import { taskListPage } from '../task-list-page.ts';
import { pageContext, sendHtml } from '../render.ts';
import { loadRepoOverview, type RepoOverview } from '../repo-overview.ts';
import { conversationLabel, layout, listenerStateBadge, repoBadge, statusLabel, subjectText, taskCard, taskSummary, timelineEvent } from '../views.ts';
import { loadThread, threadView } from '../conversation-thread.ts';
import { repositoriesLine, taskRepositories } from '../task-repositories.ts';
import { requestAndReply } from '../mail-views.ts';
import { taskRequests } from '../task-requests.ts';
import { cleanSubject } from '../title.ts';
import { listTaskFiles } from '../../store/task-content.ts';
import { conversationCost, listConversationTasks, TASK_STATUSES } from '../../store/dashboard-queries.ts';
import { getConversation } from '../../store/conversations.ts';
import { getTask, getTaskMailStorage, type TaskRow } from '../../store/task-queries.ts';
import { storedMailNote } from '../stored-mail.ts';
import { mergedInto, type MergedTask } from '../../store/task-merges.ts';
import type { Db } from '../../store/database.ts';
import type { FailedRepoView } from '../options.ts';
import { listTaskEvents } from '../../store/task-events.ts';
import { currentTaskStage } from '../../store/task-stages.ts';
import { listMailForTask } from '../../store/outgoing-mail.ts';
import { listDeliveriesForTask } from '../../store/webhook-deliveries.ts';
import { webhookDeliveries } from '../webhook-view.ts';
import { listLatestNetworkRequests } from '../../store/network-log.ts';
import { NETWORK_PAGE_ROWS, networkSection } from '../network-view.ts';
import { spendSection } from '../spend-view.ts';
import { scopeOf, scopeSees } from '../access-scope.ts';
import { requireRepo, scopedStatus, visibleRepos } from '../scope-guard.ts';

/** Events rendered into the task page; the rest (a very long run) arrive through the stream. */
const PAGE_EVENTS = 2000;

async function taskPage(d: DashboardDeps, c: Context): Promise<Response> {
  const { db } = d.o;
  const id = parseId(c.req.param('id'));
  const task = id === undefined ? null : getTask(db, id);
  const notFound = (): DashboardError => new DashboardError(404, 'There is no task with this number.');
  if (!task) throw notFound();
  requireRepo(c, task.repoId, notFound);
  const events = listTaskEvents(db, task.id, 0, PAGE_EVENTS);
  const lastId = events.length ? events[events.length - 1]!.id : 0;
  const replies = listMailForTask(db, task.id);
  const request = (await taskRequests(db, [task])).get(task.id) ?? null;
  const now = d.now();
  const body = h`<h1 class="task-title">${subjectText(task)} <span class="muted">#${task.id}</span>${conversationLabel(task.conversationId)}</h1>
<section id="task-summary" class="task-summary">${taskSummary(task, replies, d.security.csrfToken, now, currentTaskStage(db, task.id))}</section>
${repositoriesLine(taskRepositories(db, task.repoId, task.conversationId))}
${storedMailNote(getTaskMailStorage(db, task.id))}
${requestAndReply(task, request, listTaskFiles(db, task.id), replies)}
${handledMails(mergedInto(db, task.id))}
${webhookDeliveries(listDeliveriesForTask(db, task.id))}
<h2>Timeline</h2>
<ol id="timeline" class="timeline" data-task-id="${task.id}" data-after="${lastId}" data-stream="/api/stream/tasks/${task.id}">
${events.map(timelineEvent)}
</ol>
${events.length === 0 ? h`<p class="muted" id="timeline-empty">${archivedNote(db, task) ?? 'No events yet.'}</p>` : ''}`;
  return sendHtml(c, layout(pageContext(d, c), `#${task.id} ${subjectText(task)}`, 'task', body));
}

/** The follow-ups a task handled besides its own mail: coalesced into its run, or delivered live into its session. */
function handledMails(mails: readonly MergedTask[]): SafeHtml {
  if (!mails.length) return h``;
  return h`<h2>Mails handled</h2>
<p class="muted">Besides its own mail, this task answered these follow-ups in one reply.</p>
<ul class="handled-mails" data-role="handled-mails">
${mails.map((m) => h`<li data-task-id="${m.id}"><a href="/tasks/${m.id}">#${m.id}</a> ${m.kind} · <span class="sender">${m.sender ?? '(unknown sender)'}</span> · received ${timeTag(m.createdAt)}</li>`)}
</ul>`;
}

async function conversationPage(d: DashboardDeps, c: Context, repoId: string, convId: string): Promise<Response> {
  const { db } = d.o;
  const notFound = (): DashboardError => new DashboardError(404, 'There is no conversation with this id in this repository.');
  requireRepo(c, repoId, notFound);
  const conv = getConversation(db, repoId, convId);
  const tasks = listConversationTasks(db, repoId, convId);
  if (!conv && tasks.length === 0) throw notFound();
  const now = d.now();
  const first = tasks[0];
  const subject = conv?.subject ? cleanSubject(conv.subject) : first ? subjectText(first) : cleanSubject('');
  const thread = await loadThread(db, repoId, convId, tasks);
  const body = h`<h1 class="conversation-title">${subject}${conversationLabel(convId)}</h1>
<dl class="fields">
<dt>Repository</dt><dd>${repoBadge(repoId)}</dd>
<dt>Conversation</dt><dd><code>${convId}</code></dd>
${conv?.sender || first?.sender ? h`<dt>Started by</dt><dd class="sender">${conv?.sender ?? first?.sender ?? ''}</dd>` : ''}
${conv?.model ? h`<dt>Model</dt><dd>${conv.model}</dd>` : ''}
${conv ? h`<dt>Started</dt><dd>${timeTag(conv.createdAt)}</dd><dt>Last activity</dt><dd>${timeTag(conv.lastActivityAt)}</dd>` : ''}
${conv?.archivedAt ? h`<dt>Archived</dt><dd data-role="archived">${timeTag(conv.archivedAt)} — idle longer than <code>conversation_max_age_days</code>: its workspace, session and the tasks' event logs were deleted; a reply starts a new conversation</dd>` : ''}
<dt>Tasks</dt><dd>${tasks.length}</dd>
<dt>Total cost</dt><dd data-role="total-cost">${formatCost(conversationCost(tasks)) || '$0.0000'}</dd>
</dl>
<h2>Thread</h2>
${threadView(thread, now)}
${networkSection({ repoId, conversationId: convId, tasks, ...listLatestNetworkRequests(db, repoId, convId, NETWORK_PAGE_ROWS) })}`;
  return sendHtml(c, layout(pageContext(d, c), `${subject} · ${convId}`, 'conversation', body));
}

function repoCard(d: DashboardDeps, o: RepoOverview, repoId: string): SafeHtml {
  const s = o.byRepo.get(repoId);
  const hl = o.health.repos[repoId];
  const configured = o.repoIds.includes(repoId);
  const n = (status: string): number => o.counts.find((x) => x.repoId === repoId && x.status === status)?.count ?? 0;
  return h`<article class="repo-card" data-repo="${repoId}">
<div class="card-head">${repoBadge(repoId)}${
    configured ? listenerStateBadge(hl?.state ?? 'unknown', hl?.healthy ?? false) : h`<span class="state">not configured</span>`
  }${configured ? h`<span class="muted">${d.o.config.repos[repoId]?.email.fromAddress ?? ''}</span>` : ''}</div>
<dl class="fields">
${s?.detail ? h`<dt>Detail</dt><dd>${s.detail}</dd>` : ''}
${s?.lastError ? h`<dt>${s.state === 'error' ? 'Cannot log in until fixed' : 'Last error'}</dt><dd class="error-text" data-role="last-error">${s.lastError}</dd>` : ''}
${s?.nextRetryAt ? h`<dt>Next retry</dt><dd>${timeTag(s.nextRetryAt)}</dd>` : ''}
<dt>Last mail seen</dt><dd>${s?.lastMailAt ? timeTag(s.lastMailAt) : 'never'}</dd>
${s ? h`<dt>State since</dt><dd>${timeTag(s.updatedAt)}</dd>` : ''}
<dt>Replies pending</dt><dd>${o.pending.get(repoId) ?? 0}</dd>
</dl>
<div class="table-scroll"><table class="counts"><thead><tr>${TASK_STATUSES.map((st) => h`<th>${statusLabel(st)}</th>`)}</tr></thead>
<tbody><tr>${TASK_STATUSES.map((st) => h`<td>${n(st) ? h`<a href="${href('/', { repo: repoId, status: st })}">${n(st)}</a>` : '0'}</td>`)}</tr></tbody></table></div>
${spendSection(o.spend.get(repoId), d.o.config.repos[repoId]?.budget ?? null)}
</article>`;
}

/** A repository the daemon left out at start (its configuration is invalid): no listener, the reasons. */
function failedRepoCard(f: FailedRepoView): SafeHtml {
  return h`<article class="repo-card" data-repo="${f.id}" data-failed="true">
<div class="card-head">${repoBadge(f.id)}<span class="state unhealthy">failed to start</span></div>
<dl class="fields"><dt>Configuration problems</dt><dd class="error-text" data-role="failed-reason"><ul>${f.problems.map((p) => h`<li>${p}</li>`)}</ul>Fix the configuration (or the .env beside it), then reload.</dd></dl>
</article>`;
}

function reposPage(d: DashboardDeps, c: Context): Response {
  const overview = loadRepoOverview(d);
  const visible = visibleRepos(c, overview.shownIds);
  const status = scopedStatus(c, overview.health, visible);
  const whole = scopeOf(c).repos === null;
  // The configuration file's problems name every repository's settings: the whole view's business only.
  const notice = whole ? (d.o.configNotice?.() ?? null) : null;
  const failed = (d.o.failedRepos?.() ?? []).filter((f) => scopeSees(scopeOf(c), f.id));
  const body = h`<h1>Repositories</h1>
${notice ? h`<div class="overall unhealthy config-notice"><p>${notice.message}</p><ul>${notice.problems.map((p) => h`<li>${p}</li>`)}</ul></div>` : ''}
<p class="overall ${status === 'ok' ? 'healthy' : 'unhealthy'}">Listeners: ${status === 'ok' ? 'all healthy' : 'degraded'}</p>
${failed.map(failedRepoCard)}
${visible.map((repoId) => repoCard(d, overview, repoId))}`;
  return sendHtml(c, layout(pageContext(d, c), 'Repositories', 'repos', body));
}

/** Why a finished task shows no events: its conversation was archived by conversation GC. */
function archivedNote(db: Db, task: TaskRow): string | null {
  if (!task.conversationId) return null;
  const conv = getConversation(db, task.repoId, task.conversationId);
  return conv?.archivedAt ? 'The conversation was archived after being idle; its event log was deleted.' : null;
}

/** `/`, `/tasks/:id`, `/conversations/:repo/:id`, `/repos`. */
export function pageRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .get('/', (c) => taskListPage(d, c))
    .get('/tasks/:id', (c) => taskPage(d, c))
    .get('/conversations/:repo/:id', (c) => conversationPage(d, c, c.req.param('repo'), c.req.param('id')))
    .get('/repos', (c) => reposPage(d, c));
}
