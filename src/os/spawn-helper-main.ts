/**
 * The spawn helper: a small Node process that starts programs for the daemon (spawn-helper.ts).
 * Node starts a child with fork(), whose cost grows with the parent's memory: 35 ms of CPU from a
 * 1.5 GB daemon against 4 ms from a small process (docs/benchmarks.md). Run directly by Node
 * (type stripping, no tsx), so it imports nothing but Node's own modules.
 *
 * Frames both ways: u32 length of what follows, u32 request id, u8 kind, payload.
 *   in:  START (JSON {file, args, cwd, env}), STDIN (bytes), STDIN_END, KILL (signal name)
 *   out: READY (id 0, once), STDOUT, STDERR (bytes), EXIT (JSON {code, signal}), FAILED (JSON {code, message})
 * Timeouts and output limits are the parent's: it sends KILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { encodeFrame, FRAME, FrameReader } from './spawn-protocol.ts';

const { START, STDIN, STDIN_END, KILL, READY, STDOUT, STDERR, EXIT, FAILED } = FRAME;

const children = new Map<number, ChildProcess>();
let inputClosed = false;

function send(id: number, kind: number, payload?: Buffer): void {
  process.stdout.write(encodeFrame(id, kind, payload));
}

function start(id: number, payload: Buffer): void {
  const req = JSON.parse(payload.toString('utf8')) as { file: string; args: string[]; cwd?: string; env: Record<string, string> };
  let child: ChildProcess;
  try {
    child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio: ['pipe', 'pipe', 'pipe'], shell: false });
  } catch (err) {
    send(id, FAILED, Buffer.from(JSON.stringify({ code: (err as NodeJS.ErrnoException).code ?? null, message: (err as Error).message })));
    return;
  }
  children.set(id, child);
  let failed = false;
  child.stdout?.on('data', (chunk: Buffer) => send(id, STDOUT, chunk));
  child.stderr?.on('data', (chunk: Buffer) => send(id, STDERR, chunk));
  // EPIPE when the program exits before reading all input is reported by its exit code instead.
  child.stdin?.on('error', () => undefined);
  child.on('error', (err: NodeJS.ErrnoException) => {
    failed = true;
    children.delete(id);
    send(id, FAILED, Buffer.from(JSON.stringify({ code: err.code ?? null, message: err.message })));
    finishIfDone();
  });
  child.on('close', (code, signal) => {
    if (failed) return;
    children.delete(id);
    send(id, EXIT, Buffer.from(JSON.stringify({ code, signal })));
    finishIfDone();
  });
}

function handle(id: number, kind: number, payload: Buffer): void {
  if (kind === START) return start(id, payload);
  const child = children.get(id);
  if (!child) return;
  if (kind === STDIN) child.stdin?.write(payload);
  else if (kind === STDIN_END) child.stdin?.end();
  else if (kind === KILL) child.kill(payload.toString('utf8') as NodeJS.Signals);
}

/** The daemon went away: finish what runs (a clone half-done is worse than one completed), then exit. */
function finishIfDone(): void {
  if (inputClosed && children.size === 0) process.stdout.end(() => process.exit(0));
}

const reader = new FrameReader(handle);
process.stdin.on('data', (chunk: Buffer) => reader.push(chunk));
process.stdin.on('end', () => {
  inputClosed = true;
  finishIfDone();
});
send(0, READY);
