import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import {
  finishedSpend,
  recordTaskBudget,
  REPO_SPEND_WHERE,
  SENDER_SPEND_WHERE,
  spendBySender,
  spendFigures,
  spendTotals,
} from '../../src/store/spend.ts';
import { SPEND_DAY_MS } from '../../src/limits/spend-caps.ts';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const H = 60 * 60 * 1000;
let n = 0;

function task(db: Db, repoId: string, sender: string): number {
  n++;
  const out = acceptMail(db, {
    repoId,
    raw: Buffer.from(`From: ${sender}\r\nMessage-ID: <s${n}@example.com>\r\n\r\nmail ${n}\r\n`),
    imapUid: n,
    messageId: `<s${n}@example.com>`,
    subject: `mail ${n}`,
    sender,
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  }, NOW - 40 * 24 * H);
  assert.notEqual(out.kind, 'dropped');
  return (out as { taskId: number }).taskId;
}

/** A finished task with a cost (test set-up writes the row directly). */
function finished(db: Db, repoId: string, sender: string, at: number, usd: number, status = 'completed'): void {
  const id = task(db, repoId, sender);
  db.prepare(`UPDATE tasks SET status = ?, cost_usd = ?, finished_at = ? WHERE id = ?`).run(status, usd, at, id);
}

function running(db: Db, repoId: string, sender: string, budget: number | null): void {
  const id = task(db, repoId, sender);
  db.prepare(`UPDATE tasks SET status = 'running', conversation_id = ?, started_at = ? WHERE id = ?`).run(`c${id}`, NOW - H, id);
  recordTaskBudget(db, id, budget);
}

function seed(): Db {
  const db = openDatabase(':memory:', { migrate: true });
  finished(db, 'api', 'alice@example.com', NOW - 2 * H, 1.5);
  finished(db, 'api', 'alice@example.com', NOW - SPEND_DAY_MS, 2); // exactly 24 h old: out of the day
  finished(db, 'api', 'alice@example.com', Date.UTC(2026, 11, 1), 0.25, 'budget_exceeded');
  finished(db, 'api', 'alice@example.com', Date.UTC(2026, 10, 30, 23, 59), 10); // last month
  finished(db, 'api', 'bob@example.com', NOW - H, 0.5, 'failed');
  finished(db, 'web', 'alice@example.com', NOW - H, 7);
  running(db, 'api', 'alice@example.com', 3);
  running(db, 'api', 'bob@example.com', null);
  return db;
}

test('spendFigures: finished costs by finished_at in the 24 h and the month, plus running budgets (unrecorded ones at the fallback)', () => {
  const db = seed();
  const f = spendFigures(db, 'api', 'alice@example.com', NOW, 5);
  assert.deepEqual(f.sender.dayFinished, [{ at: NOW - 2 * H, usd: 1.5 }]);
  assert.equal(f.sender.monthFinishedUsd, 1.5 + 2 + 0.25);
  assert.equal(f.sender.runningUsd, 3);
  assert.deepEqual(f.repo.dayFinished, [
    { at: NOW - 2 * H, usd: 1.5 },
    { at: NOW - H, usd: 0.5 },
  ]);
  assert.equal(f.repo.monthFinishedUsd, 1.5 + 2 + 0.25 + 0.5);
  assert.equal(f.repo.runningUsd, 3 + 5);
});

test('finishedSpend, spendBySender and spendTotals: what the footer, the dashboard and /metrics show', () => {
  const db = seed();
  assert.deepEqual(finishedSpend(db, 'api', 'alice@example.com', NOW), { dayUsd: 1.5, monthUsd: 3.75 });
  assert.deepEqual(finishedSpend(db, 'api', null, NOW), { dayUsd: 2, monthUsd: 4.25 });
  assert.deepEqual(finishedSpend(db, 'none', null, NOW), { dayUsd: 0, monthUsd: 0 });
  assert.deepEqual(spendBySender(db, 'api', NOW), [
    { sender: 'alice@example.com', dayUsd: 1.5, monthUsd: 3.75 },
    { sender: 'bob@example.com', dayUsd: 0.5, monthUsd: 0.5 },
  ]);
  assert.deepEqual(spendTotals(db), [
    { repoId: 'api', sender: 'alice@example.com', usd: 13.75 },
    { repoId: 'api', sender: 'bob@example.com', usd: 0.5 },
    { repoId: 'web', sender: 'alice@example.com', usd: 7 },
  ]);
});

test('the spend sums use the partial indexes of migration 11', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const plan = (sql: string, ...params: unknown[]): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
  assert.match(plan(`SELECT total(cost_usd) FROM tasks WHERE ${REPO_SPEND_WHERE}`, 'a', 0), /INDEX tasks_spend_by_repo/);
  assert.match(plan(`SELECT total(cost_usd) FROM tasks WHERE ${SENDER_SPEND_WHERE}`, 'a', 'b', 0), /INDEX tasks_spend_by_sender/);
});
