/**
 * Runs Claude Code once inside a container and reports its progress and outcome.
 *
 * The container is named and labelled (so a crashed daemon's leftovers can be reaped by label) and
 * started without `--rm`; it is removed explicitly when the run ends, whatever the outcome.
 *
 * Task variables: every entry of `spec.env` (secrets included) reaches the container through an
 * env file readable only by the daemon and removed as soon as the container runs (env-file.ts). No
 * value ever appears on a command line (argv is readable by every local user through `ps`), and
 * no name a repository chooses reaches the runtime CLI's own environment, which stays the fixed
 * one of ContainerRuntime.processEnv(). Values are never logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { logger, type Logger } from '../log/logger.ts';
import { tailLines, type ContainerRuntime } from './container-runtime.ts';
import { writeEnvFile } from './env-file.ts';
import { envArgs, invalidSpec as invalid, isolationArgs, SAFE_ARG, type ResourceLimits } from './container-args.ts';
import { classifyOutcome, type AgentOutcome } from './outcome.ts';
import { followAgentOutput } from './agent-output.ts';
import { selectReplyText } from './reply-text.ts';
import { AgentInput, type AgentInputHandle } from './agent-input.ts';
import type { AgentEvent } from './stream-json.ts';

export type { AgentOutcome } from './outcome.ts';
export type { AgentEvent } from './stream-json.ts';

/** Where things are inside the container. */
export const CONTAINER_PATHS = {
  workspace: '/workspace',
  claudeState: '/root/.claude',
  inbox: '/inbox',
  outbox: '/outbox',
  // Kept between the tasks of a conversation (Airut's /storage); the prompt names it.
  storage: '/storage',
  // Not /usr/local/bin/claude: an image may already have a `claude` there (often a symlink), and
  // bind-mounting over a symlink mounts onto its target.
  claudeBinary: '/opt/claude/claude',
} as const;

/** Host directories mounted into the container. */
export interface AgentMounts {
  readonly workspace: string;
  readonly claudeState: string;
  readonly inbox: string;
  readonly outbox: string;
  readonly storage: string;
}

/** A host directory mounted beside /workspace (a companion repository at /repos/<name>). */
export interface RepoMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export { DEFAULT_LIMITS, type ResourceLimits } from './container-args.ts';

export interface AgentRunSpec {
  readonly runtime: ContainerRuntime;
  readonly image: string;
  /** Container name; unique per run (e.g. derived from the task id). */
  readonly name: string;
  /** Opaque identifiers (task, repo, conversation); each becomes an `airut.<key>` label. */
  readonly labels: Readonly<Record<string, string>>;
  readonly mounts: AgentMounts;
  /** More directories (companion repositories), each read-only or not; targets must be absolute. */
  readonly repoMounts?: readonly RepoMount[];
  /** Host path of the Claude Code binary, mounted read-only. */
  readonly claudeBinary: string;
  readonly model: string;
  /** `--effort`; null leaves Claude Code's default. */
  readonly effort?: 'low' | 'medium' | 'high' | 'max' | null;
  /** `--max-budget-usd`: Claude Code stops once the session has spent this much; null for no limit. */
  readonly maxBudgetUsd?: number | null;
  readonly resumeSessionId: string | null;
  readonly prompt: string;
  /** Secrets and container_env, any names. Values never reach argv, a log line or the CLI's environment. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * A directory of the daemon's (created 0700 if missing) for the short-lived env file; the
   * caller's start-up cleanup should empty it. Default: `airut-env-<uid>` in the temp directory.
   */
  readonly envFileDir?: string;
  readonly timeoutMs: number;
  readonly limits: ResourceLimits;
  /** Capabilities added back after `--cap-drop=ALL` (container-args.ts ALLOWED_CAPABILITIES). */
  readonly capabilities?: readonly string[];
  /** `default`: the runtime's default network; `none`; or a network name (`host` in tests). */
  readonly network: 'none' | 'default' | (string & {});
  /**
   * Non-secret variables the sandbox sets (proxy, CA bundle). They may use reserved names and win
   * over `env` entries of the same name.
   */
  readonly sandboxEnv?: Readonly<Record<string, string>>;
  /** Extra `run` flags placed before the image, e.g. `--cap-add=CHOWN` for an image that needs it. */
  readonly extraArgs?: readonly string[];
  /** Aborting stops the container; the outcome is `cancelled`. */
  readonly signal?: AbortSignal;
  /** SELinux hosts: relabel the mounts (`:Z` private, `:z` for the shared binary). */
  readonly relabelMounts?: boolean;
  /** Seconds between SIGTERM and SIGKILL when the run is stopped. Default 5. */
  readonly stopGraceSeconds?: number;
  /** Longest stdout line kept (`task_output.max_line_bytes`); the rest is dropped as it arrives. Default 4 MiB. */
  readonly maxLineBytes?: number;
  /**
   * Called once the agent runs, with a handle to write one more user message into the session
   * (agent-input.ts); it returns false once the input is closed (the session answered everything).
   */
  readonly onInput?: (input: AgentInputHandle) => void;
}

export type AgentEventHandler = (event: AgentEvent) => void;

/**
 * Set by the sandbox for Claude Code itself; a task variable may not change them.
 *
 * CLAUDE_CODE_MAX_RETRIES=0 (below, always): the daemon owns retries (src/runner/api-retry.ts). Without it the CLI
 * retries an overloaded API up to 10 times inside the run, invisible to the dashboard and eating the
 * task's timeout; with it a transient failure ends the run at once with the API's status in the
 * result line, and the daemon waits outside the container and resumes the session.
 *
 * CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1 (always, as Airut does, its #617): with background tasks a
 * `-p` run can end before the results of backgrounded Bash commands arrive, and the reply would be
 * written without them.
 */
const SANDBOX_OWNED_ENV = new Set(['IS_SANDBOX', 'CLAUDE_CONFIG_DIR']);
/** Ignored when a task sets it (repositories set it before the daemon did): the `-e` flag wins. */
const SANDBOX_FORCED_ENV = new Set(['CLAUDE_CODE_MAX_RETRIES', 'CLAUDE_CODE_DISABLE_BACKGROUND_TASKS']);
const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
/** How often a Docker run checks whether its container exists yet (to drop the env file). */
const ENV_FILE_POLL_MS = 50;

function hostPath(label: string, path: string): string {
  if (!isAbsolute(path)) throw invalid(`${label} mount "${path}" must be an absolute path`);
  // `-v` separates source, target and options with ':'; a ',' would break `--mount` style parsers.
  if (/[:,\n]/.test(path)) throw invalid(`${label} mount "${path}" must not contain ':' ',' or a newline`);
  return path;
}

/**
 * The `run` arguments for a spec, with `envFilePath` as the `--env-file`, and the text that file
 * must hold. Exported so tests can check that no secret value is on the command line. Pure apart
 * from validation errors.
 */
export function buildRunArgs(spec: AgentRunSpec, envFilePath: string): { args: string[]; envFileText: string } {
  if (!SAFE_ARG.test(spec.model)) throw invalid(`model "${spec.model}" is not valid`);
  if (spec.resumeSessionId !== null && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(spec.resumeSessionId)) {
    throw invalid(`session id "${spec.resumeSessionId}" is not valid`);
  }
  const own = spec.relabelMounts ? ':Z' : '';
  const args = ['run', '-i', ...isolationArgs(spec)];
  // A repository's own value of a variable the sandbox forces is dropped, not refused (see SANDBOX_FORCED_ENV).
  const taskEnv = Object.fromEntries(Object.entries(spec.env).filter(([name]) => !SANDBOX_FORCED_ENV.has(name)));
  const env = envArgs(taskEnv, spec.sandboxEnv ?? {}, envFilePath, SANDBOX_OWNED_ENV);
  args.push(...env.args);
  const envFileText = env.envFileText;
  args.push('-e', 'IS_SANDBOX=1', '-e', `CLAUDE_CONFIG_DIR=${CONTAINER_PATHS.claudeState}`, '-e', 'CLAUDE_CODE_MAX_RETRIES=0');
  args.push('-e', 'CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1');

  args.push('-w', CONTAINER_PATHS.workspace);
  const m = spec.mounts;
  args.push('-v', `${hostPath('workspace', m.workspace)}:${CONTAINER_PATHS.workspace}${own}`);
  args.push('-v', `${hostPath('claudeState', m.claudeState)}:${CONTAINER_PATHS.claudeState}${own}`);
  args.push('-v', `${hostPath('inbox', m.inbox)}:${CONTAINER_PATHS.inbox}${own}`);
  args.push('-v', `${hostPath('outbox', m.outbox)}:${CONTAINER_PATHS.outbox}${own}`);
  args.push('-v', `${hostPath('storage', m.storage)}:${CONTAINER_PATHS.storage}${own}`);
  args.push(
    '-v',
    `${hostPath('claudeBinary', spec.claudeBinary)}:${CONTAINER_PATHS.claudeBinary}:ro${spec.relabelMounts ? ',z' : ''}`,
  );
  for (const r of spec.repoMounts ?? []) {
    if (!/^\/[A-Za-z0-9/_.-]+$/.test(r.target) || r.target.includes('..')) throw invalid(`mount target "${r.target}" is not a plain absolute path`);
    const options = [r.readOnly ? 'ro' : '', spec.relabelMounts ? 'Z' : ''].filter(Boolean).join(',');
    args.push('-v', `${hostPath('repo', r.source)}:${r.target}${options ? `:${options}` : ''}`);
  }
  args.push(...(spec.extraArgs ?? []));

  args.push(spec.image, CONTAINER_PATHS.claudeBinary, '-p', '--output-format', 'stream-json', '--verbose');
  // The prompt and any later message go in on stdin; each batch taken is echoed (agent-input.ts).
  args.push('--input-format', 'stream-json', '--replay-user-messages');
  args.push('--model', spec.model);
  if (spec.effort) {
    if (!['low', 'medium', 'high', 'max'].includes(spec.effort)) throw invalid(`effort "${spec.effort}" is not valid`);
    args.push('--effort', spec.effort);
  }
  if (spec.maxBudgetUsd !== undefined && spec.maxBudgetUsd !== null) {
    if (!Number.isFinite(spec.maxBudgetUsd) || spec.maxBudgetUsd <= 0) throw invalid(`budget ${spec.maxBudgetUsd} is not valid`);
    args.push('--max-budget-usd', String(spec.maxBudgetUsd));
  }
  if (spec.resumeSessionId !== null) args.push('--resume', spec.resumeSessionId);
  args.push('--dangerously-skip-permissions');
  return { args, envFileText };
}

function defaultEnvFileDir(): string {
  return join(tmpdir(), `airut-env-${process.getuid?.() ?? 'user'}`);
}

/**
 * Runs the agent to the end. Events are delivered to `onEvent` as the lines arrive. Resolves with
 * the outcome; rejects only when the run could not be attempted (invalid spec, runtime missing).
 * The container is always removed afterwards, after the outcome is returned: `containerRemoved(spec.name)`
 * resolves once it is gone. The mounted directories are kept.
 */
export async function runAgent(spec: AgentRunSpec, onEvent: AgentEventHandler): Promise<AgentOutcome> {
  // Builds once to validate the spec before anything is written; the file's real path comes later.
  const { envFileText } = buildRunArgs(spec, '/placeholder');
  const log = logger().child({ container: spec.name, ...spec.labels });
  if (spec.signal?.aborted) return { kind: 'cancelled', sessionId: null };
  // A second run of the same task (a retry) must not race the removal of the first's container.
  await containerRemoved(spec.name);

  const m = spec.mounts;
  await Promise.all([m.workspace, m.claudeState, m.inbox, m.outbox, m.storage].map((d) => mkdir(d, { recursive: true })));
  // A container left by a crash with the same name would make `run` fail; podman's `run --replace` removes it itself.
  if (!spec.runtime.replacesOnRun) await spec.runtime.removeContainer(spec.name);
  const envFile = await writeEnvFile(spec.envFileDir ?? defaultEnvFileDir(), envFileText);
  try {
    return await runContainer(spec, buildRunArgs(spec, envFile.path).args, onEvent, envFile.remove, log);
  } finally {
    await envFile.remove();
  }
}

/** Starts the container with `args` and follows it to the end; `dropEnvFile` runs once it is up. */
async function runContainer(
  spec: AgentRunSpec,
  args: string[],
  onEvent: AgentEventHandler,
  dropEnvFile: () => Promise<void>,
  log: Logger,
): Promise<AgentOutcome> {
  const { runtime } = spec;
  const startedAt = Date.now();
  log.info({ image: spec.image, model: spec.model, resume: spec.resumeSessionId, envNames: Object.keys(spec.env) }, 'agent container starting');
  const child = spawn(runtime.command, args, { env: runtime.processEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = childExit(child, runtime);
  dropEnvFileOnceCreated(spec, child, exited, dropEnvFile, log);

  const stopper = agentStopper(spec, child, exited, log);
  const timer = setTimeout(() => void stopper.stop('timeout'), spec.timeoutMs);
  const onAbort = (): void => void stopper.stop('cancelled');
  spec.signal?.addEventListener('abort', onAbort, { once: true });

  child.stdin.on('error', () => undefined); // EPIPE when the container never started; the exit code tells.
  const input = new AgentInput(child.stdin);
  input.send(spec.prompt);
  const followed = followAgentOutput(child, spec.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, onEvent, log, input);
  exited.then(
    () => input.close(),
    () => input.close(),
  );
  spec.onInput?.(input.handle());

  let exitCode: number | null;
  try {
    exitCode = await exited;
    await followed.done;
    await stopper.settled();
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', onAbort);
    removeAfterRun(spec, log);
  }

  const { output } = followed;
  const outcome = classifyOutcome({
    exitCode,
    result: output.result,
    sessionId: output.sessionId,
    stderrTail: tailLines(output.stderrTail, 40),
    lastAssistantText: output.lastAssistantText,
    replyText: selectReplyText(output),
    timedOut: stopper.timedOut,
    cancelled: stopper.cancelled,
  });
  log.info(
    { outcome: outcome.kind, exitCode, sessionId: outcome.sessionId, ms: Date.now() - startedAt },
    'agent container finished',
  );
  return outcome;
}

/**
 * Removals of finished runs' containers, by name. The outcome is known once the CLI has exited, so
 * the reply need not wait for the runtime to delete the stopped container (one more CLI call, 0.1 s
 * or more): the removal goes on while the caller records the outcome and queues the reply, and
 * whoever must know the container is gone waits for `containerRemoved`.
 */
const removals = new Map<string, Promise<void>>();

function removeAfterRun(spec: AgentRunSpec, log: Logger): void {
  const removal: Promise<void> = spec.runtime
    .removeContainer(spec.name)
    .catch((err: unknown) => {
      log.error({ err: String(err) }, 'could not remove agent container; the reaper will retry');
    })
    .finally(() => {
      if (removals.get(spec.name) === removal) removals.delete(spec.name);
    });
  removals.set(spec.name, removal);
}

/** Resolves once the container of the last run named `name` has been removed (or its removal failed and was logged). */
export function containerRemoved(name: string): Promise<void> {
  return removals.get(name) ?? Promise.resolve();
}

/** The CLI's exit code; rejects when it could not be started (CONTAINER_RUNTIME_MISSING when absent). */
function childExit(child: ChildProcess, runtime: ContainerRuntime): Promise<number | null> {
  return new Promise<number | null>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? runtime.missingError(err) : err);
    });
    child.once('close', (code) => resolve(code));
  });
}

/**
 * Removes the env file as soon as the CLI has read it, which it does before it creates the
 * container. Output from the container proves that with podman, whose output arrives at once.
 * Docker's attached output can lag behind the container (the agent may already be calling the API),
 * so there the container's existence is watched for as well.
 */
function dropEnvFileOnceCreated(
  spec: AgentRunSpec,
  child: ChildProcess,
  exited: Promise<unknown>,
  dropEnvFile: () => Promise<void>,
  log: Logger,
): void {
  let dropped = false;
  const drop = (): void => {
    if (dropped) return;
    dropped = true;
    dropEnvFile().catch((err: Error) => log.warn({ err: err.message }, 'could not remove the env file; it goes when the run ends'));
  };
  child.stdout?.once('data', drop);
  if (spec.runtime.kind !== 'docker') return;
  let over = false;
  exited.then(
    () => (over = true),
    () => (over = true),
  );
  void (async () => {
    while (!over && !dropped) {
      if (await spec.runtime.containerExists(spec.name).catch(() => false)) return drop();
      await delay(ENV_FILE_POLL_MS);
    }
  })();
}

interface AgentStopper {
  /** Stops and removes the container; the first reason given wins. Returns the one stop in progress. */
  stop(why: 'timeout' | 'cancelled'): Promise<void>;
  /** Resolves when a stop (if any was asked for) has finished. */
  settled(): Promise<void>;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

function agentStopper(spec: AgentRunSpec, child: ChildProcess, exited: Promise<unknown>, log: Logger): AgentStopper {
  const { runtime } = spec;
  let stopping: Promise<void> | null = null;
  let timedOut = false;
  let cancelled = false;
  const stop = (why: 'timeout' | 'cancelled'): Promise<void> => {
    if (why === 'timeout') timedOut = !cancelled;
    else cancelled = !timedOut;
    stopping ??= (async () => {
      log.warn({ reason: why }, 'stopping agent container');
      await runtime.stopContainer(spec.name, spec.stopGraceSeconds ?? 5).catch(() => undefined);
      await runtime.removeContainer(spec.name).catch(() => undefined);
      // If the container did not exist yet when we stopped it, `run` may still be starting it:
      // give it a moment, then remove again and stop waiting for the CLI.
      const settled = await Promise.race([exited.then(() => true, () => true), delay(10_000).then(() => false)]);
      if (!settled) {
        await runtime.removeContainer(spec.name).catch(() => undefined);
        child.kill('SIGKILL');
      }
    })();
    return stopping;
  };
  return {
    stop,
    settled: () => stopping ?? Promise.resolve(),
    get timedOut() {
      return timedOut;
    },
    get cancelled() {
      return cancelled;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
