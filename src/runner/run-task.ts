/**
 * One task, start to finish, inside a task-runner thread, as a sequence of named stages
 * (src/runner/stages/), each reporting its start:
 *   repo-inputs → conversation → image → agent → outcome (reply durably queued).
 * This module wires a stage's collaborators into the task context; what surrounds the stages (the
 * lease, the stop request, stage reports, the error reply) is run-control.ts. Every failure the
 * sender can act on ends in an error reply; nothing is left `running`; nothing the agent left in
 * outbox/ survives the task.
 */
import { senderLine } from '../email/from-address.ts';
import type { Logger } from '../log/logger.ts';
import { AirutError } from '../errors.ts';
import { writeTransaction } from '../store/database.ts';
import { hasEarlierTaskInConversation } from '../store/task-queries.ts';
import { taskSchedule } from '../store/schedule-slots.ts';
import { finishTask, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import { describeRefusal, type ExpectedTaskState } from '../store/task-transitions.ts';
import { ConversationStore } from '../conversation/index.ts';
import { GitMirror } from '../git/index.ts';
import { stripReplyPrefixes } from '../email/threading.ts';
import type { ComposeBody, ReplyAttachment } from '../reply/compose.ts';
import { readTaskMail, type TaskMail } from '../reply/inbound-mail.ts';
import { requestTexts } from '../email/parse.ts';
import { parseReposLine } from '../email/repos-line.ts';
import { saveTaskRequest } from '../store/task-content.ts';
import { queueReply } from '../reply/queue-reply.ts';
import { TaskEventRecorder } from './event-recorder.ts';
import { taskStore } from './task-store.ts';
import type { RunnerEnvironment, TaskContext } from './task-context.ts';
import { repoInputsStage } from './stages/repo-inputs.ts';
import { conversationStage } from './stages/conversation.ts';
import { imageStage } from './stages/image.ts';
import { agentStage } from './stages/agent.ts';
import { triggerStage } from './stages/trigger.ts';
import { outcomeStage } from './stages/outcome.ts';
import { RunControl } from './run-control.ts';
import { readCoalescedMails, type HandledMail } from './handled-mails.ts';
import { LiveFollowUps } from './live-follow-ups.ts';
import { taskFiles } from './kept-files.ts';
import type { RunTaskInput, RunTaskResult, TaskStage } from '../protocol/runner.ts';

export type { RunnerEnvironment } from './task-context.ts';

/** The stages in order; `enter` reports each one's start. */
export async function runStages(ctx: TaskContext, enter: (stage: TaskStage) => void): Promise<RunTaskResult> {
  enter('repo-inputs');
  const inputs = await repoInputsStage(ctx);
  enter('conversation');
  const conversation = await conversationStage(ctx, inputs);
  enter('image');
  const image = await imageStage(ctx);
  let run = ctx;
  if (ctx.schedule !== null) {
    enter('trigger');
    const trigger = await triggerStage(ctx, inputs, conversation, image);
    if (!trigger.run) return { taskId: ctx.task.id, status: trigger.status };
    if (trigger.bodyText !== null) {
      run = { ...ctx, bodyText: trigger.bodyText };
      // The agent reads the command's output, not the schedule's prompt: the request shows what it read.
      ctx.store.saveRequestText(trigger.bodyText);
    }
  }
  enter('agent');
  const outcome = await agentStage(run, inputs, conversation, image);
  enter('outcome');
  return outcomeStage(run, inputs, conversation, outcome);
}

export async function runTask(input: RunTaskInput, env: RunnerEnvironment, log: Logger): Promise<RunTaskResult> {
  const { taskId } = input;
  const control = new RunControl(input, env, log);
  try {
    const taskMail = await readTaskMail(env.db, taskId);
    if (!taskMail) throw new AirutError('TASK_NOT_FOUND', `task ${taskId} or its message is missing from the database`);
    // What the agent is asked, for the dashboard; a re-run writes the same row again.
    saveTaskRequest(env.db, taskId, requestTexts(taskMail.parsed));
    const coalesced = await readCoalescedMails(env.db, taskMail.task, input.resumedFromPause);
    const ctx = taskContext(input, env, log, control, taskMail, coalesced);
    if (ctx.live instanceof LiveFollowUps) {
      const live = ctx.live;
      control.onFollowUp = (id) => void live.offer(id);
    }
    try {
      return await runStages(ctx, (stage) => control.enter(stage, ctx));
    } catch (err) {
      return await control.failed(err, ctx);
    } finally {
      // Whatever the outcome (sent, failed, timed out, stopped, interrupted, thrown), nothing the
      // agent left in outbox/ survives the task: what was attached is in the queued reply already.
      await clearOutboxQuietly(ctx);
      // The container's removal ran behind the reply; the task ends (and frees its slot) when it is done.
      await settleBackendQuietly(ctx);
    }
  } finally {
    control.close();
  }
}

function taskContext(input: RunTaskInput, env: RunnerEnvironment, log: Logger, control: RunControl, taskMail: TaskMail, coalesced: readonly HandledMail[]): TaskContext {
  const { repo, conversationId } = input;
  const { db, settings } = env;
  const { task, parsed } = taskMail;
  const conversations = new ConversationStore(repo.storageDir);
  const files = taskFiles({ db, storageDir: repo.storageDir, conversationId, capBytes: settings.taskOutput.maxKeptFileBytesPerTask, log });
  // One reply answers every mail the run handled; it threads to (and goes to the sender of) the newest.
  const inbound = coalesced.at(-1)?.inbound ?? taskMail.inbound;
  // The run this thread owns: the outcome is recorded only while the row is still this run.
  const run: ExpectedTaskState = { status: 'running', attempt: task.attempts };
  const reply = async (body: ComposeBody, attachments: readonly ReplyAttachment[] = [], finish?: TaskOutcomeUpdate): Promise<void> => {
    let queued = false;
    await queueReply(db, repo, { inReplyTo: inbound, conversationId, body, attachments, spoolStem: `task-${task.id}` }, () => {
      const finished = finish ? finishTask(db, task.id, run, finish) : null;
      if (!finished || finished.applied) {
        queued = true;
        return { queue: true, taskId: task.id, value: undefined };
      }
      // A run that lost its task to a newer one (requeued after its lease lapsed) neither overwrites that run's state nor replies.
      log.warn({ refused: finished.reason }, `${describeRefusal(task.id, run, finish!.status, finished)}; no reply sent`);
      return { queue: false, value: undefined };
    });
    // Committed: the sender may send it now, while the task still tidies up (container removal, outbox).
    if (queued) control.post({ type: 'mail-queued', taskId: task.id });
  };
  const interrupt = (error: string): RunTaskResult => {
    const result = writeTransaction(db, () => finishTask(db, task.id, run, { status: 'interrupted', error, resumePending: true }));
    if (!result.applied) log.warn({ refused: result.reason }, describeRefusal(task.id, run, 'interrupted', result));
    return { taskId: task.id, status: 'interrupted' };
  };
  const finishQuietly = (u: TaskOutcomeUpdate): void => {
    const result = writeTransaction(db, () => finishTask(db, task.id, run, u));
    if (!result.applied) log.warn({ refused: result.reason }, describeRefusal(task.id, run, u.status, result));
  };
  const reposLine = parseReposLine(parsed.bodyText);
  return {
    task,
    repo,
    conversationId,
    bodyText: reposLine.body,
    reposLineProblem: reposLine.kind === 'invalid' ? reposLine.problem : null,
    mailRepos: reposLine.kind === 'repos' ? reposLine.repos : [],
    companionRepos: input.companionRepos ?? {},
    companionMirror: (r) => new GitMirror(r.storageDir, r.gitRepoUrl),
    senderLine: senderLine(parsed.from, task.sender ?? ''),
    subject: stripReplyPrefixes(task.subject),
    isFirstTask: !hasEarlierTaskInConversation(db, repo.repoId, conversationId, task.id),
    isResume: input.isResume,
    schedule: taskSchedule(db, task.id),
    resumedFromPause: input.resumedFromPause,
    coalesced,
    live: new LiveFollowUps({ db, taskId: task.id, conversationId, conversations, files, log, onTaskChanged: (id) => control.post({ type: 'task-changed', taskId: id }) }),
    settings,
    log,
    signal: control.signal,
    cancelReason: () => control.cancelReason,
    backend: env.backend,
    mirror: new GitMirror(repo.storageDir, repo.gitRepoUrl),
    conversations,
    files,
    store: taskStore(db, { taskId: task.id, attempt: task.attempts, repoId: repo.repoId, conversationId }),
    events: new TaskEventRecorder(db, task.id, settings.taskOutput.maxEvents, (eventId, kind) => control.post({ type: 'event', taskId: task.id, eventId, kind })),
    now: Date.now,
    reply,
    interrupt,
    finishQuietly,
    onNetworkLogged: (lastId) => control.post({ type: 'network', taskId: task.id, repoId: repo.repoId, conversationId, lastId }),
    onTaskChanged: () => control.post({ type: 'task-changed', taskId: task.id }),
  };
}

/** Waits for the backend to finish tidying up after the task's runs; a failure there was logged where it happened. */
async function settleBackendQuietly(ctx: TaskContext): Promise<void> {
  await ctx.backend.settle(ctx.task.id).catch((err: Error) => ctx.log.warn({ err: err.message }, 'the sandbox did not finish tidying up after the task; the start-up reaper removes what is left'));
}

/** Empties the conversation's outbox/; a conversation that was never created has none. */
async function clearOutboxQuietly(ctx: Pick<TaskContext, 'conversations' | 'conversationId' | 'log'>): Promise<void> {
  try {
    if (await ctx.conversations.exists(ctx.conversationId)) await ctx.conversations.clearOutbox(ctx.conversationId);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'could not clear the outbox; the next task of the conversation finds what is left and applies the same limits');
  }
}
