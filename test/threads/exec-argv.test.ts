import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleExecArgv, refusedExecArgv, startWorker } from '../../src/threads/exec-argv.ts';

test('listener threads inherit the Node options but not the tsx loader', () => {
  assert.deepEqual(bundleExecArgv(['--import', 'tsx', '--max-old-space-size=512']), ['--max-old-space-size=512']);
  assert.deepEqual(bundleExecArgv(['--import=tsx', '--enable-source-maps']), ['--enable-source-maps']);
  assert.deepEqual(bundleExecArgv(['--import', 'tsx/esm', '--import', './other.mjs']), ['--import', './other.mjs']);
  assert.deepEqual(bundleExecArgv([]), []);
});

describe('startWorker', () => {
  it('drops the flags Node refuses in a worker (V8 and per-process options) and starts the thread', async () => {
    const worker = startWorker(new URL('data:text/javascript,import{parentPort}from"node:worker_threads";parentPort.postMessage("up")'), {
      execArgv: ['--max-old-space-size=200', '--stack-trace-limit=10', '--enable-source-maps'],
    });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(message, 'up');
    await worker.terminate();
  });

  it('names the refused flags from Node\'s error, and leaves other errors alone', () => {
    const err = Object.assign(new Error('Initiated Worker with invalid execArgv flags: --stack-trace-limit=10, --tls-cipher-list=A:B:!C'), {
      code: 'ERR_WORKER_INVALID_EXEC_ARGV',
    });
    assert.deepEqual(refusedExecArgv(err), new Set(['--stack-trace-limit=10', '--tls-cipher-list=A:B:!C']));
    assert.equal(refusedExecArgv(new Error('other')), null);
  });
});
