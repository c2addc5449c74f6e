/**
 * Runs a program to completion with its output buffered: git for the mirrors and workspaces, the
 * container CLI for images. Started through this thread's spawn helper (spawn-helper.ts), a small
 * process for which fork() is cheap, and directly when the helper cannot run. Never through a shell.
 */
import { spawn } from 'node:child_process';
import { helperFor, type HelperRun } from './spawn-helper.ts';

export interface ProgramRunOptions {
  readonly cwd?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Written to the program's stdin, which is then closed. Without it stdin is closed at once. */
  readonly input?: Buffer | string;
  /** SIGKILL after this long; the result says `timedOut`. */
  readonly timeoutMs?: number;
  /** SIGKILL once stdout passes this; the result says `overflow` and keeps what came before. */
  readonly maxStdoutBytes: number;
  /** Only the last this-many bytes of stderr are kept. */
  readonly stderrKeepBytes: number;
}

export interface ProgramResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
  readonly overflow: boolean;
}

/**
 * Resolves with the program's outcome whatever its exit; rejects only when it could not be started
 * (an error with `code`, e.g. ENOENT for a program not on PATH) or the helper died under it.
 */
export async function runProgram(file: string, args: readonly string[], opts: ProgramRunOptions): Promise<ProgramResult> {
  const env = cleanEnv(opts.env);
  const helper = await helperFor();
  const run = helper ? helper.start(file, args, { ...opts, env }) : startDirect(file, args, { ...opts, env });
  return collect(run, opts);
}

function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Output limits, the timeout and stdin, the same for both ways of starting. */
function collect(run: HelperRun, opts: ProgramRunOptions): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = Buffer.alloc(0);
    let timedOut = false;
    let overflow = false;
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), run.kill('SIGKILL')), opts.timeoutMs) : null;
    run.onStdout = (chunk) => {
      if (overflow) return;
      outBytes += chunk.length;
      if (outBytes > opts.maxStdoutBytes) {
        overflow = true;
        run.kill('SIGKILL');
        return;
      }
      out.push(chunk);
    };
    run.onStderr = (chunk) => {
      err = Buffer.concat([err, chunk]);
      if (err.length > opts.stderrKeepBytes * 2) err = err.subarray(err.length - opts.stderrKeepBytes);
    };
    run.onFailed = (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    };
    run.onExit = (code, signal) => {
      if (timer) clearTimeout(timer);
      const tail = err.length > opts.stderrKeepBytes ? err.subarray(err.length - opts.stderrKeepBytes) : err;
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.from(tail), timedOut, overflow });
    };
    run.endInput(opts.input);
  });
}

/**
 * The fallback: spawn from this process. In a process group of its own (`detached`), like the
 * helper: a stop signal sent to the daemon's whole group (Ctrl-C on `npm start`, a process manager
 * that signals the group) is the daemon's to act on, by draining. Had it reached a `podman rm` or a
 * `git clone` in flight, the removal would stop half-way (a container left `removing`) and a draining
 * task would fail.
 */
function startDirect(file: string, args: readonly string[], opts: { cwd?: string; env: Record<string, string> }): HelperRun {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], shell: false, detached: true });
  const run: HelperRun = {
    onStdout: () => undefined,
    onStderr: () => undefined,
    onExit: () => undefined,
    onFailed: () => undefined,
    kill: (signal) => void child.kill(signal),
    endInput: (input) => (input !== undefined ? child.stdin.end(input) : child.stdin.end()),
  };
  let failed = false;
  child.stdout.on('data', (c: Buffer) => run.onStdout(c));
  child.stderr.on('data', (c: Buffer) => run.onStderr(c));
  child.stdin.on('error', () => undefined);
  child.on('error', (e) => {
    failed = true;
    run.onFailed(e);
  });
  child.on('close', (code, signal) => {
    if (!failed) run.onExit(code, signal);
  });
  return run;
}
