/**
 * Issue 22, item 3, end to end: the real daemon, podman, the Claude Code CLI (scripted through the
 * mock Anthropic API), Dovecot and SMTP. A task of `app` that names companions in a `Repos:` line
 * sees /workspace and /repos/<name>, cannot write into a read companion, and its follow-up keeps
 * both mounts; a sender authorized for `app` but not for the companion is refused without a run.
 * One daemon serves every case.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../harness/ports.ts';
import { isAck, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import type { DaemonProcess, TestConfig } from '../harness/daemon-process.ts';

const BOB = 'bob@example.com';
let env: E2eEnv;
let cfg: TestConfig;
let daemon: DaemonProcess;
let base: string;

before(async () => {
  env = await startE2eEnv({ repoIds: ['app', 'docs', 'lib'] });
  const app = await env.repo('app', repoYaml(), { extraFiles: { 'APP.txt': 'app-file-7f3\n' }, extra: { companions: { docs: 'read', lib: 'write' } } });
  const docs = await env.repo('docs', repoYaml(), { extraFiles: { 'DOCS.txt': 'docs-file-91c\n' } });
  const lib = await env.repo('lib', repoYaml(), { extraFiles: { 'LIB.txt': 'lib-file-2d0\n' } });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Bob may use app, not docs: naming docs must not lend him app's authorization.
  ({ cfg, daemon } = env.daemonWith(
    [{ ...app, authorizedSenders: ['alice@example.com', BOB] }, docs, lib],
    2,
    { dashboard: { enabled: true, host: '127.0.0.1', port } },
  ));
});

after(async () => {
  await daemon?.stop('SIGKILL');
  await env?.stop();
});

interface RepoJson {
  name: string;
  access: string;
  branch: string | null;
  primary: boolean;
}

test('a two-repository task sees /workspace and /repos/<name>; a read companion is read-only; the follow-up keeps both', { timeout: 300_000 }, async () => {
  const look =
    'cat /workspace/APP.txt /repos/docs/DOCS.txt /repos/lib/LIB.txt; ' +
    '(echo x > /repos/docs/NEW.txt && echo DOCS-WRITTEN) 2>&1 | tail -1; ' +
    'echo lib-change-55 > /repos/lib/NEW.txt && echo LIB-WRITTEN';
  const first = await env.send('app', 'Look across repos', `Repos: docs, lib\n\n[[bash:${look}]]`);
  const reply = await env.finalReplyTo(first, 180_000);
  const text = reply.text ?? '';
  assert.equal(taskFor(cfg, first)?.status, 'completed', text);
  assert.match(text, /app-file-7f3/, 'the primary at /workspace');
  assert.match(text, /docs-file-91c/, 'the read companion at /repos/docs');
  assert.match(text, /lib-file-2d0/, 'the write companion at /repos/lib');
  assert.match(text, /Read-only file system/, 'writing into the read companion fails');
  assert.doesNotMatch(text, /DOCS-WRITTEN/);
  assert.match(text, /LIB-WRITTEN/, 'the write companion is writable');
  assert.doesNotMatch(text, /Repos: docs/, 'the Repos: line is not part of the request the agent answered');

  const task = taskFor(cfg, first)!;
  const json = (await (await fetch(`${base}/api/tasks/${task.id}`)).json()) as { repositories: RepoJson[] };
  assert.deepEqual(json.repositories, [
    { name: 'app', access: 'write', branch: null, primary: true },
    { name: 'docs', access: 'read', branch: null, primary: false },
    { name: 'lib', access: 'write', branch: null, primary: false },
  ]);
  const page = await (await fetch(`${base}/tasks/${task.id}`)).text();
  assert.match(page, /data-role="repositories"/);
  assert.match(page, /docs \(read, \/repos\/docs\)/);

  // The follow-up names no repository (and a Repos: line there would be ignored): it keeps the set and the clones.
  const ack = env.repliesTo(first).find(isAck) ?? reply;
  const followUp = await env.send('app', `Re: ${reply.subject}`, 'Repos: lib\n\n[[bash:ls /repos; cat /repos/lib/NEW.txt; touch /repos/docs/y 2>&1 | tail -1]]', {
    inReplyTo: reply.messageId!,
    references: [first, ack.messageId!, reply.messageId!].filter((v, i, a) => a.indexOf(v) === i),
  });
  const second = await env.finalReplyTo(followUp, 180_000);
  const text2 = second.text ?? '';
  assert.equal(taskFor(cfg, followUp)?.conversation_id, task.conversation_id, 'the same conversation');
  assert.match(text2, /docs\s+lib/, 'both companions are still mounted');
  assert.match(text2, /lib-change-55/, "the companion's clone is kept across the conversation");
  assert.match(text2, /Read-only file system/, 'docs is still read-only');
});

test('a sender authorized for the primary but not for the companion is refused clearly, and nothing runs', { timeout: 180_000 }, async () => {
  const sent = await env.send('app', 'Sneak into docs', 'Repos: docs\n\n[[bash:cat /repos/docs/DOCS.txt]]', { from: BOB });
  const reply = await env.finalReplyTo(sent, 120_000);
  assert.match(reply.text ?? '', /you are not authorized for repository docs/);
  assert.doesNotMatch(reply.text ?? '', /docs-file-91c/);
  const task = taskFor(cfg, sent)!;
  assert.equal(task.status, 'failed');
  assert.equal(task.session_id, null, 'the agent never ran');
  const stages = readDb(cfg, (db) => db.prepare(`SELECT stage FROM task_stages WHERE task_id = ?`).all(task.id) as { stage: string }[]);
  assert.deepEqual(stages?.map((s) => s.stage), ['repo-inputs'], 'refused in the first stage, before any clone or container');
});

test('a companion the primary does not list is refused with what it allows', { timeout: 180_000 }, async () => {
  const sent = await env.send('app', 'Unknown companion', 'Repos: infra\n\nDo it.');
  const reply = await env.finalReplyTo(sent, 120_000);
  assert.match(reply.text ?? '', /"infra" is not a companion of app; app allows: docs \(read\), lib \(write\)/);
  assert.equal(taskFor(cfg, sent)?.status, 'failed');
});
