/**
 * A queued task of a repository that is not in the configuration (removed by a reload, or before a
 * restart) stays queued, without holding up the others, and runs once the repository is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerConfig } from '../../src/config/index.ts';
import { Dispatcher } from '../../src/dispatcher/dispatcher.ts';
import { getTask } from '../../src/store/task-queries.ts';
import type { SandboxGlobals } from '../../src/sandbox/task-network.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { captureLog } from '../harness/capture-log.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { claimNextTask, finishTask, requeueLapsedTasks } from '../../src/store/task-queue.ts';

const IDLE_RUNNER = new URL('../fixtures/workers/idle-task-runner.mjs', import.meta.url);

function queue(db: Db, repoId: string, n: number): number {
  return acceptMail(db, {
    repoId,
    raw: Buffer.from(`mail ${n}`),
    imapUid: n,
    messageId: `<${repoId}-${n}@example.com>`,
    subject: 's',
    sender: 'alice@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
}

test('a task whose repository is not configured stays queued, others run past it, and it runs when the repository returns', async () => {
  const cfg = writeTestConfig({ repos: [{ id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' }] });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const both = writeTestConfig({
    dir: cfg.dir,
    repos: [
      { id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' },
      { id: 'gone', imapPort: 1, user: 'gone-bot', password: 'unused' },
    ],
  });
  const withGone = loadServerConfig(both.configPath, { ...process.env, ...both.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  const goneTask = queue(db, 'gone', 1);
  const alphaTask = queue(db, 'alpha', 2);
  const { log } = captureLog();
  const dispatcher = new Dispatcher({ config, db, log, sandbox: {} as SandboxGlobals, runnerEntry: IDLE_RUNNER });
  try {
    dispatcher.start();
    await waitUntil(() => getTask(db, alphaTask)?.status === 'running', 10_000, 'the configured repository’s task to be claimed', 20);
    assert.equal(getTask(db, goneTask)?.status, 'queued', 'the older task of the unconfigured repository waits');
    dispatcher.setConfig(withGone);
    await waitUntil(() => getTask(db, goneTask)?.status === 'running', 10_000, 'the task to be claimed once its repository is back', 20);
  } finally {
    await dispatcher.stop(1_000);
    db.close();
  }
});

test('a task abandoned at start-up (interrupted twice) is reported finished, so its webhook is sent without waiting for a poll', async () => {
  const cfg = writeTestConfig({ repos: [{ id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' }] });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  const id = queue(db, 'alpha', 1);
  // Two runs cut off by a shutdown: the second recovery abandons it.
  for (const attempt of [1, 2]) {
    const claim = claimNextTask(db);
    assert.equal(claim?.task.id, id);
    finishTask(db, id, { status: 'running', attempt }, { status: 'interrupted', error: 'stopped by a shutdown', resumePending: true });
    if (attempt === 1) requeueLapsedTasks(db, { all: true });
  }
  const finished: Array<[number, string]> = [];
  let mailKicks = 0;
  const dispatcher = new Dispatcher({
    config,
    db,
    log: captureLog().log,
    sandbox: {} as SandboxGlobals,
    runnerEntry: IDLE_RUNNER,
    onTaskFinished: (taskId, status) => finished.push([taskId, status]),
    onMailQueued: () => mailKicks++,
  });
  try {
    dispatcher.start();
    await waitUntil(() => finished.length > 0, 10_000, 'the abandoned task to be reported', 20);
    assert.deepEqual(finished, [[id, 'interrupted']]);
    assert.equal(getTask(db, id)?.status, 'interrupted');
    assert.ok(mailKicks >= 1, 'the sender is told about the mail to its sender');
  } finally {
    await dispatcher.stop(1_000);
    db.close();
  }
});
