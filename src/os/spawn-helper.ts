/**
 * One spawn helper per thread that runs programs (spawn-helper-main.ts, the protocol), started on
 * first use. fork() copies the page tables of the process that calls it, so a daemon holding
 * gigabytes pays tens of milliseconds of CPU for every git or podman it starts; the helper is a
 * few tens of megabytes and pays a few. A helper that cannot start (a Node without type
 * stripping, a bundle without this file) leaves the thread spawning directly: same results,
 * slower. A helper that dies fails what it was running, and the next run starts a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FRAME, FrameReader } from './spawn-protocol.ts';

export interface HelperRun {
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  onFailed: (err: Error) => void;
  kill(signal: NodeJS.Signals): void;
  endInput(input: Buffer | string | undefined): void;
}

const { START, STDIN, STDIN_END, KILL, READY, STDOUT, STDERR, EXIT, FAILED } = FRAME;
const READY_TIMEOUT_MS = 15_000;

export class SpawnHelper {
  readonly #child: ChildProcess;
  readonly #runs = new Map<number, HelperRun>();
  #nextId = 1;
  #dead = false;
  readonly #reader = new FrameReader((id, kind, payload) => this.#frame(id, kind, payload));

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.#reader.push(chunk));
    child.stdin!.on('error', () => undefined);
    child.on('exit', (code, signal) => this.#died(`the spawn helper exited (${signal ?? code})`));
    child.on('error', (err) => this.#died(`the spawn helper failed: ${err.message}`));
    this.#idle();
  }

  /** Starts a helper and waits until it is ready; null when it cannot run here. */
  static async launch(): Promise<SpawnHelper | null> {
    let script: string;
    try {
      script = fileURLToPath(new URL('./spawn-helper-main.ts', import.meta.url));
    } catch {
      return null;
    }
    const env: Record<string, string> = {};
    // The daemon's NODE_OPTIONS (a loader, a profiler) are not the helper's.
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_OPTIONS') env[k] = v;
    // Its own process group, with the programs it starts: a stop signal to the daemon's group is not
    // theirs (see startDirect in run-program.ts). Once the daemon is gone its input ends and it exits.
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script], { stdio: ['pipe', 'pipe', 'inherit'], env, detached: true });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      child.stdout!.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        const ok = chunk.length >= 9 && chunk.readUInt32BE(4) === 0 && chunk.readUInt8(8) === READY;
        if (ok && chunk.length > 9) child.stdout!.unshift(chunk.subarray(9));
        resolve(ok);
      });
      child.once('exit', () => resolve(false));
      child.once('error', () => resolve(false));
    });
    if (!ready) {
      child.kill('SIGKILL');
      return null;
    }
    return new SpawnHelper(child);
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The helper's process id (tests check that programs are its children). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  start(file: string, args: readonly string[], opts: { cwd?: string; env: Record<string, string> }): HelperRun {
    const id = this.#nextId++;
    const run: HelperRun = {
      onStdout: () => undefined,
      onStderr: () => undefined,
      onExit: () => undefined,
      onFailed: () => undefined,
      kill: (signal) => this.#send(id, KILL, Buffer.from(signal)),
      endInput: (input) => {
        if (input !== undefined && input.length > 0) this.#send(id, STDIN, Buffer.from(input));
        this.#send(id, STDIN_END);
      },
    };
    if (this.#dead) {
      queueMicrotask(() => run.onFailed(new Error('the spawn helper is gone')));
      return run;
    }
    this.#runs.set(id, run);
    this.#busy();
    this.#send(id, START, Buffer.from(JSON.stringify({ file, args, cwd: opts.cwd, env: opts.env })));
    return run;
  }

  #send(id: number, kind: number, payload?: Buffer): void {
    if (!this.#dead) this.#child.stdin!.write(encodeFrame(id, kind, payload));
  }

  #frame(id: number, kind: number, payload: Buffer): void {
    const run = this.#runs.get(id);
    if (!run) return;
    if (kind === STDOUT) run.onStdout(payload);
    else if (kind === STDERR) run.onStderr(payload);
    else if (kind === EXIT || kind === FAILED) {
      this.#runs.delete(id);
      if (this.#runs.size === 0) this.#idle();
      const body = JSON.parse(payload.toString('utf8')) as { code: number | string | null; signal?: NodeJS.Signals | null; message?: string };
      if (kind === EXIT) run.onExit(body.code as number | null, body.signal ?? null);
      else run.onFailed(Object.assign(new Error(body.message ?? 'the program could not be started'), { code: body.code ?? undefined }));
    }
  }

  #died(why: string): void {
    if (this.#dead) return;
    this.#dead = true;
    for (const run of this.#runs.values()) run.onFailed(new Error(`${why} while a program ran`));
    this.#runs.clear();
  }

  /** An idle helper does not keep the daemon (or a test) alive; a busy one does, like a direct child. */
  #idle(): void {
    this.#child.unref();
    (this.#child.stdout as unknown as { unref?: () => void }).unref?.();
    (this.#child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  #busy(): void {
    this.#child.ref();
    (this.#child.stdout as unknown as { ref?: () => void }).ref?.();
    (this.#child.stdin as unknown as { ref?: () => void }).ref?.();
  }

  /** Stops the helper (tests). */
  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

let current: Promise<SpawnHelper | null> | null = null;
let unavailable = false;

/**
 * This thread's helper, started on first use (once, however many callers wait); null when helpers
 * cannot run here or are not turned on. Off unless AIRUT_SPAWN_HELPER=1, until it has run through
 * the whole end-to-end suite: the capacity bench and the Kubernetes end-to-end tests run with it.
 */
export async function helperFor(): Promise<SpawnHelper | null> {
  if (process.env.AIRUT_SPAWN_HELPER !== '1') return null;
  for (;;) {
    if (unavailable) return null;
    const pending = (current ??= SpawnHelper.launch().then((h) => {
      if (h === null) unavailable = true;
      return h;
    }));
    const helper = await pending;
    if (helper === null) return null;
    if (!helper.dead) return helper;
    // Dead: the first caller to notice clears it, and the next turn starts one fresh helper.
    if (current === pending) current = null;
  }
}
