/**
 * One task, start to finish, inside a task-runner thread, as a sequence of named stages
 * (src/runner/stages/), each reporting its start:
 *   repo-inputs → conversation → image → agent → outcome (reply durably queued).
 * This module wires a stage's collaborators into the task context and owns what surrounds the
 * stages: the lease, the stop request, the error reply, and the outbox cleared at the end. Every
 * failure the sender can act on ends in an error reply; nothing is left `running`.
 */
import type { Logger } from '../log/logger.ts';
import { AirutError } from '../errors.ts';
import type { Db } from '../store/database.ts';
import { writeTransaction } from '../store/database.ts';
import { hasEarlierTaskInConversation } from '../store/task-queries.ts';
import { finishTask, renewLease, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import { describeRefusal, type ExpectedTaskState } from '../store/task-transitions.ts';
import { ConversationStore } from '../conversation/index.ts';
import { GitMirror } from '../git/index.ts';
import type { ExecutionBackend } from '../sandbox/execution-backend.ts';
import { stripReplyPrefixes } from '../email/threading.ts';
import type { ComposeBody, ReplyAttachment } from '../reply/compose.ts';
import { readTaskMail, type TaskMail } from '../reply/inbound-mail.ts';
import { queueReply } from '../reply/queue-reply.ts';
import { storageFaultOf } from '../health/storage-faults.ts';
import { TaskEventRecorder } from './event-recorder.ts';
import { UserFacingError } from './user-facing-error.ts';
import { taskStore } from './task-store.ts';
import type { TaskContext } from './task-context.ts';
import { repoInputsStage } from './stages/repo-inputs.ts';
import { conversationStage } from './stages/conversation.ts';
import { imageStage } from './stages/image.ts';
import { agentStage } from './stages/agent.ts';
import { outcomeStage } from './stages/outcome.ts';
import type { CancelReason, DispatcherToRunner, RunnerSettings, RunTaskInput, RunTaskResult, RunnerToDispatcher, TaskStage } from './protocol.ts';

const LEASE_RENEW_MS = 30_000;

/** The stages in order; `enter` reports each one's start. */
export async function runStages(ctx: TaskContext, enter: (stage: TaskStage) => void): Promise<RunTaskResult> {
  enter('repo-inputs');
  const inputs = await repoInputsStage(ctx);
  enter('conversation');
  const conversation = await conversationStage(ctx, inputs);
  enter('image');
  const image = await imageStage(ctx);
  enter('agent');
  const outcome = await agentStage(ctx, inputs, conversation, image);
  enter('outcome');
  return outcomeStage(ctx, inputs, conversation, outcome);
}

/** Runner-wide parts a task-runner thread builds once (workers/task-runner.ts). */
export interface RunnerEnvironment {
  readonly settings: RunnerSettings;
  readonly db: Db;
  readonly backend: ExecutionBackend;
}

export async function runTask(input: RunTaskInput, env: RunnerEnvironment, log: Logger): Promise<RunTaskResult> {
  const { taskId } = input;
  const control = new RunControl(input, env, log);
  try {
    const taskMail = await readTaskMail(env.db, taskId);
    if (!taskMail) throw new AirutError('TASK_NOT_FOUND', `task ${taskId} or its message is missing from the database`);
    const ctx = taskContext(input, env, log, control, taskMail);
    try {
      return await runStages(ctx, (stage) => control.enter(stage, ctx));
    } catch (err) {
      return await control.failed(err, ctx);
    } finally {
      // Whatever the outcome (sent, failed, timed out, stopped, interrupted, thrown), nothing the
      // agent left in outbox/ survives the task: what was attached is in the queued reply already.
      await clearOutboxQuietly(ctx);
    }
  } finally {
    control.close();
  }
}

function taskContext(input: RunTaskInput, env: RunnerEnvironment, log: Logger, control: RunControl, taskMail: TaskMail): TaskContext {
  const { repo, conversationId } = input;
  const { db, settings } = env;
  const { task, parsed, inbound } = taskMail;
  // The run this thread owns: the outcome is recorded only while the row is still this run.
  const run: ExpectedTaskState = { status: 'running', attempt: task.attempts };
  const reply = (body: ComposeBody, attachments: readonly ReplyAttachment[] = [], finish?: TaskOutcomeUpdate) =>
    queueReply(db, repo, { inReplyTo: inbound, conversationId, body, attachments, spoolStem: `task-${task.id}` }, () => {
      const finished = finish ? finishTask(db, task.id, run, finish) : null;
      if (!finished || finished.applied) return { queue: true, taskId: task.id, value: undefined };
      // A run that lost its task to a newer one (requeued after its lease lapsed) neither overwrites that run's state nor replies.
      log.warn({ refused: finished.reason }, `${describeRefusal(task.id, run, finish!.status, finished)}; no reply sent`);
      return { queue: false, value: undefined };
    });
  const interrupt = (error: string): RunTaskResult => {
    const result = writeTransaction(db, () => finishTask(db, task.id, run, { status: 'interrupted', error, resumePending: true }));
    if (!result.applied) log.warn({ refused: result.reason }, describeRefusal(task.id, run, 'interrupted', result));
    return { taskId: task.id, status: 'interrupted' };
  };
  return {
    task,
    repo,
    conversationId,
    bodyText: parsed.bodyText,
    subject: stripReplyPrefixes(task.subject),
    isFirstTask: !hasEarlierTaskInConversation(db, repo.repoId, conversationId, task.id),
    isResume: input.isResume,
    settings,
    log,
    signal: control.signal,
    cancelReason: () => control.cancelReason,
    backend: env.backend,
    mirror: new GitMirror(repo.storageDir, repo.gitRepoUrl),
    conversations: new ConversationStore(repo.storageDir),
    store: taskStore(db, { taskId: task.id, attempt: task.attempts, repoId: repo.repoId, conversationId }),
    events: new TaskEventRecorder(db, task.id, settings.taskOutput.maxEvents, (eventId, kind) => control.post({ type: 'event', taskId: task.id, eventId, kind })),
    now: Date.now,
    reply,
    interrupt,
    onNetworkLogged: (lastId) => control.post({ type: 'network', taskId: task.id, repoId: repo.repoId, conversationId, lastId }),
    onTaskChanged: () => control.post({ type: 'task-changed', taskId: task.id }),
  };
}

/**
 * What surrounds one run on this thread: the dispatcher's port (stop requests in, progress out),
 * the lease renewal, and the reports of stages and storage faults.
 */
class RunControl {
  readonly #abort = new AbortController();
  readonly #lease: NodeJS.Timeout;
  cancelReason: CancelReason | null = null;

  constructor(
    private readonly input: RunTaskInput,
    private readonly env: RunnerEnvironment,
    private readonly log: Logger,
  ) {
    input.port.on('message', (m: DispatcherToRunner) => {
      if (m.type === 'cancel' && !this.cancelReason) {
        this.cancelReason = m.reason;
        log.info({ reason: m.reason }, 'stop requested');
        this.#abort.abort();
      }
    });
    this.#lease = setInterval(() => {
      // A throw here would be uncaught and kill the thread (and the task) over one failed write.
      try {
        renewLease(env.db, input.taskId);
      } catch (err) {
        this.reportStorageFault(err);
        log.warn({ err: (err as Error).message }, 'could not renew the task lease; trying again in 30 s');
      }
    }, LEASE_RENEW_MS);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  post(m: RunnerToDispatcher): void {
    try {
      this.input.port.postMessage(m);
    } catch {
      /* the dispatcher is gone; the store has everything */
    }
  }

  /** Stored with its time (the dashboard and the overhead benchmark read it) and posted for the live view. */
  enter(stage: TaskStage, ctx: TaskContext): void {
    const at = ctx.now();
    try {
      ctx.store.recordStage(stage, at);
    } catch (err) {
      // Only a report: the stage itself runs (and meets the same storage fault if it is real).
      this.reportStorageFault(err);
      this.log.warn({ stage, err: (err as Error).message }, 'could not record the start of a stage');
    }
    this.log.debug({ stage }, 'stage started');
    this.post({ type: 'stage', taskId: this.input.taskId, stage, at });
  }

  /** The error reply for a run that threw; a shutdown's stop is recorded as interrupted instead. */
  async failed(err: unknown, ctx: TaskContext): Promise<RunTaskResult> {
    this.reportStorageFault(err);
    const userMessage =
      err instanceof UserFacingError
        ? err.userMessage
        : 'Something went wrong inside the service while handling your message. The operator has the details in the log.';
    this.log.error({ code: (err as AirutError).code, err: (err as Error).message }, 'task failed');
    if (this.cancelReason === 'shutdown') return ctx.interrupt((err as Error).message);
    try {
      await ctx.reply({ kind: 'error', message: userMessage }, [], { status: 'failed', error: (err as Error).message });
    } catch (e) {
      // The store itself fails: the dispatcher fails the task (or the lease sweep requeues it).
      this.reportStorageFault(e);
      throw e;
    }
    return { taskId: this.input.taskId, status: 'failed' };
  }

  /** A disk or database error goes to the dispatcher for /health; the log line carries the path. */
  reportStorageFault(err: unknown): void {
    const fault = storageFaultOf(err, this.env.settings.databasePath);
    if (!fault) return;
    this.log.error({ path: fault.path, code: fault.code, err: fault.message }, fault.kind === 'database' ? 'database error' : 'disk error');
    this.post({ type: 'storage-fault', taskId: this.input.taskId, repoId: this.input.repo.repoId, fault });
  }

  close(): void {
    clearInterval(this.#lease);
    this.input.port.close();
  }
}

/** Empties the conversation's outbox/; a conversation that was never created has none. */
async function clearOutboxQuietly(ctx: Pick<TaskContext, 'conversations' | 'conversationId' | 'log'>): Promise<void> {
  try {
    if (await ctx.conversations.exists(ctx.conversationId)) await ctx.conversations.clearOutbox(ctx.conversationId);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'could not clear the outbox; the next task of the conversation finds what is left and applies the same limits');
  }
}
