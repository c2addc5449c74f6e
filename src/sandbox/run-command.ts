/**
 * Runs one shell command in a task container: the repository's image, a workspace mounted at
 * /workspace, the task's network (sandboxed or not), its variables and secrets through an env file
 * (never argv, as in run-agent.ts). Used for a schedule's `trigger_command`, which decides whether
 * the agent runs at all. Standard output is kept up to `outputLimitBytes` (the rest is counted and
 * dropped as it arrives); a tail of standard error is kept for the record of a failure.
 *
 * The command itself is operator configuration, not a secret, so it is passed as `sh -c <command>`.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { logger } from '../log/logger.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { writeEnvFile } from './env-file.ts';
import { envArgs, invalidSpec as invalid, isolationArgs, type ResourceLimits } from './container-args.ts';

const STDERR_TAIL_BYTES = 4096;

export interface CommandRunSpec {
  readonly runtime: ContainerRuntime;
  readonly image: string;
  /** Container name; unique per run. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Host directory mounted read-write at /workspace, the command's working directory. */
  readonly workspace: string;
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  /** Non-secret variables of the sandbox (proxy, CA); they win over `env`. */
  readonly sandboxEnv?: Readonly<Record<string, string>>;
  readonly envFileDir?: string;
  /** `default`, `none`, or a network name. */
  readonly network: string;
  readonly extraArgs?: readonly string[];
  readonly limits: ResourceLimits;
  /** Capabilities added back after `--cap-drop=ALL`, as for the agent. */
  readonly capabilities?: readonly string[];
  readonly timeoutMs: number;
  readonly outputLimitBytes: number;
  readonly signal?: AbortSignal;
  readonly stopGraceSeconds?: number;
}

export type CommandOutcome =
  | { readonly kind: 'exited'; readonly exitCode: number; readonly output: string; readonly truncatedBytes: number; readonly stderrTail: string }
  | { readonly kind: 'timeout'; readonly output: string; readonly truncatedBytes: number; readonly stderrTail: string }
  | { readonly kind: 'cancelled' };

/** The `run` arguments; pure apart from validation errors. Exported for tests (no secret on argv). */
export function buildCommandArgs(spec: CommandRunSpec, envFilePath: string): { args: string[]; envFileText: string } {
  if (!isAbsolute(spec.workspace) || /[:,\n]/.test(spec.workspace)) throw invalid(`workspace mount "${spec.workspace}" must be an absolute path without ':' ',' or a newline`);
  const env = envArgs(spec.env, spec.sandboxEnv ?? {}, envFilePath);
  const args = ['run', ...isolationArgs(spec), ...env.args];
  args.push('-w', '/workspace', '-v', `${spec.workspace}:/workspace`, ...(spec.extraArgs ?? []));
  args.push(spec.image, 'sh', '-c', spec.command);
  return { args, envFileText: env.envFileText };
}

/** Runs the command to its end (or its timeout, or the signal); the container is always removed. */
export async function runCommand(spec: CommandRunSpec): Promise<CommandOutcome> {
  const { envFileText } = buildCommandArgs(spec, '/placeholder');
  if (spec.signal?.aborted) return { kind: 'cancelled' };
  await mkdir(spec.workspace, { recursive: true });
  // A leftover of the same name would make `run` fail; podman's `run --replace` removes it itself.
  if (!spec.runtime.replacesOnRun) await spec.runtime.removeContainer(spec.name);
  const envFile = await writeEnvFile(spec.envFileDir ?? join(tmpdir(), `airut-env-${process.getuid?.() ?? 'user'}`), envFileText);
  try {
    return await follow(spec, buildCommandArgs(spec, envFile.path).args);
  } finally {
    await envFile.remove();
    await spec.runtime.removeContainer(spec.name).catch((err: unknown) => {
      logger().child({ container: spec.name }).error({ err: String(err) }, 'could not remove command container; the reaper will retry');
    });
  }
}

async function follow(spec: CommandRunSpec, args: string[]): Promise<CommandOutcome> {
  const { runtime } = spec;
  const child = spawn(runtime.command, args, { env: runtime.processEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = boundedCollector(spec.outputLimitBytes);
  let stderr = Buffer.alloc(0);
  child.stdout.on('data', (chunk: Buffer) => out.add(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
  });
  let stopped: 'timeout' | 'cancelled' | null = null;
  const stop = (why: 'timeout' | 'cancelled') => {
    stopped ??= why;
    void runtime.stopContainer(spec.name, spec.stopGraceSeconds ?? 5).catch(() => undefined);
  };
  const timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
  const onAbort = () => stop('cancelled');
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? runtime.missingError(err) : err));
      child.once('close', (c) => resolve(c));
    });
    if (stopped === 'cancelled') return { kind: 'cancelled' };
    const facts = { output: out.text(), truncatedBytes: out.dropped(), stderrTail: stderr.toString('utf8') };
    if (stopped === 'timeout') return { kind: 'timeout', ...facts };
    return { kind: 'exited', exitCode: code ?? -1, ...facts };
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', onAbort);
  }
}

/** Keeps the first `limit` bytes and counts the rest; cuts on a UTF-8 character boundary. */
function boundedCollector(limit: number): { add(chunk: Buffer): void; text(): string; dropped(): number } {
  const kept: Buffer[] = [];
  let size = 0;
  let dropped = 0;
  return {
    add(chunk) {
      const room = limit - size;
      if (room > 0) kept.push(chunk.subarray(0, room));
      size += Math.min(room > 0 ? room : 0, chunk.length);
      dropped += Math.max(0, chunk.length - Math.max(room, 0));
    },
    text() {
      // A character cut in half at the limit decodes to U+FFFD; drop it rather than show it.
      return Buffer.concat(kept).toString('utf8').replace(/\uFFFD$/, '');
    },
    dropped: () => dropped,
  };
}
