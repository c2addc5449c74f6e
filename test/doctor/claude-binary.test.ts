/** The Claude Code binary check, against the real pinned binary and against broken stand-ins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledClaudeBinary } from '../../src/config/claude-binary.ts';
import { claudeBinaryCheck } from '../../src/doctor/claude-binary.ts';
import { runCheck } from '../../src/doctor/run-checks.ts';

function script(body: string, mode = 0o755): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'airut-doctor-claude-')), 'claude');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode });
  return file;
}

test('the pinned binary runs and reports its version', async () => {
  const bin = bundledClaudeBinary();
  assert.ok(bin, 'the pinned Claude Code package is installed');
  const [r] = await runCheck(claudeBinaryCheck(bin), 20_000);
  assert.equal(r!.status, 'ok', r!.detail);
  assert.match(r!.detail, /\d+\.\d+\.\d+ \(Claude Code\)/);
});

test('missing, not executable, failing and hanging binaries fail with a fix', async () => {
  const missing = (await runCheck(claudeBinaryCheck('/nonexistent/claude'), 5_000))[0]!;
  assert.equal(missing.status, 'FAIL');
  assert.match(missing.detail, /does not exist/);
  assert.match(missing.fix, /npm ci/);

  const noExec = (await runCheck(claudeBinaryCheck(script('echo 1.0', 0o644)), 5_000))[0]!;
  assert.equal(noExec.status, 'FAIL');
  assert.match(noExec.detail, /not executable/);

  const failing = (await runCheck(claudeBinaryCheck(script('echo "cannot execute: required file not found" >&2; exit 127')), 5_000))[0]!;
  assert.equal(failing.status, 'FAIL');
  assert.match(failing.detail, /exit 127.*required file not found/);

  const hanging = (await runCheck(claudeBinaryCheck(script('exec sleep 30')), 1_000))[0]!;
  assert.equal(hanging.status, 'FAIL');
  assert.match(hanging.detail, /within 1 s/);
});
