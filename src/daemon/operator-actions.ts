/**
 * What an operator may do to a task from the dashboard: Stop; and what the task API submits. A running task's container is
 * stopped (the runner records `cancelled` and tells the sender); a queued task leaves the queue
 * and its sender is told by mail. Anything else is refused with a sentence the operator can read.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { DashboardActions, SubmitOutcome } from '../dashboard/options.ts';
import type { RejectedMailPolicy } from '../limits/rejected-mail.ts';
import type { IncomingMail } from '../protocol/incoming-mail.ts';
import { recordMail } from '../supervisor/record-mail.ts';
import type { FeedProducer } from '../feed/live-feed.ts';
import type { CancelReason } from '../protocol/runner.ts';
import { finishTaskWithMail } from '../runner/notify-sender.ts';
import type { Db } from '../store/database.ts';
import { getTask } from '../store/task-queries.ts';

export interface OperatorActionsDeps {
  readonly db: Db;
  readonly repos: Readonly<Record<string, RepoServerConfig>>;
  /** Asks a task running in this process to stop; false when it does not run here. */
  readonly cancelRunning: (taskId: number, reason: CancelReason) => boolean;
  readonly feed: FeedProducer;
  /** Mail was queued: the sender should look now. */
  readonly mailQueued: () => void;
  /** A task was finished here (a webhook delivery may be queued): the webhook sender should look now. */
  readonly taskFinished: (taskId: number) => void;
  /** A task was queued: the dispatcher should look now. */
  readonly taskQueued: () => void;
  /** `rejected_mail:` of the configuration that runs. */
  readonly rejectedMail: RejectedMailPolicy;
}

type StopResult = Awaited<ReturnType<DashboardActions['stopTask']>>;

const PAUSED_STOPPED_NOTICE =
  'Your paused task was **stopped** by an operator and will not resume by itself. The work done so far is kept: reply to this mail to give the conversation a new task.';

const REMOVED_FROM_QUEUE_NOTICE =
  'Your task was **removed from the queue** by an operator before it started. Reply to this mail to ask again.';

export function operatorActions(deps: OperatorActionsDeps): DashboardActions {
  return {
    stopTask: async (taskId) => {
      const task = getTask(deps.db, taskId);
      if (!task) return { ok: false, status: 'unknown', message: `task ${taskId} does not exist` };
      if (task.status === 'running') return stopRunning(deps, taskId);
      if (task.status === 'queued') return cancelWaiting(deps, taskId, task.repoId, REMOVE_QUEUED);
      if (task.status === 'paused') return cancelWaiting(deps, taskId, task.repoId, CANCEL_PAUSED);
      return { ok: false, status: task.status, message: `the task is ${task.status}; only queued, running or paused tasks can be stopped` };
    },
    submitTask: (mail) => submitTask(deps, mail),
  };
}

/** Recorded like a scheduled run (src/schedule/record-run.ts): the mail path's limits, no limit notice by mail. */
async function submitTask(deps: OperatorActionsDeps, mail: IncomingMail): Promise<SubmitOutcome> {
  const repo = deps.repos[mail.repoId];
  if (!repo) throw new Error(`internal: no configuration for repo ${mail.repoId}`);
  const outcome = await recordMail(deps.db, repo, mail, Date.now(), deps.rejectedMail);
  // An accepted verdict is never dropped (only mail the screen refused is).
  if (outcome.kind === 'dropped') throw new Error('internal: an API task was dropped');
  deps.feed.taskChanged(outcome.taskId);
  if (outcome.kind === 'queued') deps.taskQueued();
  const v = outcome.verdict;
  return { taskId: outcome.taskId, refusal: outcome.kind === 'rejected' && v.action === 'reject' ? v.detail : null };
}

function stopRunning(deps: OperatorActionsDeps, taskId: number): StopResult {
  return deps.cancelRunning(taskId, 'user')
    ? { ok: true, status: 'running', message: 'stopping: the container is being stopped and the sender will be told' }
    : { ok: false, status: 'running', message: 'the task is not running in this process' };
}

/** How a task that does not run is cancelled from one state: what the sender and the operator read. */
interface CancelWaiting {
  readonly from: 'queued' | 'paused';
  readonly notice: string;
  readonly error: string;
  readonly done: string;
  readonly lost: string;
}

/** A queued task leaves the queue before it started. */
const REMOVE_QUEUED: CancelWaiting = {
  from: 'queued',
  notice: REMOVED_FROM_QUEUE_NOTICE,
  error: 'removed from the queue by an operator',
  done: 'removed from the queue; the sender was told',
  lost: 'the task left the queue meanwhile',
};

/**
 * A paused task (transient API failures outlasted its retries) would resume on the next reply in
 * its thread; stopped, it ends cancelled and a reply starts a new task of the conversation instead.
 */
const CANCEL_PAUSED: CancelWaiting = {
  from: 'paused',
  notice: PAUSED_STOPPED_NOTICE,
  error: 'stopped by an operator while paused',
  done: 'stopped: it will not resume; the sender was told',
  lost: 'the task was resumed meanwhile',
};

async function cancelWaiting(deps: OperatorActionsDeps, taskId: number, repoId: string, c: CancelWaiting): Promise<StopResult> {
  const repo = deps.repos[repoId];
  if (!repo) return { ok: false, status: c.from, message: 'the task belongs to a repository that is no longer configured' };
  const done = await finishTaskWithMail(deps.db, repo, taskId, { kind: 'notice', markdown: c.notice }, { status: 'cancelled', error: c.error }, [c.from]);
  deps.feed.taskChanged(taskId);
  deps.mailQueued();
  if (done) deps.taskFinished(taskId);
  return done
    ? { ok: true, status: 'cancelled', message: c.done }
    : { ok: false, status: getTask(deps.db, taskId)?.status ?? 'unknown', message: c.lost };
}
