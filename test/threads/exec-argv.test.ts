import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleExecArgv } from '../../src/threads/exec-argv.ts';

test('listener threads inherit the Node options but not the tsx loader', () => {
  assert.deepEqual(bundleExecArgv(['--import', 'tsx', '--max-old-space-size=512']), ['--max-old-space-size=512']);
  assert.deepEqual(bundleExecArgv(['--import=tsx', '--enable-source-maps']), ['--enable-source-maps']);
  assert.deepEqual(bundleExecArgv(['--import', 'tsx/esm', '--import', './other.mjs']), ['--import', './other.mjs']);
  assert.deepEqual(bundleExecArgv([]), []);
});
