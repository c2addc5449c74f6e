/**
 * The doctor's report as plain text: one row per check, columns aligned, and under every row that
 * is not ok a `fix:` line. Plain text on purpose: it is read in a terminal, in a journal, and
 * pasted into bug reports.
 */
import type { CheckResult } from './types.ts';

export function formatReport(rows: readonly CheckResult[]): string {
  const checkWidth = Math.max('check'.length, ...rows.map((r) => r.check.length));
  const statusWidth = Math.max('status'.length, ...rows.map((r) => r.status.length));
  const indent = ' '.repeat(checkWidth + 2 + statusWidth + 2);
  const line = (a: string, b: string, c: string) => `${a.padEnd(checkWidth)}  ${b.padEnd(statusWidth)}  ${c}`.trimEnd();
  const out = [line('check', 'status', 'result / what to fix')];
  for (const r of rows) {
    out.push(line(r.check, r.status, r.detail));
    if (r.status !== 'ok' && r.fix) out.push(`${indent}fix: ${r.fix}`);
  }
  out.push('', summaryLine(rows));
  return `${out.join('\n')}\n`;
}

export function summaryLine(rows: readonly CheckResult[]): string {
  const failed = rows.filter((r) => r.status === 'FAIL').length;
  const warned = rows.filter((r) => r.status === 'warn').length;
  if (failed === 0 && warned === 0) return `all ${rows.length} checks passed`;
  const parts = [failed ? `${failed} FAIL` : '', warned ? `${warned} warn` : ''].filter(Boolean).join(', ');
  return failed ? `${parts}: fix the FAIL rows and run the doctor again` : `${parts}: the daemon can start; read the warnings`;
}
