import { Worker, type WorkerOptions } from 'node:worker_threads';
/**
 * The parent's Node options without its TypeScript loader: a bundle needs none, and a thread that
 * inherited `--import tsx` would start tsx's loader thread anyway (what the bundle avoids).
 */
export function bundleExecArgv(parent: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const a = parent[i]!;
    if ((a === '--import' || a === '--loader' || a === '--require' || a === '-r') && /^tsx(\/|$)/.test(parent[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^(--import|--loader|--require)=tsx(\/|$)/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/**
 * The flags a worker refused, from Node's ERR_WORKER_INVALID_EXEC_ARGV ("… invalid execArgv flags: a, b"),
 * or null for any other error. Workers refuse V8 and per-process options (`--max-old-space-size`,
 * `--stack-trace-limit`, `--tls-cipher-list`…); a parent can carry them, and Node 24's test runner gives
 * every test process the full list of its option values.
 */
export function refusedExecArgv(err: unknown): Set<string> | null {
  if ((err as { code?: unknown } | null)?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return null;
  const m = /execArgv flags: ([\s\S]*)$/.exec((err as Error).message);
  return m ? new Set(m[1]!.split(', ').map((f) => f.trim())) : null;
}

/**
 * `new Worker()` with `execArgv`, dropping the flags Node refuses in a worker (they keep applying to the
 * process as a whole) instead of failing the start. Any other error is thrown as it is.
 */
export function startWorker(filename: string | URL, options: WorkerOptions & { execArgv: string[] }): Worker {
  try {
    return new Worker(filename, options);
  } catch (err) {
    const refused = refusedExecArgv(err);
    if (!refused) throw err;
    return new Worker(filename, { ...options, execArgv: options.execArgv.filter((a) => !refused.has(a)) });
  }
}
