/**
 * `max_concurrent` changed by a reload (Dispatcher.setConfig): a higher limit starts queued tasks
 * at once; a lower one stops nothing, and new tasks start only once the running ones are below it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/index.ts';
import { Dispatcher } from '../../src/dispatcher/dispatcher.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { getTask } from '../../src/store/task-queries.ts';
import type { SandboxGlobals } from '../../src/sandbox/task-network.ts';
import { captureLog } from '../harness/capture-log.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';

const HELD_RUNNER = new URL('../fixtures/workers/held-task-runner.mjs', import.meta.url);
const repos = [{ id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' }];

function configWith(dir: string, maxConcurrent: number) {
  const cfg = writeTestConfig({ repos, dir, global: { execution: { max_concurrent: maxConcurrent } } });
  return loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
}

function queue(db: Db, n: number): number {
  return acceptMail(db, {
    repoId: 'alpha',
    raw: Buffer.from(`mail ${n}`),
    imapUid: n,
    messageId: `<task-${n}@example.com>`,
    subject: `task ${n}`,
    sender: 'alice@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
}

test('max_concurrent raised starts queued tasks at once; lowered, it lets running tasks finish and starts new ones below it', async () => {
  const first = writeTestConfig({ repos });
  const one = configWith(first.dir, 1);
  const db = openDatabase(first.dbPath, { migrate: true });
  const ids = [1, 2, 3, 4].map((n) => queue(db, n));
  const dispatcher = new Dispatcher({ config: one, db, log: captureLog().log, sandbox: {} as SandboxGlobals, runnerEntry: HELD_RUNNER });
  const running = () => ids.filter((id) => getTask(db, id)?.status === 'running');
  try {
    dispatcher.start();
    await waitUntil(() => dispatcher.runningCount === 1, 10_000, 'one task running', 20);

    dispatcher.setConfig(configWith(first.dir, 3));
    await waitUntil(() => dispatcher.runningCount === 3, 10_000, 'three tasks running', 20);
    assert.deepEqual(running(), ids.slice(0, 3));

    // Lowered to 1: nothing running is stopped, and the fourth waits until fewer than 1 run.
    dispatcher.setConfig(configWith(first.dir, 1));
    assert.equal(dispatcher.runningCount, 3);
    for (const id of ids.slice(0, 2)) {
      dispatcher.cancelRunning(id, 'user');
      await waitUntil(() => dispatcher.runningCount < 3 - ids.indexOf(id), 10_000, `task ${id} to end`, 20);
      assert.equal(getTask(db, ids[3]!)?.status, 'queued', 'the fourth task waits while the running ones are not below the limit');
    }
    dispatcher.cancelRunning(ids[2]!, 'user');
    await waitUntil(() => getTask(db, ids[3]!)?.status === 'running', 10_000, 'the fourth task to start', 20);
    assert.equal(dispatcher.runningCount, 1);
  } finally {
    for (const id of ids) dispatcher.cancelRunning(id, 'shutdown');
    await dispatcher.stop(1_000);
    db.close();
  }
});

test('kubernetes: max_concurrent raised beyond the pool it started with runs up to that room and says a restart is needed', async () => {
  const dir = writeTestConfig({ repos }).dir;
  const kubeconfig = path.join(dir, 'kubeconfig');
  // Never contacted: the held runner stands in for the runner threads.
  fs.writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  const kube = (maxConcurrent: number) => {
    const cfg = writeTestConfig({
      repos,
      dir,
      global: {
        execution: { max_concurrent: maxConcurrent, backend: 'kubernetes' },
        kubernetes: { kubeconfig, namespace: 'airut', registry: 'registry.example.com/airut', gateway: { advertise_address: '10.0.0.5' } },
      },
    });
    return loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  };
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const ids = Array.from({ length: 20 }, (_, i) => queue(db, i + 1));
  const { log, lines } = captureLog();
  const dispatcher = new Dispatcher({ config: kube(16), db, log, sandbox: {} as SandboxGlobals, runnerEntry: HELD_RUNNER });
  try {
    dispatcher.start();
    await waitUntil(() => dispatcher.runningCount === 16, 10_000, 'sixteen tasks running (one thread)', 20);
    dispatcher.setConfig(kube(20));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(dispatcher.runningCount, 16, 'no task is handed to a full pool to wait there as running');
    assert.equal(ids.filter((id) => getTask(db, id)?.status === 'queued').length, 4);
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; maxConcurrent?: number }).find((l) => l.msg.includes('above the 16 tasks the runner pool was started for'));
    assert.ok(warned, 'the operator is told a restart is needed');
    assert.equal(warned.maxConcurrent, 20);
  } finally {
    for (const id of ids) dispatcher.cancelRunning(id, 'shutdown');
    await dispatcher.stop(1_000);
    db.close();
  }
});
