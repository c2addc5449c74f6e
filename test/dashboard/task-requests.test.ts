/** The dashboard's request texts on a real store: recorded rows, rows filled in from the stored mail, and what has none. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptMail } from '../../src/store/accept.ts';
import type { Db } from '../../src/store/database.ts';
import { getTaskRequest, saveTaskRequest } from '../../src/store/task-content.ts';
import { getTask, type TaskRow } from '../../src/store/task-queries.ts';
import { REQUEST_PARSES_PER_CALL, REQUEST_PARSE_BYTES_PER_CALL, taskRequests } from '../../src/dashboard/task-requests.ts';
import { buildMail } from '../harness/mail-builder.ts';
import { tempDb } from './helpers.ts';

let n = 0;
function record(db: Db, text: string, opts: { reject?: boolean; html?: string } = {}): TaskRow {
  n += 1;
  const messageId = `<req${n}@example.com>`;
  const raw = Buffer.from(buildMail({ from: 'alice@example.com', to: 'api@example.com', subject: 'Re: x', text, ...(opts.html ? { html: opts.html } : {}), messageId }));
  const verdict = opts.reject ? ({ action: 'reject', reason: 'unauthorized', detail: 'not allowed' } as const) : ({ action: 'accept', modelHint: null } as const);
  const { taskId } = acceptMail(db, { repoId: 'api', raw, imapUid: n, messageId, subject: 'Re: x', sender: 'alice@example.com', conversationCandidates: [], verdict });
  return getTask(db, taskId)!;
}

function search(db: Db, word: string): number[] {
  return (db.prepare(`SELECT rowid FROM task_search WHERE task_search MATCH ? ORDER BY rowid`).all(word) as Array<{ rowid: number }>).map((r) => r.rowid);
}

test('a recorded request is returned as recorded; a queued task gets its text from its stored mail, saved and searchable', async () => {
  const { db, cleanup } = tempDb();
  try {
    const ran = record(db, 'ignored');
    saveTaskRequest(db, ran.id, { text: 'what the agent read', original: 'what the agent read\n> old' });
    const queued = record(db, 'Please count the herons.\n\nOn Mon, Airut wrote:\n> earlier answer');
    const got = await taskRequests(db, [ran, queued]);
    assert.deepEqual(got.get(ran.id), { text: 'what the agent read', original: 'what the agent read\n> old' });
    assert.deepEqual(got.get(queued.id), { text: 'Please count the herons.', original: 'Please count the herons.\n\nOn Mon, Airut wrote:\n> earlier answer' });
    assert.deepEqual(getTaskRequest(db, queued.id), got.get(queued.id), 'saved, so the next view reads it back');
    assert.deepEqual(search(db, 'herons'), [queued.id]);
  } finally {
    cleanup();
  }
});

test('rejected mail (headers only) and mail emptied by retention have no request; nothing is saved for them', async () => {
  const { db, cleanup } = tempDb();
  try {
    const rejected = record(db, 'spoofed text', { reject: true });
    const emptied = record(db, 'old text');
    db.prepare(`UPDATE messages SET raw = x'' WHERE id = (SELECT message_row FROM tasks WHERE id = ?)`).run(emptied.id);
    const got = await taskRequests(db, [rejected, emptied]);
    assert.equal(got.size, 0);
    assert.equal(getTaskRequest(db, rejected.id), null);
    assert.equal(getTaskRequest(db, emptied.id), null);
    assert.deepEqual(await taskRequests(db, []), new Map());
  } finally {
    cleanup();
  }
});

test('an HTML-only mail: the stripped text, and the original with its quote', async () => {
  const { db, cleanup } = tempDb();
  try {
    const t = record(db, '', { html: '<p>Add a <b>stork</b>.</p><blockquote type="cite">the old answer</blockquote>' });
    const got = (await taskRequests(db, [t])).get(t.id);
    assert.equal(got?.text, 'Add a stork.');
    assert.match(got?.original ?? '', /^Add a stork\.\n+> the old answer$/);
  } finally {
    cleanup();
  }
});

test('one call parses a bounded number of mails; the rest fill in on later calls', async () => {
  const { db, cleanup } = tempDb();
  try {
    const tasks = Array.from({ length: REQUEST_PARSES_PER_CALL + 5 }, (_, i) => record(db, `request number ${i}`));
    const first = await taskRequests(db, tasks);
    assert.equal(first.size, REQUEST_PARSES_PER_CALL);
    assert.deepEqual([...first.keys()].sort((a, b) => a - b), tasks.slice(0, REQUEST_PARSES_PER_CALL).map((t) => t.id), 'in the order given');
    const second = await taskRequests(db, tasks);
    assert.equal(second.size, tasks.length);
    assert.equal(second.get(tasks.at(-1)!.id)?.text, `request number ${tasks.length - 1}`);
  } finally {
    cleanup();
  }
});

test('a call stops at its byte budget, but always parses its first mail, however large', async () => {
  const { db, cleanup } = tempDb();
  try {
    const big = 'x'.repeat(Math.ceil(REQUEST_PARSE_BYTES_PER_CALL * 0.6));
    const tasks = [record(db, `first ${big}`), record(db, `second ${big}`)];
    assert.equal((await taskRequests(db, tasks)).size, 1, 'the second would go over the budget');
    assert.equal((await taskRequests(db, tasks)).size, 2);
  } finally {
    cleanup();
  }
});

test('a stored mail that is not MIME at all gives what text it has, not a failed page', async () => {
  const { db, cleanup } = tempDb();
  try {
    n += 1;
    const raw = Buffer.from([0, 255, 13, 10, 13, 10, 0xc3, 0x28, 0x3c, 0x3e]);
    const { taskId } = acceptMail(db, { repoId: 'api', raw, imapUid: n, messageId: `<junk${n}@x>`, subject: '', sender: 'a@example.com', conversationCandidates: [], verdict: { action: 'accept', modelHint: null } });
    const got = await taskRequests(db, [getTask(db, taskId)!]);
    assert.deepEqual(got.get(taskId), { text: '\ufffd(<>', original: '\ufffd(<>' }, 'the invalid UTF-8 replaced, the rest as it came');
  } finally {
    cleanup();
  }
});
