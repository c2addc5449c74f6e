/** A task's completion webhook deliveries on its page and in GET /api/tasks/:id, against the real dashboard server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDashboard } from '../../src/dashboard/server.ts';
import { transitionTask } from '../../src/store/task-transitions.ts';
import { listDeliveriesForTask, markDeliveryRetry, setSubscriptions } from '../../src/store/webhook-deliveries.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

test('the task page and the API list the webhook deliveries, a receiver error escaped', async (t) => {
  const { db, cleanup } = tempDb();
  const dash = await startDashboard(makeOptions(db, makeConfig(['alpha'])).options);
  t.after(async () => {
    await dash.close();
    cleanup();
  });
  setSubscriptions(db, { alpha: ['task.finished'] });
  const taskId = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'c0ffee03' });
  assert.equal(transitionTask(db, taskId, { status: 'running', attempt: 0 }, { to: 'failed', error: 'boom' }).applied, true);
  const [d] = listDeliveriesForTask(db, taskId);
  assert.ok(d);
  // A receiver's status text is the receiver's to choose.
  markDeliveryRetry(db, d.id, 'HTTP 500 <script>alert(1)</script>', Date.now() + 60_000);
  const quiet = insertTask(db, { repoId: 'alpha', status: 'completed' });

  const page = await (await fetch(`${dash.url}/tasks/${taskId}`)).text();
  assert.match(page, /<h2>Webhook<\/h2>/);
  assert.ok(page.includes(d.key));
  assert.ok(!page.includes('<script>alert(1)'), 'the error text is escaped');
  assert.match(page, /HTTP 500 &lt;script&gt;/);
  assert.ok(!(await (await fetch(`${dash.url}/tasks/${quiet}`)).text()).includes('<h2>Webhook</h2>'), 'no section without deliveries');

  const api = (await (await fetch(`${dash.url}/api/tasks/${taskId}`)).json()) as { webhooks: unknown[] };
  assert.deepEqual(api.webhooks, [{ id: d.key, status: 'pending', attempts: 1, lastError: 'HTTP 500 <script>alert(1)</script>', deliveredAt: null }]);
  const none = (await (await fetch(`${dash.url}/api/tasks/${quiet}`)).json()) as { webhooks: unknown[] };
  assert.deepEqual(none.webhooks, []);
});
