/**
 * The task list (`/`): newest first, filtered by repository and status (live over SSE) or searched
 * by words, sender and dates (task-filters.ts, src/store/task-search.ts). A search result page is
 * not live: matching each new task against a search would mean running the search per task per
 * viewer, and a list that changes under the eyes of someone reading results is more confusing than
 * a reload. The page says so. Every filter stays in the URL, so a search can be shared and the
 * "older →" link keeps it.
 */
import type { Context } from 'hono';
import { configuredRepoIds, type DashboardDeps } from './context.ts';
import { h, href, type SafeHtml } from './html.ts';
import { pageContext } from './render.ts';
import { readTaskFilters, type TaskFilterParams, type TaskFilters } from './task-filters.ts';
import { layout, statusLabel, taskCard } from './views.ts';
import { TASK_STATUSES } from '../store/dashboard-queries.ts';
import { searchTaskPage, TaskSearchError } from '../store/task-search.ts';
import type { TaskPage } from '../store/dashboard-queries.ts';
import { scopeOf, scopeSees } from './access-scope.ts';
import { scopeKey, scopeRepoFilter, visibleRepos } from './scope-guard.ts';

export const PAGE_SIZE = 50;

function filterForm(d: DashboardDeps, c: Context, p: TaskFilterParams): SafeHtml {
  const repos = visibleRepos(c, configuredRepoIds(d));
  if (p.repo && !repos.includes(p.repo) && scopeSees(scopeOf(c), p.repo)) repos.push(p.repo);
  const any = Object.values(p).some((v) => v !== undefined);
  return h`<form class="filters search" method="get" action="/" role="search">
<label class="search-words">Search <input type="search" name="q" value="${p.q ?? ''}" placeholder="words in subject or request" maxlength="500"></label>
<label>Sender <input type="text" name="sender" value="${p.sender ?? ''}" placeholder="address or part of it" maxlength="254"></label>
<label>Repository <select name="repo"><option value="">all</option>${repos.map(
    (r) => h`<option value="${r}"${r === p.repo ? h` selected` : ''}>${r}</option>`,
  )}</select></label>
<label>Status <select name="status"><option value="">all</option>${TASK_STATUSES.map(
    (s) => h`<option value="${s}"${s === p.status ? h` selected` : ''}>${statusLabel(s)}</option>`,
  )}</select></label>
<label>From <input type="date" name="from" value="${p.from ?? ''}"></label>
<label>To <input type="date" name="to" value="${p.to ?? ''}"></label>
<button type="submit">Search</button>${any ? h` <a href="/">clear</a>` : ''}
</form>`;
}

function problemList(problems: readonly string[]): SafeHtml {
  return h`<div class="search-problems error-text" role="alert" data-role="search-problems"><p>This search cannot be run:</p><ul>${problems.map((p) => h`<li>${p}</li>`)}</ul></div>`;
}

function resultList(d: DashboardDeps, f: TaskFilters, page: TaskPage, beforeId: number | undefined): SafeHtml {
  const p = f.params;
  const filtered = Object.values(p).some((v) => v !== undefined);
  const streamUrl = beforeId || f.isSearch ? '' : href('/api/stream/tasks', { repo: p.repo, status: p.status });
  const now = d.now();
  return h`${f.isSearch ? h`<p class="muted search-note" data-role="search-note">Search results are not live: reload the page to see tasks that arrived since.</p>` : ''}
${beforeId ? h`<p class="paging"><a href="${href('/', { ...p })}">← newest</a></p>` : ''}
<section id="task-list" class="task-list" data-stream="${streamUrl}">
${page.tasks.length ? page.tasks.map((t) => taskCard(t, now)) : h`<p class="muted empty">No tasks${filtered ? ' match this search' : ' yet'}.</p>`}
</section>
<p class="paging">${page.nextBefore !== null ? h`<a href="${href('/', { ...p, before: page.nextBefore })}" rel="next">older →</a>` : ''}</p>`;
}

function render(d: DashboardDeps, c: Context, body: SafeHtml, status: 200 | 400): Response {
  return c.html(layout(pageContext(d, c), 'Tasks', 'tasks', h`<h1>Tasks</h1>\n${body}`).value, status);
}

/** `GET /`: answers 400 with the form and what is wrong when a filter is malformed. */
export function taskListPage(d: DashboardDeps, c: Context): Response {
  const f = readTaskFilters((name) => c.req.query(name));
  const form = filterForm(d, c, f.params);
  if (f.query === null) return render(d, c, h`${form}\n${problemList(f.problems)}`, 400);
  const ctx = pageContext(d, c);
  const key = `page ${JSON.stringify(f.params)} ${f.beforeId ?? ''} ${ctx.canLogOut} ${scopeKey(c)}`;
  const cached = d.listCache.get(key, d.now());
  if (cached !== null) return c.html(cached);
  let page: TaskPage;
  try {
    // A repository outside the scope has no tasks, as far as this request can tell.
    page =
      f.query.repoId !== undefined && !scopeSees(scopeOf(c), f.query.repoId)
        ? { tasks: [], nextBefore: null }
        : searchTaskPage(d.o.db, { ...f.query, repoIds: scopeRepoFilter(scopeOf(c)), limit: PAGE_SIZE });
  } catch (err) {
    if (err instanceof TaskSearchError) return render(d, c, h`${form}\n${problemList([err.message])}`, 400);
    throw err;
  }
  const html = layout(ctx, 'Tasks', 'tasks', h`<h1>Tasks</h1>\n${form}\n${resultList(d, f, page, f.beforeId)}`).value;
  d.listCache.set(key, html, d.now());
  return c.html(html);
}
