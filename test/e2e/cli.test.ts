/** The command line as an operator uses it: `npm start -- --check` and start-up with a broken config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../harness/daemon-process.ts';

function runCli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const EXAMPLE_ENV = {
  EMAIL_PASSWORD_AIRUT: 'pw-airut-123',
  EMAIL_PASSWORD_OTHER: 'pw-other-456',
  CLAUDE_CODE_OAUTH_TOKEN: 'oauth-token-789',
  GH_TOKEN_AIRUT: 'gh-airut',
  GH_TOKEN_OTHER: 'gh-other',
  R2_ACCESS_KEY_ID: 'r2-key',
  NPM_TOKEN_AIRUT: 'npm-token',
  AWS_ACCESS_KEY_ID_AIRUT: 'aws-id',
  AWS_SECRET_ACCESS_KEY_AIRUT: 'aws-secret',
};

test('--check on the example config exits 0 with a summary and no secret', () => {
  const r = runCli(['--check', '--config', 'config/airut.example.yaml'], EXAMPLE_ENV);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /airut/);
  assert.match(r.stdout, /another-repo/);
  for (const v of Object.values(EXAMPLE_ENV)) assert.ok(!r.stdout.includes(v), `secret ${v} printed`);
});

test('a broken config: --check and a normal start both exit 1 naming every bad path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-cli-'));
  const file = path.join(dir, 'airut.yaml');
  fs.writeFileSync(
    file,
    `execution:
  max_concurrent: 0
repos:
  api:
    git: { repo_url: https://example.com/a.git }
    storage_dir: ${dir}/api
    email:
      imap_server: mail.example.com
      imap_port: 99999
      smtp_server: mail.example.com
      username: bot
      password: !env MISSING_PASSWORD_VAR
      from: "Bot <bot@example.com>"
    authorised_senders: [a@example.com]
    trusted_authserv_id: mail.example.com
`,
  );
  for (const args of [['--check', '--config', file], ['--config', file]]) {
    const r = runCli(args);
    assert.equal(r.code, 1, `exit code for ${args.join(' ')}`);
    assert.match(r.stderr, /execution\.max_concurrent:/);
    assert.match(r.stderr, /repos\.api\.email\.imap_port:/);
    assert.match(r.stderr, /repos\.api\.email\.password: environment variable MISSING_PASSWORD_VAR is not set/);
    assert.match(r.stderr, /repos\.api\.authorised_senders: unknown key \(did you mean authorized_senders\?\)/);
  }
});

test('a missing config file says which path and how to create one', () => {
  const r = runCli(['--config', '/nonexistent/airut.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/airut\.yaml/);
  assert.match(r.stderr, /airut\.example\.yaml/);
});
