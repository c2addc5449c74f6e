/**
 * Runs doctor checks with a hard deadline each, a few at a time, and never lets one check's
 * failure or hang stop the others: the doctor must always finish and print its table.
 *
 * Each check is asked to clean up (close sockets, kill children) through its AbortSignal when its
 * time is up. The runner does not wait for that: a check that ignores the signal still gets its
 * FAIL row on time.
 */
import { fail, seconds, type CheckResult, type DoctorCheck } from './types.ts';

export interface RunOptions {
  /** Per check. */
  readonly timeoutMs: number;
  /** Checks running at the same time (100 repositories must not mean 300 connections at once). */
  readonly concurrency?: number;
}

/** Runs one check; resolves with its rows, or a FAIL row when it threw or ran out of time. */
export async function runCheck(check: DoctorCheck, timeoutMs: number): Promise<readonly CheckResult[]> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<readonly CheckResult[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('doctor check timed out'));
      resolve([fail(check.name, `no answer within ${seconds(timeoutMs)}`, check.timeoutFix)]);
    }, timeoutMs);
  });
  const work = (async (): Promise<readonly CheckResult[]> => {
    try {
      const r = await check.run({ timeoutMs, signal: controller.signal });
      return Array.isArray(r) ? (r as readonly CheckResult[]) : [r as CheckResult];
    } catch (err) {
      // A check is meant to turn every failure into a row; reaching here is a bug in the check,
      // but the operator still gets a row that says what happened.
      return [fail(check.name, `the check itself failed: ${(err as Error).message ?? String(err)}`, 'report this as a bug in airut-ts')];
    }
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    controller.abort(new Error('doctor check finished'));
  }
}

/** Runs all checks and returns their rows in the order of `checks`, whatever order they finish in. */
export async function runChecks(checks: readonly DoctorCheck[], options: RunOptions): Promise<CheckResult[]> {
  const results: Array<readonly CheckResult[]> = new Array(checks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < checks.length) {
      const i = next++;
      results[i] = await runCheck(checks[i] as DoctorCheck, options.timeoutMs);
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 8, checks.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results.flat();
}
