/** What surrounds a task's stages: stop requests, stage reports, the error reply (fakes and a real MessageChannel). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import pino from 'pino';
import { AirutError } from '../../src/errors.ts';
import { RunControl } from '../../src/runner/run-control.ts';
import type { RunnerToDispatcher } from '../../src/protocol/runner.ts';
import { UserFacingError } from '../../src/runner/user-facing-error.ts';
import type { Db } from '../../src/store/database.ts';
import { fakeContext, type FakeTaskContext } from './stages/fake-context.ts';

function control(ctx: FakeTaskContext) {
  const channel = new MessageChannel();
  const posted: RunnerToDispatcher[] = [];
  channel.port1.on('message', (m: RunnerToDispatcher) => posted.push(m));
  const input = { taskId: 7, conversationId: 'c0ffee00', isNewConversation: true, isResume: false, resumedFromPause: false, repo: ctx.repo, port: channel.port2 };
  const c = new RunControl(input, { settings: ctx.settings, db: {} as Db, backend: ctx.backend }, pino({ level: 'silent' }));
  const delivered = () => new Promise((r) => setTimeout(r, 20));
  return { c, posted, delivered, dispatcher: channel.port1 };
}

test("a stage's start is stored with the context's clock and posted to the dispatcher", async () => {
  const ctx = fakeContext();
  const { c, posted, delivered } = control(ctx);
  c.enter('image', ctx);
  await delivered();
  c.close();
  assert.deepEqual(ctx.store.stages, [{ stage: 'image', at: 1010 }]);
  assert.deepEqual(posted, [{ type: 'stage', taskId: 7, stage: 'image', at: 1010 }]);
});

test('a stage report the store refuses is only logged: the stage runs on', async () => {
  const ctx = fakeContext();
  ctx.store.recordStage = () => {
    throw new Error('SQLITE_BUSY');
  };
  const { c, posted, delivered } = control(ctx);
  assert.doesNotThrow(() => c.enter('agent', ctx));
  await delivered();
  c.close();
  assert.equal(posted.at(-1)?.type, 'stage');
});

test("the dispatcher's cancel aborts the run's signal once, keeping the first reason", async () => {
  const ctx = fakeContext();
  const { c, delivered, dispatcher } = control(ctx);
  assert.equal(c.signal.aborted, false);
  dispatcher.postMessage({ type: 'cancel', reason: 'user' });
  dispatcher.postMessage({ type: 'cancel', reason: 'shutdown' });
  await delivered();
  c.close();
  assert.equal(c.signal.aborted, true);
  assert.equal(c.cancelReason, 'user');
});

test('a run that threw gets the error reply: its own words for a UserFacingError, a generic one otherwise', async () => {
  const ctx = fakeContext();
  const { c } = control(ctx);
  assert.deepEqual(await c.failed(new UserFacingError('GIT_FETCH_FAILED', 'I could not fetch the repository: x'), ctx), { taskId: 7, status: 'failed' });
  await c.failed(new AirutError('TASK_NOT_FOUND', 'internal detail'), ctx);
  c.close();
  assert.deepEqual(
    ctx.replies.map((r) => [r.body, r.finish]),
    [
      [{ kind: 'error', message: 'I could not fetch the repository: x' }, { status: 'failed', error: 'I could not fetch the repository: x' }],
      [
        { kind: 'error', message: 'Something went wrong inside the service while handling your message. The operator has the details in the log.' },
        { status: 'failed', error: 'internal detail' },
      ],
    ],
  );
});

test('a run that threw during a shutdown is interrupted, without a reply', async () => {
  const ctx = fakeContext();
  const { c, delivered, dispatcher } = control(ctx);
  dispatcher.postMessage({ type: 'cancel', reason: 'shutdown' });
  await delivered();
  assert.deepEqual(await c.failed(new Error('aborted'), ctx), { taskId: 7, status: 'interrupted' });
  c.close();
  assert.deepEqual(ctx.replies, []);
  assert.deepEqual(ctx.interrupted, ['aborted']);
});
