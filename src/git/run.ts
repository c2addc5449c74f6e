/**
 * Runs the system `git` with an argument vector (never through a shell; started through the spawn
 * helper, src/os/run-program.ts), with an environment that can never stop at a prompt, and returns
 * stdout as bytes. Failures carry the tail of git's stderr
 * so that a person reading the error sees git's own explanation.
 */
import { runProgram } from '../os/run-program.ts';

/** The environment every git child gets: no prompts, English messages, nothing inherited that redirects git. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A daemon started from inside a git hook or a worktree would otherwise operate on the wrong repository.
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR', 'GIT_NAMESPACE']) {
    delete env[k];
  }
  env.GIT_TERMINAL_PROMPT = '0';
  // ssh asks about unknown host keys on the terminal; in a daemon that would hang forever.
  if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return { ...env, ...extra };
}

export interface GitRunOptions {
  readonly cwd?: string;
  /** Written to git's stdin, which is then closed. Without it stdin is closed at once. */
  readonly input?: Buffer | string;
  /** Kill git after this long. */
  readonly timeoutMs?: number;
  /** Refuse to buffer more stdout than this. */
  readonly maxStdoutBytes?: number;
  readonly env?: Record<string, string>;
}

export interface GitRunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  /** At most the last STDERR_KEEP bytes, decoded. */
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly overflow: boolean;
}

const STDERR_KEEP = 4096;

/** Runs git and resolves with its outcome; never rejects for a non-zero exit (callers decide). */
export async function runGit(args: readonly string[], opts: GitRunOptions = {}): Promise<GitRunResult> {
  const r = await runProgram('git', args, {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    env: gitEnv(opts.env),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    maxStdoutBytes: opts.maxStdoutBytes ?? 512 * 1024 * 1024,
    stderrKeepBytes: STDERR_KEEP,
  });
  return { code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString('utf8'), timedOut: r.timedOut, overflow: r.overflow };
}

/** The last few meaningful lines of git's stderr, for an error message. */
export function stderrTail(stderr: string, maxChars = 800): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  let text = lines.join('; ');
  if (text.length > maxChars) text = '…' + text.slice(text.length - maxChars);
  return text;
}
