/**
 * A queued task of a repository that was removed from the configuration: the dispatcher claims it
 * and fails it through the task transitions (no reply: the repository's SMTP account is gone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerConfig } from '../../src/config/index.ts';
import { Dispatcher } from '../../src/dispatcher/dispatcher.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import type { SandboxGlobals } from '../../src/sandbox/task-network.ts';
import { openDatabase } from '../../src/store/database.ts';
import { captureLog } from '../harness/capture-log.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';
import { acceptMail } from '../../src/store/accept.ts';

test('a task whose repository is no longer configured is failed, with no reply', async () => {
  const cfg = writeTestConfig({ repos: [{ id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' }] });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  const taskId = acceptMail(db, {
    repoId: 'gone',
    raw: Buffer.from('mail'),
    imapUid: 1,
    messageId: '<gone@example.com>',
    subject: 's',
    sender: 'alice@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
  const { log, lines } = captureLog();
  // The sandbox is never reached: the task ends before a runner thread is asked for.
  const dispatcher = new Dispatcher({ config, db, log, sandbox: {} as SandboxGlobals });
  try {
    dispatcher.start();
    await waitUntil(() => getTask(db, taskId)?.status !== 'queued', 10_000, 'the task to be claimed', 20);
    const t = getTask(db, taskId)!;
    assert.equal(t.status, 'failed');
    assert.equal(t.error, 'repository no longer configured');
    assert.ok(t.finishedAt !== null);
    assert.deepEqual(listMailForTask(db, taskId), []);
    assert.equal(dispatcher.runningCount, 0);
    assert.ok(lines.some((l) => l.includes('no longer configured')));
  } finally {
    await dispatcher.stop(1_000);
    db.close();
  }
});
