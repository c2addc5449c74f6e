/**
 * One task, start to finish, inside a task-runner thread:
 *   conversation → mirror → repo config → workspace (new) → attachments → acknowledgement (new) →
 *   image → Claude Code in a container (events streamed to the store) → reply (durably queued).
 * Every failure the sender can act on ends in an error reply; nothing is left `running`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { AirutError } from '../errors.ts';
import type { Db } from '../store/database.ts';
import { writeTransaction } from '../store/database.ts';
import { getTaskRawMessage, hasEarlierTaskInConversation, type TaskRow } from '../store/task-queries.ts';
import { finishTask, renewLease, setTaskModel, setTaskNetworkSandbox, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import { describeRefusal, type ExpectedTaskState } from '../store/task-transitions.ts';
import { ackQueued } from '../store/outgoing-mail.ts';
import { conversationSubject, upsertConversation } from '../store/conversations.ts';
import { lastConversationResult } from '../store/task-events.ts';
import { ConversationStore } from '../conversation/index.ts';
import { GitMirror } from '../git/index.ts';
import { withFileLock } from '../git/lock.ts';
import { loadRepoConfigFromMirror, type RepoConfig } from '../repo-config/index.ts';
import { ContainerRuntime } from '../sandbox/container-runtime.ts';
import { ensureImage } from '../sandbox/image.ts';
import { recordRepoImage } from '../store/repo-images.ts';
import { DEFAULT_LIMITS, runAgent, type AgentEvent, type AgentOutcome } from '../sandbox/run-agent.ts';
import { stripReplyPrefixes } from '../email/threading.ts';
import type { ComposeBody, ReplyAttachment } from '../reply/compose.ts';
import { readTaskMail } from '../reply/inbound-mail.ts';
import { queueReply } from '../reply/queue-reply.ts';
import { notAttachedMarkdown } from '../conversation/index.ts';
import { openOutboxAttachments, type OutboxAttachments } from './outbox-attachments.ts';
import { saveAttachments } from './attachments.ts';
import { chooseModel } from './model.ts';
import { TaskEventRecorder } from './event-recorder.ts';
import { buildPrompt } from './prompt.ts';
import { UserFacingError } from './user-facing-error.ts';
import { ALLOWLIST_PATH, parseAllowlist, type Allowlist } from '../proxy/allowlist.ts';
import { buildMaskRules, surrogatePool } from '../proxy/masked-secrets.ts';
import { openSandboxedNetwork, unsandboxedNetwork, type TaskNetwork } from '../sandbox/task-network.ts';
import { envFileDir } from '../sandbox/network-sidecar.ts';
import { instanceId } from '../instance-id.ts';
import { storageFaultOf } from '../health/storage-faults.ts';
import type { CancelReason, DispatcherToRunner, RunTaskInput, RunTaskResult, RunnerToDispatcher } from '../protocol/runner.ts';

const LEASE_RENEW_MS = 30_000;
const CONTAINER_GITCONFIG = '/etc/airut/gitconfig';

export async function runTask(input: RunTaskInput, db: Db, log: Logger): Promise<RunTaskResult> {
  const { taskId, repo, conversationId } = input;
  const abort = new AbortController();
  let cancelReason: CancelReason | null = null;
  input.port.on('message', (m: DispatcherToRunner) => {
    if (m.type === 'cancel' && !cancelReason) {
      cancelReason = m.reason;
      log.info({ reason: m.reason }, 'stop requested');
      abort.abort();
    }
  });
  const post = (m: RunnerToDispatcher) => {
    try {
      input.port.postMessage(m);
    } catch {
      /* the dispatcher is gone; the store has everything */
    }
  };
  const lease = setInterval(() => {
    // A throw here would be uncaught and kill the thread (and the task) over one failed write.
    try {
      renewLease(db, taskId);
    } catch (err) {
      reportStorageFault(err);
      log.warn({ err: (err as Error).message }, 'could not renew the task lease; trying again in 30 s');
    }
  }, LEASE_RENEW_MS);

  const taskMail = await readTaskMail(db, taskId);
  if (!taskMail) {
    clearInterval(lease);
    throw new AirutError('TASK_NOT_FOUND', `task ${taskId} or its message is missing from the database`);
  }
  const { task, parsed, inbound } = taskMail;
  // The run this thread owns: the outcome is recorded only while the row is still this run.
  const run: ExpectedTaskState = { status: 'running', attempt: task.attempts };
  const enqueue = (body: ComposeBody, attachments: readonly ReplyAttachment[] = [], finish?: TaskOutcomeUpdate) =>
    queueReply(db, repo, { inReplyTo: inbound, conversationId, body, attachments, spoolStem: `task-${taskId}` }, () => {
      const finished = finish ? finishTask(db, taskId, run, finish) : null;
      if (!finished || finished.applied) return { queue: true, taskId, value: undefined };
      // A run that lost its task to a newer one (requeued after its lease lapsed) neither overwrites that run's state nor replies.
      log.warn({ refused: finished.reason }, `${describeRefusal(taskId, run, finish!.status, finished)}; no reply sent`);
      return { queue: false, value: undefined };
    });

  try {
    const outcome = await pipeline(
      input,
      task,
      parsed.bodyText,
      db,
      log,
      enqueue,
      abort.signal,
      new TaskEventRecorder(db, taskId, input.globals.taskOutput.maxEvents, (eventId, kind) => post({ type: 'event', taskId, eventId, kind })),
      (lastId) => post({ type: 'network', taskId, repoId: repo.repoId, conversationId, lastId }),
      () => post({ type: 'task-changed', taskId }),
    );
    return await finishWithOutcome(outcome);
  } catch (err) {
    reportStorageFault(err);
    const userMessage =
      err instanceof UserFacingError
        ? err.userMessage
        : 'Something went wrong inside the service while handling your message. The operator has the details in the log.';
    log.error({ code: (err as AirutError).code, err: (err as Error).message }, 'task failed');
    if (cancelReason === 'shutdown') return interrupted((err as Error).message);
    try {
      await enqueue({ kind: 'error', message: userMessage }, [], { status: 'failed', error: (err as Error).message });
    } catch (e) {
      // The store itself fails: the dispatcher fails the task (or the lease sweep requeues it).
      reportStorageFault(e);
      throw e;
    }
    return { taskId, status: 'failed' };
  } finally {
    clearInterval(lease);
    // Whatever the outcome (sent, failed, timed out, stopped, interrupted, thrown), nothing the
    // agent left in outbox/ survives the task: what was attached is in the queued reply already.
    await clearOutboxQuietly(new ConversationStore(repo.storageDir), conversationId, log);
    input.port.close();
  }

  /** A disk or database error goes to the dispatcher for /health; the log line carries the path. */
  function reportStorageFault(err: unknown): void {
    const fault = storageFaultOf(err, input.globals.databasePath);
    if (!fault) return;
    log.error({ path: fault.path, code: fault.code, err: fault.message }, fault.kind === 'database' ? 'database error' : 'disk error');
    post({ type: 'storage-fault', taskId, repoId: repo.repoId, fault });
  }

  function interrupted(error: string): RunTaskResult {
    const result = writeTransaction(db, () => finishTask(db, taskId, run, { status: 'interrupted', error, resumePending: true }));
    if (!result.applied) log.warn({ refused: result.reason }, describeRefusal(taskId, run, 'interrupted', result));
    return { taskId, status: 'interrupted' };
  }

  async function finishWithOutcome(r: PipelineResult): Promise<RunTaskResult> {
    try {
      return await replyToOutcome(r);
    } finally {
      await r.outbox.close();
    }
  }

  async function replyToOutcome(r: PipelineResult): Promise<RunTaskResult> {
    const { outcome, model, timeoutSeconds } = r;
    const attachments = r.outbox.attachments;
    const base = { model, sessionId: outcome.sessionId };
    // Files left out are named in every reply that would have carried them.
    const skipped = notAttachedMarkdown(r.outbox.notAttached);
    const withSkipped = (markdown: string): string => (skipped ? `${markdown}\n\n${skipped}` : markdown);
    if (outcome.kind === 'cancelled') {
      if (cancelReason === 'shutdown') return interrupted('stopped by a shutdown; it runs again after the restart');
      await enqueue(
        { kind: 'notice', markdown: withSkipped('This task was **stopped** by an operator before it finished. Reply to this mail to continue the conversation.') },
        attachments,
        { ...base, status: 'cancelled', error: 'stopped by an operator' },
      );
      return { taskId, status: 'cancelled' };
    }
    if (outcome.kind === 'timeout') {
      const minutes = Math.round(timeoutSeconds / 60);
      await enqueue(
        {
          kind: 'notice',
          markdown: withSkipped(
            `The task hit its time limit of ${timeoutSeconds >= 120 ? `${minutes} minutes` : `${timeoutSeconds} seconds`} and was stopped. ` +
              'The work done so far is kept: reply to this mail to continue, or raise `timeout` in `.airut/airut.yaml`.',
          ),
        },
        attachments,
        { ...base, status: 'timeout', error: `timed out after ${timeoutSeconds} s` },
      );
      return { taskId, status: 'timeout' };
    }
    if (outcome.kind === 'failed') {
      await enqueue(
        { kind: 'error', message: withSkipped(`Claude Code did not finish the task: ${outcome.error}`) },
        attachments,
        { ...base, status: 'failed', error: outcome.error, costUsd: outcome.costUsd },
      );
      return { taskId, status: 'failed' };
    }
    const resumedNote = input.isResume ? '_This task was resumed after a restart of the service._\n\n' : '';
    await enqueue(
      {
        kind: 'reply',
        markdown: withSkipped(resumedNote + (outcome.result.trim() || '_(Claude Code finished without a text answer.)_')),
        usage: { costUsd: outcome.costUsd, turns: outcome.turns, durationMs: outcome.durationMs, model },
      },
      attachments,
      { ...base, status: 'completed', costUsd: outcome.costUsd, turns: outcome.turns, error: null },
    );
    return { taskId, status: 'completed' };
  }
}

interface PipelineResult {
  readonly outcome: AgentOutcome;
  readonly model: string;
  /** The outbox files that go with the reply (open until it is written) and those left out. */
  readonly outbox: OutboxAttachments;
  readonly timeoutSeconds: number;
}

type Enqueue = (body: ComposeBody, attachments?: readonly ReplyAttachment[], finish?: TaskOutcomeUpdate) => Promise<unknown>;

async function pipeline(
  input: RunTaskInput,
  task: TaskRow,
  bodyText: string,
  db: Db,
  log: Logger,
  enqueue: Enqueue,
  signal: AbortSignal,
  events: TaskEventRecorder,
  onNetwork: (lastId: number) => void,
  onTaskChanged: () => void,
): Promise<PipelineResult> {
  const { repo, globals, conversationId } = input;
  // The first task of a conversation is the one that gets the subject as part of its prompt and the
  // acknowledgement. Judged from the database, not from the directory, so a re-run after a crash
  // that happened after the directory was made still counts as the first.
  const isFirstTask = !hasEarlierTaskInConversation(db, repo.repoId, conversationId, task.id);
  const subject = stripReplyPrefixes(task.subject);
  if (!bodyText.trim() && !(isFirstTask && subject.trim())) {
    throw new UserFacingError(
      'MAIL_EMPTY',
      isFirstTask
        ? 'Your message had neither a subject nor a body, so there was nothing to do. Write the task in the body and send it again.'
        : 'Your reply had no text (after removing the quoted history), so there was nothing to do. Write what you want in the reply and send it again.',
    );
  }

  // Mirror first: the repo config and the container image come from its default branch.
  const mirror = new GitMirror(repo.storageDir, repo.gitRepoUrl);
  try {
    await mirror.update();
  } catch (err) {
    throw new UserFacingError('GIT_FETCH_FAILED', `I could not fetch the repository: ${(err as Error).message}`, { cause: err });
  }
  // Masked secrets reach the repository's config (and so the container) only as surrogates, with
  // the sandbox on or off: the repository's own file cannot undo what the operator promised.
  const masks = buildMaskRules(repo.maskedSecrets, await fs.readFile(globals.sandbox.surrogateKeyPath), conversationId);
  let repoConfig: RepoConfig;
  try {
    repoConfig = await loadRepoConfigFromMirror(mirror, { ...repo.secrets, ...surrogatePool(masks) });
  } catch (err) {
    throw new UserFacingError('REPO_CONFIG_INVALID', `The repository's configuration is invalid: ${(err as Error).message}`, { cause: err });
  }
  const sandboxOn = repoConfig.sandboxEnabled && repo.network.sandboxEnabled;
  let allowlist: Allowlist | null = null;
  if (sandboxOn) {
    allowlist = await readAllowlist(mirror);
  } else {
    log.warn(
      { repoSetting: repoConfig.sandboxEnabled, serverSetting: repo.network.sandboxEnabled, maskedSecrets: masks.length },
      masks.length
        ? 'network sandbox is off: the container gets unrestricted network, and masked secrets stay surrogates that nothing swaps'
        : 'network sandbox is off: the container gets unrestricted network',
    );
  }

  const store = new ConversationStore(repo.storageDir);
  let model: string;
  let resumeSessionId: string | null = null;
  const exists = await store.exists(conversationId);
  if (!exists) {
    const choice = chooseModel(task.modelHint, repoConfig.defaultModel, globals.allowedModels);
    if (choice.ignoredHint) log.warn({ hint: choice.ignoredHint, model: choice.model }, 'unknown model hint; using the default');
    model = choice.model;
    await store.create(conversationId, { repoId: repo.repoId, model, subject, sender: task.sender ?? undefined });
    upsertConversation(db, repo.repoId, conversationId, { model, subject, sender: task.sender });
  } else {
    const ctx = await store.readContext(conversationId);
    model = ctx.model;
    resumeSessionId = ctx.sessionId;
  }
  const convPaths = store.paths(conversationId);
  if (isFirstTask && !(await isGitCheckout(convPaths.workspace))) {
    // New conversation, or a re-run after a crash in the middle of the first clone.
    await fs.rm(convPaths.workspace, { recursive: true, force: true });
    try {
      await mirror.cloneWorkspace(convPaths.workspace);
    } catch (err) {
      throw new UserFacingError('GIT_CLONE_FAILED', `I could not clone the repository: ${(err as Error).message}`, { cause: err });
    }
    await store.writeGitconfig(conversationId, gitIdentity(repo.email.from, repo.email.fromAddress), { include: ['/root/.gitconfig'] });
  }
  // Workspaces cloned before origin lost its token still carry it; the next container must not see it.
  if (await mirror.scrubWorkspace(convPaths.workspace)) log.warn('removed repository credentials from the workspace git config');
  if (isFirstTask && !ackQueued(db, task.id)) {
    const dashboardUrl = globals.dashboardBaseUrl ? `${globals.dashboardBaseUrl}/conversations/${repo.repoId}/${conversationId}` : null;
    await enqueue({ kind: 'ack', dashboardUrl });
  }
  setTaskModel(db, task.id, model);

  const raw = getTaskRawMessage(db, task.id)!;
  const saved = await saveAttachments(raw, store, conversationId);
  const paths = store.paths(conversationId);

  // Image from .airut/container/ on the default branch, one build at a time per repo.
  const runtime = new ContainerRuntime({ command: globals.containerCommand });
  const contextDir = await fs.mkdtemp(path.join(os.tmpdir(), `airut-image-${repo.repoId}-`));
  let image: string;
  try {
    const files = await mirror.exportDir('.airut/container', contextDir);
    if (!files.some((f) => f === 'Dockerfile' || f === 'Containerfile')) {
      throw new UserFacingError(
        'IMAGE_CONTEXT_MISSING',
        'The repository has no `.airut/container/Dockerfile` on its default branch, so there is no image to run the task in.',
      );
    }
    const built = await withFileLock(path.join(repo.storageDir, 'image-build.lock'), () =>
      ensureImage({
        runtime,
        contextDir,
        repoId: repo.repoId,
        // The instance label marks the image as this daemon's to prune; the record makes it the current one.
        labels: { instance: instanceId(globals.databasePath) },
        onTag: (tag) => recordRepoImage(db, repo.repoId, tag),
        buildTimeoutMs: globals.imageBuildTimeoutSeconds * 1000,
      }),
    );
    image = built.tag;
    if (built.built) log.info({ image }, 'image built');
  } catch (err) {
    if (err instanceof UserFacingError) throw err;
    if (err instanceof AirutError && err.code === 'IMAGE_BUILD_TIMEOUT') {
      const limit = globals.imageBuildTimeoutSeconds;
      throw new UserFacingError(
        'IMAGE_BUILD_TIMEOUT',
        `Building the container image from \`.airut/container/\` took longer than ${limit >= 120 && limit % 60 === 0 ? `${limit / 60} minutes` : `${limit} seconds`} ` +
          'and was stopped, so the task did not run. Look for a step that waits (a download that hangs, a prompt waiting for input) ' +
          'or makes the build slow; the operator can raise `execution.image_build_timeout`. The image is built again on the next task.\n\n' +
          err.message,
        { cause: err },
      );
    }
    throw new UserFacingError('IMAGE_BUILD_FAILED', `Building the container image failed:\n\n${(err as Error).message}`, { cause: err });
  } finally {
    await fs.rm(contextDir, { recursive: true, force: true });
  }

  // The session id is saved as soon as Claude reports it, so a re-run after a crash resumes it.
  const recordEvent = (e: AgentEvent) => {
    events.record(e);
    if (e.type === 'system_init' && e.sessionId) {
      const sessionId = e.sessionId;
      upsertConversation(db, repo.repoId, conversationId, { sessionId });
      store.updateContext(conversationId, (c) => ({ ...c, sessionId })).catch((err: Error) => {
        log.warn({ err: err.message }, 'could not save the session id to context.json');
      });
    }
  };
  const labels = { task: String(task.id), repo: repo.repoId, conversation: conversationId, instance: instanceId(globals.databasePath) };
  let net: TaskNetwork;
  try {
    net = allowlist
      ? await openSandboxedNetwork({
          runtime,
          globals: globals.sandbox,
          db,
          log,
          taskId: task.id,
          repoId: repo.repoId,
          conversationId,
          sidecarName: `airut-net-${labels.instance}-${task.id}`,
          labels,
          allowlist,
          masks,
          onLogged: (lastId) => onNetwork(lastId),
          maxLogRows: globals.taskOutput.maxNetworkRows,
          onLogTruncated: (t) => events.networkTruncated(t),
        })
      : unsandboxedNetwork(globals.containerNetwork);
  } catch (err) {
    throw new UserFacingError('SANDBOX_START_FAILED', 'The network sandbox for this task could not be started, so the task did not run. The operator has the details in the log.', { cause: err });
  }
  setTaskNetworkSandbox(db, task.id, net.sandboxed);
  onTaskChanged();
  const runOnce = (prompt: string, resume: string | null) =>
    runAgent(
      {
        runtime,
        image,
        // The instance id keeps two daemons on one host (or tests running side by side) from
        // removing each other's containers by name.
        name: `airut-task-${labels.instance}-${task.id}`,
        labels,
        mounts: { workspace: paths.workspace, claudeState: paths.claude, inbox: paths.inbox, outbox: paths.outbox },
        claudeBinary: globals.claudeBinaryPath,
        model,
        resumeSessionId: resume,
        prompt,
        env: { ...repoConfig.containerEnv, GIT_CONFIG_GLOBAL: CONTAINER_GITCONFIG },
        envFileDir: envFileDir(globals.sandbox.stateDir),
        sandboxEnv: net.env,
        timeoutMs: repoConfig.timeoutSeconds * 1000,
        limits: DEFAULT_LIMITS,
        maxLineBytes: globals.taskOutput.maxLineBytes,
        network: net.network,
        extraArgs: [`--volume=${paths.gitconfig}:${CONTAINER_GITCONFIG}:ro`, ...net.extraArgs],
        signal,
      },
      recordEvent,
    );

  const basePrompt = {
    isNewConversation: isFirstTask,
    subject,
    body: bodyText,
    attachments: saved.map((s) => s.savedName),
    resumedAfterRestart: input.isResume,
  };
  let outcome: AgentOutcome;
  try {
    outcome = await runOnce(buildPrompt(basePrompt), resumeSessionId);
    if (outcome.kind === 'failed' && outcome.promptTooLong && resumeSessionId) {
      log.warn('the session no longer fits the context; retrying once in a fresh session');
      const summary = summaryOfConversation(db, repo.repoId, conversationId, task);
      outcome = await runOnce(buildPrompt({ ...basePrompt, summaryOfEarlierSession: summary }), null);
    }
  } finally {
    await net.close();
    // After the network log's own marker; stores the last result if the cap held it back.
    events.finish();
  }
  if (outcome.sessionId) {
    const sessionId = outcome.sessionId;
    await store.updateContext(conversationId, (c) => ({ ...c, sessionId }));
    upsertConversation(db, repo.repoId, conversationId, { sessionId });
  }

  // Capped and opened for streaming; cleared once the task ends, whatever the outcome (see runTask).
  const outbox = await openOutboxAttachments(store, conversationId, globals.taskOutput);
  return { outcome, model, outbox, timeoutSeconds: repoConfig.timeoutSeconds };
}

/** Empties the conversation's outbox/; a conversation that was never created has none. */
async function clearOutboxQuietly(store: ConversationStore, conversationId: string, log: Logger): Promise<void> {
  try {
    if (await store.exists(conversationId)) await store.clearOutbox(conversationId);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not clear the outbox; the next task of the conversation finds what is left and applies the same limits');
  }
}

/** The earlier session, in a few lines: the original subject and the last answer. */
function summaryOfConversation(db: Db, repoId: string, conversationId: string, task: TaskRow): string {
  const lastAnswer = String(lastConversationResult(db, repoId, conversationId, task.id) ?? '');
  const lines = [`- The conversation started with the subject: ${conversationSubject(db, repoId, conversationId) || task.subject}`];
  if (lastAnswer) lines.push(`- Your last answer was:\n${lastAnswer.slice(0, 4000)}`);
  return lines.join('\n');
}

/** The allowlist from the default branch; a missing or broken file stops the task with an explanation. */
async function readAllowlist(mirror: GitMirror): Promise<Allowlist> {
  const bytes = await mirror.readFile(ALLOWLIST_PATH);
  if (bytes === null) {
    throw new UserFacingError(
      'ALLOWLIST_MISSING',
      `The repository has no \`${ALLOWLIST_PATH}\` on its default branch. With the network sandbox on, that would leave the task unable to reach anything, not even the Claude API, so it did not run. Add the file (see docs/repository-setup.md), or turn the sandbox off with \`network: {sandbox_enabled: false}\` in \`.airut/airut.yaml\`.`,
    );
  }
  try {
    return parseAllowlist(bytes.toString('utf8'));
  } catch (err) {
    throw new UserFacingError('ALLOWLIST_INVALID', `The network allowlist on the default branch is invalid, so the task did not run: ${(err as Error).message}`, { cause: err });
  }
}

async function isGitCheckout(dir: string): Promise<boolean> {
  return fs.stat(path.join(dir, '.git')).then(
    () => true,
    () => false,
  );
}

/** Commits in the workspace are made as the repo's own address. */
function gitIdentity(from: string, fromAddress: string): { name: string; email: string } {
  const display = from.replace(/<[^>]*>/, '').replace(/"/g, '').trim();
  return { name: display || 'Airut', email: fromAddress };
}
