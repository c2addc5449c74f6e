/**
 * What one doctor check reports: a row of the table `npm start -- --check --online` prints.
 * `fix` is a sentence an operator can act on; it is empty for a passing check.
 */

/** `FAIL` is upper case on purpose: it has to stand out in a column of `ok`s. */
export type CheckStatus = 'ok' | 'warn' | 'FAIL';

export interface CheckResult {
  /** Short name, e.g. `podman` or `api: imap login`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found, e.g. `version 4.3.1, rootful` or `login refused: Authentication failed.` */
  readonly detail: string;
  /** What to do about it; '' when status is ok. */
  readonly fix: string;
}

/** Handed to every check: how long it may take, and a signal that fires when that time is up. */
export interface CheckContext {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

export interface DoctorCheck {
  /** Row name used when the check cannot report itself (it threw or ran out of time). */
  readonly name: string;
  /** The sentence shown when the check ran out of time. */
  readonly timeoutFix: string;
  run(ctx: CheckContext): Promise<CheckResult | readonly CheckResult[]>;
}

export function ok(check: string, detail: string): CheckResult {
  return { check, status: 'ok', detail, fix: '' };
}

export function warn(check: string, detail: string, fix: string): CheckResult {
  return { check, status: 'warn', detail, fix };
}

export function fail(check: string, detail: string, fix: string): CheckResult {
  return { check, status: 'FAIL', detail, fix };
}

/** Whole seconds for messages ("within 15 s"). */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
