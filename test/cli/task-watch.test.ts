/** followTask against the real dashboard server, across a restart of it: the stream is opened again from the cursor. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ApiClient } from '../../src/cli/api-client.ts';
import type { ApiTaskEvent } from '../../src/cli/api-types.ts';
import { followTask } from '../../src/cli/task-watch.ts';
import { startDashboard } from '../../src/dashboard/server.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { freePort } from '../harness/ports.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from '../dashboard/helpers.ts';

it('follows a task through a dashboard restart without losing or repeating an event', { timeout: 120_000 }, async () => {
  const { db, cleanup } = tempDb();
  const port = await freePort();
  const start = () => {
    const h = makeOptions(db, makeConfig(['alpha'], { port }));
    return startDashboard(h.options).then((dash) => ({ dash, feed: h.feed }));
  };
  let running = await start();
  try {
    const id = insertTask(db, { repoId: 'alpha', status: 'running' });
    const add = (text: string) => {
      const eventId = appendTaskEvent(db, id, 'assistant_text', { type: 'assistant_text', text });
      running.feed.emit('task-event', { taskId: id, eventId });
    };
    add('before');
    const seen: ApiTaskEvent[] = [];
    let notify = (): void => undefined;
    const nextBatch = () => new Promise<void>((r) => (notify = r));
    let batch = nextBatch();
    const following = followTask(new ApiClient({ baseUrl: running.dash.url, token: null }), id, {
      after: 0,
      onEvents: (events) => (seen.push(...events), notify()),
    });
    await batch;
    // The daemon restarts: the stream ends, an event is written while nobody listens.
    await running.dash.close();
    add('while down');
    running = await start();
    batch = nextBatch();
    await batch;
    add('after');
    db.prepare(`UPDATE tasks SET status = 'completed', finished_at = ? WHERE id = ?`).run(Date.now(), id);
    running.feed.emit('task', id);
    const end = await following;
    assert.equal(end.task.status, 'completed');
    assert.deepEqual(seen.map((e) => (e.data as { text: string }).text), ['before', 'while down', 'after']);
  } finally {
    await running.dash.close();
    cleanup();
  }
});
