/**
 * The conversation page as the mail thread, oldest first. Each task that ran is a section: its
 * mail, the task that handled it (the card, which the live stream replaces in place, and its
 * timeline behind a toggle), then its reply. A follow-up merged into a run shows where it
 * entered: a coalesced one (queued while the conversation was busy, answered in the same reply)
 * just before that reply; a live one (delivered into the running session) between the timeline
 * events before and after the moment it arrived.
 */
import type { Db } from '../store/database.ts';
import { listMailForTask, type OutgoingMailSummary } from '../store/outgoing-mail.ts';
import { listConversationFiles, type TaskFile, type TaskRequest } from '../store/task-content.ts';
import { listTaskEvents, type TaskEventRow } from '../store/task-events.ts';
import type { TaskRow } from '../store/task-queries.ts';
import { h, type SafeHtml } from './html.ts';
import { answerMails, incomingMail, repliesWithFiles } from './mail-views.ts';
import { taskRequests } from './task-requests.ts';
import { mergedLink, taskCard, timelineEvent } from './views.ts';

/** Timeline events rendered per task on this page; the task page has them all. */
const THREAD_EVENTS = 500;

export interface ThreadData {
  readonly tasks: readonly TaskRow[];
  readonly requests: ReadonlyMap<number, TaskRequest>;
  readonly files: ReadonlyMap<number, TaskFile[]>;
  readonly mails: ReadonlyMap<number, OutgoingMailSummary[]>;
  readonly events: ReadonlyMap<number, TaskEventRow[]>;
}

/** Everything the thread shows, for the conversation's tasks (in id order, merged ones included). */
export async function loadThread(db: Db, repoId: string, convId: string, tasks: readonly TaskRow[]): Promise<ThreadData> {
  const runs = tasks.filter((t) => t.status !== 'merged');
  return {
    tasks,
    requests: await taskRequests(db, tasks),
    files: listConversationFiles(db, repoId, convId),
    mails: new Map(runs.map((t) => [t.id, answerMails(listMailForTask(db, t.id))])),
    events: new Map(runs.map((t) => [t.id, listTaskEvents(db, t.id, 0, THREAD_EVENTS)])),
  };
}

function mailOf(data: ThreadData, t: TaskRow, note: SafeHtml = h``): SafeHtml {
  return incomingMail(t, data.requests.get(t.id) ?? null, data.files.get(t.id) ?? [], note);
}

function mergedNote(t: TaskRow): SafeHtml {
  const link = mergedLink(t);
  return link ? h` <span class="merged-note" data-role="merged-note">${link}</span>` : h``;
}

function timelineDetails(events: readonly TaskEventRow[], taskId: number, label: string): SafeHtml {
  if (events.length === 0) return h``;
  const more = events.length >= THREAD_EVENTS ? h`<p class="muted">Only the first ${THREAD_EVENTS} events: <a href="/tasks/${taskId}">the task page</a> has them all.</p>` : '';
  return h`<details class="thread-timeline" data-role="thread-timeline"><summary>${label} (${events.length} events)</summary><ol class="timeline">${events.map(timelineEvent)}</ol>${more}</details>`;
}

/** The run's timeline, cut where each live follow-up entered, with that mail in between. */
function timelineWithLiveMails(data: ThreadData, run: TaskRow, live: readonly TaskRow[]): SafeHtml[] {
  const events = data.events.get(run.id) ?? [];
  const out: SafeHtml[] = [];
  let from = 0;
  for (const mail of live) {
    let to = from;
    while (to < events.length && events[to]!.at <= mail.createdAt) to++;
    out.push(timelineDetails(events.slice(from, to), run.id, from === 0 ? 'timeline' : 'timeline, continued'));
    out.push(mailOf(data, mail, mergedNote(mail)));
    from = to;
  }
  out.push(timelineDetails(events.slice(from), run.id, from === 0 ? 'timeline' : 'timeline, continued'));
  return out;
}

function runSection(data: ThreadData, run: TaskRow, followers: readonly TaskRow[], now: number): SafeHtml {
  const live = followers.filter((f) => f.mergeKind === 'live');
  const coalesced = followers.filter((f) => f.mergeKind !== 'live');
  return h`<section class="thread-item" data-role="thread-item" data-run="${run.id}">
${mailOf(data, run)}
<div class="thread-task">${taskCard(run, now)}${timelineWithLiveMails(data, run, live)}</div>
${coalesced.map((f) => mailOf(data, f, mergedNote(f)))}
${repliesWithFiles(data.mails.get(run.id) ?? [], data.files.get(run.id) ?? [])}
</section>`;
}

/** The thread: each run with its merged follow-ups; a merged mail whose run is not in this conversation stands alone. */
export function threadView(data: ThreadData, now: number): SafeHtml {
  const runIds = new Set(data.tasks.filter((t) => t.status !== 'merged').map((t) => t.id));
  const followers = new Map<number, TaskRow[]>();
  const orphans: TaskRow[] = [];
  for (const t of data.tasks) {
    if (t.status !== 'merged') continue;
    if (t.mergedInto !== null && runIds.has(t.mergedInto)) followers.set(t.mergedInto, [...(followers.get(t.mergedInto) ?? []), t]);
    else orphans.push(t);
  }
  const sections = data.tasks
    .filter((t) => runIds.has(t.id))
    .map((run) => runSection(data, run, (followers.get(run.id) ?? []).sort((a, b) => a.createdAt - b.createdAt), now));
  return h`<section id="conversation-tasks" class="thread" data-role="thread">${sections}${orphans.map((t) => mailOf(data, t, mergedNote(t)))}</section>`;
}
