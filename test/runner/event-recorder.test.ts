/**
 * The per-task caps on stored output, against a real SQLite store: agent events (with the last
 * result always kept and one marker saying how many were cut) and network-log rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { listTaskEvents } from '../../src/store/task-events.ts';
import { insertNetworkRequests, listTaskNetworkRequests } from '../../src/store/network-log.ts';
import { TaskEventRecorder } from '../../src/runner/event-recorder.ts';
import { NetworkLogWriter } from '../../src/sandbox/task-network.ts';
import type { AgentEvent } from '../../src/sandbox/run-agent.ts';
import type { NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';

function taskIn(db: Db): number {
  const msg = db.prepare(`INSERT INTO messages (repo_id, raw_sha256, size, raw, received_at) VALUES ('api', ?, 1, x'00', 0)`).run(`sha-${Math.random()}`);
  return Number(
    db
      .prepare(`INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, status, created_at) VALUES ('api', ?, 'deadbeef', 'a@b.c', 's', 'running', 0)`)
      .run(msg.lastInsertRowid).lastInsertRowid,
  );
}

const text = (i: number): AgentEvent => ({ type: 'assistant_text', text: `line ${i}` });
const result = (r: string): AgentEvent => ({ type: 'result', subtype: 'success', isError: false, result: r, sessionId: 's', costUsd: 0.1, turns: 1, durationMs: 5, terminalReason: null, apiErrorStatus: null, apiErrorType: null, apiError: null });

test('past max_events, events are counted not stored; one marker says how many; the last result is stored', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const posted: string[] = [];
  const rec = new TaskEventRecorder(db, taskId, 100, (_id, kind) => posted.push(kind));
  for (let i = 0; i < 12_445; i++) rec.record(text(i));
  // Forged results (an agent can write to the CLI's stdout) cost one row, not one each.
  for (let i = 0; i < 1000; i++) rec.record(result(`forged ${i}`));
  rec.record(result('the real answer'));
  rec.finish();

  const events = listTaskEvents(db, taskId, 0, 100_000);
  assert.equal(events.length, 100 + 1 + 1, 'the cap, one marker, the last result');
  assert.deepEqual(events.slice(0, 100).map((e) => e.kind), Array(100).fill('assistant_text'));
  const marker = events[100]!;
  assert.equal(marker.kind, 'output_truncated');
  const m = marker.data as { dropped: number; limit: number; message: string };
  assert.equal(m.dropped, 12_445 - 100 + 1000);
  assert.equal(m.message, 'output truncated: 13,345 further events not stored; the limit is 100 per task');
  const last = events[101]!;
  assert.equal(last.kind, 'result');
  assert.equal((last.data as { result: string }).result, 'the real answer');
  assert.deepEqual(posted.slice(-2), ['output_truncated', 'result'], 'the dashboard hears of the marker and the result');
  assert.deepEqual(rec.counts, { stored: 101, dropped: 13_345 });
});

test('under the cap nothing is cut and no marker is written', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const rec = new TaskEventRecorder(db, taskId, 100, () => undefined);
  for (let i = 0; i < 10; i++) rec.record(text(i));
  rec.record(result('done'));
  rec.finish();
  assert.deepEqual(listTaskEvents(db, taskId).map((e) => e.kind), [...Array(10).fill('assistant_text'), 'result']);
});

test('past max_network_rows, requests are counted (blocked ones separately), not stored, and reported once at close', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const truncations: Array<{ limit: number; dropped: number; blocked: number }> = [];
  const writer = new NetworkLogWriter({
    log: pino({ level: 'silent' }),
    storeLogRows: (rows) => insertNetworkRequests(db, { repoId: 'api', conversationId: 'deadbeef', taskId }, rows),
    maxLogRows: 250,
    onLogTruncated: (t) => truncations.push(t),
  });
  const entry = (i: number): NetworkLogEntry => ({
    at: i, method: 'GET', host: 'registry.npmjs.org', port: 443, path: `/p${i}`, status: i % 10 === 0 ? 403 : 200,
    allowed: i % 10 !== 0, rule: 'x', masked: 0, durationMs: 1,
  });
  for (let i = 0; i < 5000; i++) writer.add(entry(i));
  writer.close();
  writer.close();
  assert.equal(listTaskNetworkRequests(db, taskId, 0, 100_000).length, 250);
  assert.deepEqual(truncations, [{ limit: 250, dropped: 4750, blocked: 475 }]);

  const rec = new TaskEventRecorder(db, taskId, 100, () => undefined);
  rec.networkTruncated(truncations[0]!);
  const marker = listTaskEvents(db, taskId).at(-1)!;
  assert.equal(marker.kind, 'output_truncated');
  assert.match((marker.data as { message: string }).message, /^network log truncated: 4,750 further requests not stored \(475 of them blocked\)/);
});

test('API retries are stored past the events cap, each with its event and the task\'s count, and posted', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const posted: string[] = [];
  const rec = new TaskEventRecorder(db, taskId, 1, (_id, kind) => posted.push(kind));
  rec.record(text(0));
  rec.record(text(1)); // cut: the cap is 1
  rec.apiRetry({ attempt: 1, cause: 'overloaded', detail: 'API 529 overloaded_error', delaySeconds: 10 });
  rec.apiRetry({ attempt: 2, cause: 'network', detail: 'API not reachable (connection_failed)', delaySeconds: 20 });
  const retries = listTaskEvents(db, taskId, 0, 100).filter((e) => e.kind === 'api_retry');
  assert.equal(retries.length, 2);
  assert.deepEqual(retries[0]!.data, {
    type: 'api_retry', attempt: 1, cause: 'overloaded', detail: 'API 529 overloaded_error', delaySeconds: 10,
    message: 'API retry 1: API 529 overloaded_error (overloaded); resuming the session in 10 s',
  });
  assert.equal((db.prepare(`SELECT api_retries FROM tasks WHERE id = ?`).get(taskId) as { api_retries: number }).api_retries, 2);
  assert.deepEqual(posted.filter((k) => k === 'api_retry').length, 2);
});
