/** Request texts, kept files and the search index that follows them, on a real SQLite store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDatabase } from '../harness/queued-task.ts';
import { addTaskFile, fillTaskRequest, getTaskFile, getTaskRequest, getTaskRequests, listConversationFiles, listTaskFiles, saveTaskRequest, tasksMissingRequest } from '../../src/store/task-content.ts';
import { enqueue } from './enqueue.ts';

function db() {
  return tempDatabase('task-content');
}

function searchIds(d: ReturnType<typeof db>, q: string): number[] {
  return (d.prepare(`SELECT rowid AS id FROM task_search WHERE task_search MATCH ? ORDER BY rowid`).all(q) as { id: number }[]).map((r) => r.id);
}

test('a request text is saved, replaced and found by the search index', () => {
  const d = db();
  const a = enqueue(d, 'r1');
  const b = enqueue(d, 'r1');
  assert.equal(getTaskRequest(d, a), null);
  saveTaskRequest(d, a, { text: 'please fix the flaky parser', original: 'please fix the flaky parser\n> old' });
  assert.deepEqual(getTaskRequest(d, a), { text: 'please fix the flaky parser', original: 'please fix the flaky parser\n> old' });
  assert.deepEqual(searchIds(d, 'parser'), [a]);
  saveTaskRequest(d, a, { text: 'rename the widget', original: 'rename the widget' });
  assert.deepEqual(searchIds(d, 'parser'), []);
  assert.deepEqual(searchIds(d, 'widget'), [a]);
  // Subjects are indexed from the moment a task is accepted (enqueue names them s1, s2…).
  const subject = (d.prepare(`SELECT subject FROM tasks WHERE id = ?`).get(b) as { subject: string }).subject;
  assert.deepEqual(searchIds(d, subject), [b]);
  assert.deepEqual([...getTaskRequests(d, [a, b]).keys()], [a]);
});

test('task files are listed per task and per conversation, and looked up only under their own task', () => {
  const d = db();
  const a = enqueue(d, 'r1');
  const b = enqueue(d, 'r1');
  d.prepare(`UPDATE tasks SET conversation_id = 'abcd1234' WHERE id IN (?, ?)`).run(a, b);
  const f1 = addTaskFile(d, { taskId: a, direction: 'in', name: 'x.txt', size: 3, contentType: 'text/plain', path: 'task-files/1/1', sha256: 'aa', note: null });
  addTaskFile(d, { taskId: b, direction: 'out', name: 'big.bin', size: 9e9, contentType: 'application/octet-stream', path: null, sha256: null, note: 'over the cap' });
  assert.equal(listTaskFiles(d, a).length, 1);
  assert.equal(getTaskFile(d, a, f1)?.name, 'x.txt');
  assert.equal(getTaskFile(d, b, f1), null);
  const byTask = listConversationFiles(d, 'r1', 'abcd1234');
  assert.deepEqual([...byTask.keys()], [a, b]);
  assert.equal(byTask.get(b)![0]!.note, 'over the cap');
});

test('a request filled in from the stored mail never replaces the one the runner recorded', () => {
  const d = db();
  const a = enqueue(d, 'r1');
  const b = enqueue(d, 'r1');
  saveTaskRequest(d, a, { text: 'what the agent read', original: 'o' });
  assert.deepEqual(fillTaskRequest(d, a, { text: 'parsed later', original: 'p' }), { text: 'what the agent read', original: 'o' });
  assert.deepEqual(fillTaskRequest(d, b, { text: 'parsed', original: 'p' }), { text: 'parsed', original: 'p' });
  assert.deepEqual(getTaskRequest(d, b), { text: 'parsed', original: 'p' });
});

test('the tasks whose request can be filled in: no row yet, mail stored whole and not emptied, in the order asked', () => {
  const d = db();
  const [a, b, c, e] = [enqueue(d, 'r1'), enqueue(d, 'r1'), enqueue(d, 'r1'), enqueue(d, 'r1')];
  saveTaskRequest(d, b, { text: 't', original: 't' });
  d.prepare(`UPDATE messages SET raw = x'' WHERE id = (SELECT message_row FROM tasks WHERE id = ?)`).run(c);
  d.prepare(`UPDATE messages SET stored = 'headers' WHERE id = (SELECT message_row FROM tasks WHERE id = ?)`).run(e);
  assert.deepEqual(tasksMissingRequest(d, [e, c, b, a]).map((s) => s.taskId), [a]);
  assert.ok(tasksMissingRequest(d, [a])[0]!.size > 0);
  assert.deepEqual(tasksMissingRequest(d, []), []);
});
