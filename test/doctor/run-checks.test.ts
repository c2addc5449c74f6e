/** The doctor's runner: every check ends up as a row, on time, in the order given. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChecks } from '../../src/doctor/run-checks.ts';
import { formatReport, summaryLine } from '../../src/doctor/table.ts';
import { fail, ok, warn, type DoctorCheck } from '../../src/doctor/types.ts';

function check(name: string, run: DoctorCheck['run']): DoctorCheck {
  return { name, timeoutFix: `fix ${name}`, run };
}

test('a hanging check becomes a FAIL row with its timeout fix and is told to stop; a throwing one becomes a FAIL row', async () => {
  let aborted = false;
  const rows = await runChecks(
    [
      check('slow', (ctx) => {
        ctx.signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => undefined);
      }),
      check('broken', async () => {
        throw new Error('boom');
      }),
      check('fine', async () => [ok('fine a', 'x'), warn('fine b', 'y', 'do z')]),
    ],
    { timeoutMs: 300, concurrency: 1 },
  );
  assert.deepEqual(rows.map((r) => [r.check, r.status]), [['slow', 'FAIL'], ['broken', 'FAIL'], ['fine a', 'ok'], ['fine b', 'warn']]);
  assert.equal(rows[0]!.fix, 'fix slow');
  assert.match(rows[0]!.detail, /no answer within 0\.3 s/);
  assert.match(rows[1]!.detail, /boom/);
  assert.ok(aborted, 'the hanging check saw its signal abort');
});

test('the report aligns columns, puts a fix line under rows that are not ok, and sums up', () => {
  const rows = [ok('config', 'fine'), fail('api: smtp', 'login refused', 'check the password'), warn('podman cgroups', 'v1', 'use v2')];
  const text = formatReport(rows);
  const lines = text.split('\n');
  assert.equal(lines[0], 'check           status  result / what to fix');
  assert.equal(lines[1], 'config          ok      fine');
  assert.equal(lines[2], 'api: smtp       FAIL    login refused');
  assert.equal(lines[3], '                        fix: check the password');
  assert.equal(lines[5], '                        fix: use v2');
  assert.match(text, /1 FAIL, 1 warn: fix the FAIL rows/);
  assert.equal(summaryLine([ok('a', 'b')]), 'all 1 checks passed');
});
