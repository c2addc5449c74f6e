/**
 * What every bench script prints the same way: nearest-rank percentiles, medians, millisecond
 * formatting, and the "Machine:" line that makes a number in docs/benchmarks.md comparable.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Whole milliseconds, or n/a. */
export function fmt(ms: number): string {
  return Number.isNaN(ms) ? 'n/a' : `${Math.round(ms)}`;
}

function versionOf(command: string, args: string[], label: string): string {
  try {
    return `${label}${execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`;
  } catch {
    return `${label}not found`;
  }
}

/**
 * CPUs, memory, Node, the versions of the parts the bench used, kernel, and the load average now
 * (call it at the end of a run: a high figure says other jobs competed for the machine).
 */
export function machineLine(parts: { podman?: boolean; dovecot?: boolean } = {}): string {
  const items = [`${os.availableParallelism()} CPUs (\`nproc\`)`, `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`, `Node ${process.version}`];
  if (parts.podman) items.push(versionOf('podman', ['--version'], ''));
  if (parts.dovecot) items.push(versionOf(process.env.DOVECOT_BIN ?? '/usr/sbin/dovecot', ['--version'], 'Dovecot '));
  items.push(`${os.type()} ${os.release()}`);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
  return `${items.join(', ')}; load average ${load} at the end (shared machine: other jobs may have run)`;
}
