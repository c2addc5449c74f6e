/**
 * The online checks of one repository against real servers: a private Dovecot for IMAP, the SMTP
 * capture server for SMTP (with AUTH required), local git repositories, and a TCP proxy that
 * swallows traffic to play a server that never answers.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/load.ts';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { gitRemoteCheck } from '../../src/doctor/git-remote.ts';
import { imapCheck } from '../../src/doctor/imap.ts';
import { runCheck } from '../../src/doctor/run-checks.ts';
import { smtpCheck } from '../../src/doctor/smtp.ts';
import { storageCheck } from '../../src/doctor/storage.ts';
import type { CheckResult } from '../../src/doctor/types.ts';
import { writeTestConfig, type TestRepo } from '../harness/daemon-process.ts';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { freePort } from '../harness/ports.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.ts';

const PASSWORD = 'correct-horse-battery';
const WRONG = 'wrong-password-123';
const AUTHSERV = 'mx.repos.test';
/** Short, so that the "never answers" cases finish quickly; real servers answer well within it. */
const TIMEOUT_MS = 1_500;

let dovecot: DovecotServer;
let smtp: SmtpCapture;
let blackhole: TcpProxy;

before(async () => {
  dovecot = await startDovecot({
    users: [{ user: 'bot', password: PASSWORD }, { user: 'empty', password: PASSWORD }, { user: 'm365', password: PASSWORD }],
  });
  smtp = await startSmtpCapture({ authUsers: { bot: PASSWORD } });
  blackhole = await startTcpProxy(dovecot.port);
  blackhole.setBlackhole(true);
});

after(async () => {
  await blackhole?.close();
  await smtp?.stop();
  await dovecot?.stop();
});

/** A repository as the config loader builds it, from a generated config file. */
function repoConfig(over: Partial<TestRepo> = {}): RepoServerConfig {
  const cfg = writeTestConfig({
    repos: [{ id: 'api', user: 'bot', password: PASSWORD, imapPort: dovecot.port, smtpPort: smtp.port, trustedAuthservId: AUTHSERV, ...over }],
  });
  return loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env }).repos.api!;
}

function assertNoSecret(rows: readonly CheckResult[], secret: string): void {
  for (const r of rows) assert.ok(!`${r.detail} ${r.fix}`.includes(secret), `secret printed in ${JSON.stringify(r)}`);
}

test('IMAP with good credentials: logged in, and the newest mails are judged against trusted_authserv_id', async () => {
  const empty = await runCheck(imapCheck(repoConfig({ user: 'empty' })), TIMEOUT_MS);
  assert.deepEqual(empty.map((r) => [r.check, r.status]), [['api: imap', 'ok'], ['api: dmarc headers', 'ok']]);
  assert.match(empty[0]!.detail, /empty@127\.0\.0\.1:\d+\/none: logged in with password, over plain text \(loopback only\); INBOX holds 0 message/);
  assert.match(empty[1]!.detail, /INBOX is empty/);

  await dovecot.append('bot', buildMail({ from: 'alice@example.com', subject: 'good', authResults: [dmarcPass(AUTHSERV)] }));
  const good = await runCheck(imapCheck(repoConfig()), TIMEOUT_MS);
  assert.equal(good[1]!.status, 'ok');
  assert.match(good[1]!.detail, /newest 1 mail\(s\) in INBOX pass DMARC/);

  // A mail stamped by another server: what an operator sees when trusted_authserv_id is wrong.
  await dovecot.append('bot', buildMail({ from: 'alice@example.com', subject: 'stamped elsewhere', authResults: [dmarcPass('mx.google.com')] }));
  const rows = await runCheck(imapCheck(repoConfig()), TIMEOUT_MS);
  assert.equal(rows[0]!.status, 'ok');
  assert.match(rows[0]!.detail, /INBOX holds 2 message/);
  assert.equal(rows[1]!.status, 'warn');
  assert.match(rows[1]!.detail, /1 of the newest 2 mail\(s\) would be rejected, e\.g\. from alice@example\.com \("stamped elsewhere"\).*"mx\.google\.com"/);
  assert.match(rows[1]!.fix, /trusted_authserv_id/);
  // Read-only: nothing was flagged or removed.
  const inbox = await dovecot.listInbox('bot');
  assert.equal(inbox.length, 2);
  assert.ok(inbox.every((m) => m.flags.length === 0), JSON.stringify(inbox));
  assertNoSecret(rows, PASSWORD);
});

test('IMAP, Microsoft 365 modes: the dmarc headers row judges as the listener does (no authserv-id, internal mail)', async () => {
  const repo: RepoServerConfig = { ...repoConfig({ user: 'm365' }), trustedAuthservId: '', microsoftInternalFallback: true };
  const eop = 'spf=pass (sender IP is 203.0.113.7) smtp.mailfrom=example.com; dkim=pass (signature was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100';
  await dovecot.append('m365', buildMail({ from: 'alice@example.com', subject: 'from outside', authResults: [eop] }));
  await dovecot.append('m365', buildMail({ from: 'bob@example.com', subject: 'from inside', headers: { 'X-MS-Exchange-Organization-AuthAs': 'Internal' } }));
  const rows = await runCheck(imapCheck(repo), TIMEOUT_MS);
  assert.equal(rows[1]!.status, 'ok', JSON.stringify(rows));
  assert.match(rows[1]!.detail, /newest 2 mail\(s\) in INBOX pass DMARC as reported by their topmost Authentication-Results header \(or are internal mail/);
  // Without the fallback the internal mail would be rejected, and the row says so.
  const off = await runCheck(imapCheck({ ...repo, microsoftInternalFallback: false }), TIMEOUT_MS);
  assert.equal(off[1]!.status, 'warn');
  assert.match(off[1]!.detail, /1 of the newest 2 mail\(s\) would be rejected, e\.g\. from bob@example\.com \("from inside"\): the message has no Authentication-Results header/);
});

test('IMAP with a wrong password: FAIL, naming the settings to check, without printing the password', async () => {
  const rows = await runCheck(imapCheck(repoConfig({ password: WRONG })), TIMEOUT_MS);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.status, 'FAIL');
  assert.match(rows[0]!.detail, /login refused by 127\.0\.0\.1:\d+/);
  assert.match(rows[0]!.fix, /repos\.api\.email\.username and repos\.api\.email\.password/);
  assertNoSecret(rows, WRONG);
});

test('IMAP: a closed port fails at once, a server that never answers fails within the timeout', async () => {
  const closed = await runCheck(imapCheck(repoConfig({ imapPort: await freePort() })), TIMEOUT_MS);
  assert.equal(closed[0]!.status, 'FAIL');
  assert.match(closed[0]!.detail, /connection refused/);
  assert.match(closed[0]!.fix, /repos\.api\.email\.imap_port/);

  const silent = await runCheck(imapCheck(repoConfig({ imapPort: blackhole.port })), TIMEOUT_MS);
  assert.equal(silent[0]!.status, 'FAIL');
  assert.match(silent[0]!.detail, /no answer .*within 1\.5 s/);
  assert.match(silent[0]!.fix, /firewall/);
});

test('SMTP: good credentials log in, a wrong password and a silent server fail with a fix; nothing is sent', async () => {
  const good = await runCheck(smtpCheck(repoConfig()), TIMEOUT_MS);
  assert.equal(good[0]!.status, 'ok', good[0]!.detail);
  assert.match(good[0]!.detail, /bot@127\.0\.0\.1:\d+\/none: logged in with password, over plain text \(loopback only\); replies go out from bot@repos\.test/);

  const wrong = await runCheck(smtpCheck(repoConfig({ password: WRONG })), TIMEOUT_MS);
  assert.equal(wrong[0]!.status, 'FAIL');
  assert.match(wrong[0]!.detail, /login refused/);
  assert.match(wrong[0]!.fix, /password/);
  assertNoSecret(wrong, WRONG);

  const silent = await runCheck(smtpCheck(repoConfig({ smtpPort: blackhole.port })), TIMEOUT_MS);
  assert.equal(silent[0]!.status, 'FAIL');
  assert.match(silent[0]!.detail, /no answer .*within 1\.5 s/);

  assert.equal(smtp.messages.length, 0);
});

test('git remote: a repository with commits is ok, an empty one warns, a bad address fails without showing URL credentials', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-doctor-git-'));
  const src = path.join(dir, 'src');
  const git = (...args: string[]) => execFileSync('git', args, { env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
  git('init', '-q', '-b', 'main', src);
  git('-C', src, 'commit', '-q', '--allow-empty', '-m', 'first');
  git('init', '-q', '--bare', path.join(dir, 'empty.git'));

  const good = await runCheck(gitRemoteCheck(repoConfig({ repoUrl: `file://${src}` })), 10_000);
  assert.equal(good[0]!.status, 'ok', good[0]!.detail);
  assert.match(good[0]!.detail, /reachable, default branch main/);

  const empty = await runCheck(gitRemoteCheck(repoConfig({ repoUrl: `file://${dir}/empty.git` })), 10_000);
  assert.equal(empty[0]!.status, 'warn');
  assert.match(empty[0]!.detail, /no commits/);

  const missing = await runCheck(gitRemoteCheck(repoConfig({ repoUrl: `file://${dir}/missing.git` })), 10_000);
  assert.equal(missing[0]!.status, 'FAIL');
  assert.match(missing[0]!.detail, /does not appear to be a git repository/);
  assert.match(missing[0]!.fix, /repos\.api\.git\.repo_url/);

  const token = 's3cret-token-value';
  const refused = await runCheck(gitRemoteCheck(repoConfig({ repoUrl: `http://bot:${token}@127.0.0.1:${await freePort()}/x.git` })), 10_000);
  assert.equal(refused[0]!.status, 'FAIL');
  assert.match(refused[0]!.detail, /http:\/\/\*\*\*@127\.0\.0\.1/);
  assert.match(refused[0]!.fix, /cannot be reached/);
  assertNoSecret(refused, token);
});

test('storage: a directory that does not exist yet is ok when it can be created, and is not created', async () => {
  const repo = repoConfig();
  const rows = await runCheck(storageCheck(repo), 5_000);
  assert.equal(rows[0]!.status, 'ok', rows[0]!.detail);
  assert.match(rows[0]!.detail, /will be created/);
  assert.equal(fs.existsSync(repo.storageDir), false);
});
