import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, Worker } from 'node:worker_threads';
import { AirutError, RemoteError } from '../../src/errors.ts';
import { Lifeline, connectApi } from '../../src/threads/rpc.ts';
import { ThreadBundles } from '../../src/threads/bundle.ts';

interface PeerApi {
  echo(x: string): string;
  fail(): never;
  failForeign(): never;
  failPlain(): never;
  hang(): Promise<never>;
  exitNow(): Promise<never>;
}

// The peer runs as a bundle, as listener threads do.
const bundles = new ThreadBundles();
after(() => bundles.dispose());

async function startPeer(timeoutMs = 5_000) {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(await bundles.bundle(new URL('../fixtures/workers/rpc-peer.ts', import.meta.url)), {
    execArgv: [],
    workerData: { port: port2 },
    transferList: [port2],
  });
  const lifeline = new Lifeline();
  worker.once('exit', (code) => lifeline.cut(`exited with code ${code}`));
  const api = connectApi<PeerApi>(port1, { peer: 'test peer', timeoutMs, methodTimeoutsMs: { hang: 300 }, lifeline });
  return { api, worker, lifeline };
}

test('calls across threads return values and rethrow errors with their code', async () => {
  const { api, worker } = await startPeer();
  try {
    assert.equal(await api.echo('hi'), 'echo:hi');
    await assert.rejects(api.fail(), (err: unknown) => {
      assert.ok(err instanceof AirutError);
      assert.equal(err.code, 'GIT_LOCK_TIMEOUT');
      assert.match(err.message, /on purpose/);
      return true;
    });
  } finally {
    await worker.terminate();
  }
});

test('errors with a code outside our union cross as RemoteError, keeping their code, name and message', async () => {
  const { api, worker } = await startPeer();
  try {
    await assert.rejects(api.failForeign(), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.ok(!(err instanceof AirutError), 'a foreign code is not one of ours');
      assert.equal(err.code, 'SQLITE_BUSY');
      assert.equal(err.name, 'Error');
      assert.equal(err.message, 'database is locked');
      return true;
    });
    await assert.rejects(api.failPlain(), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.code, 'REMOTE_ERROR');
      assert.equal(err.name, 'TypeError');
      assert.match(err.message, /no code here/);
      return true;
    });
  } finally {
    await worker.terminate();
  }
});

test('a call the other side never answers times out instead of hanging', async () => {
  const { api, worker } = await startPeer();
  try {
    await assert.rejects(api.hang(), (err: AirutError) => err.code === 'THREAD_TIMEOUT');
  } finally {
    await worker.terminate();
  }
});

test('a call in flight when the other thread exits rejects at once; later calls reject without waiting', async () => {
  const { api } = await startPeer(60_000);
  const started = Date.now();
  await assert.rejects(api.exitNow(), (err: AirutError) => err.code === 'THREAD_GONE');
  assert.ok(Date.now() - started < 10_000, 'must not wait for the timeout');
  await assert.rejects(api.echo('late'), (err: AirutError) => err.code === 'THREAD_GONE');
});
