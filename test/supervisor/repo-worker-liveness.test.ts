/**
 * A listener thread whose event loop stops turning is terminated and restarted; one that is only
 * busy now and then is left alone. Real threads, checked from their event-loop figures.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/index.ts';
import { logger } from '../../src/log/logger.ts';
import { RepoWorker } from '../../src/supervisor/repo-worker.ts';
import { ThreadBundles } from '../../src/threads/bundle.ts';
import type { SupervisorApi } from '../../src/protocol/listener.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';

const STUCK_LISTENER = new URL('../fixtures/workers/stuck-listener.ts', import.meta.url);
const bundles = new ThreadBundles();
after(() => bundles.dispose());

test('a listener whose event loop never waits is terminated and restarted; a busy one that waits in between is not', async () => {
  // The fixture never connects: the port only has to make a valid configuration.
  const cfg = writeTestConfig({ repos: [{ id: 'stuck', imapPort: 9, user: 'stuck-bot', password: 'pw' }] });
  const repo = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env }).repos.stuck!;
  const starts = path.join(cfg.dir, 'listener-starts.log');
  // Threads copy the environment when they start.
  process.env.AIRUT_TEST_LISTENER_STARTS = starts;
  const crashes: string[] = [];
  const api: SupervisorApi = {
    acceptBatch: () => Promise.reject(new Error('not in this test')),
    reportStatus: () => {},
  };
  const worker = new RepoWorker({
    repo,
    api,
    log: logger().child({ repo: 'stuck' }),
    entry: await bundles.bundle(STUCK_LISTENER),
    stuckAfterMs: 1_000,
    onCrash: (reason) => void crashes.push(reason),
  });
  try {
    worker.start();
    await waitUntil(() => crashes.length === 1, 15_000, 'the stuck thread to be terminated');
    assert.match(crashes[0]!, /^thread stuck: its event loop did not wait once in 1 s$/);
    await waitUntil(() => fs.readFileSync(starts, 'utf8').trim().split('\n').length === 2, 15_000, 'the restart');
    // The second start is busy two thirds of the time, but waits in between: left running.
    await new Promise((r) => setTimeout(r, 4_000));
    assert.equal(crashes.length, 1);
    assert.equal(worker.state, 'running');
  } finally {
    delete process.env.AIRUT_TEST_LISTENER_STARTS;
    await worker.stop();
    fs.rmSync(cfg.dir, { recursive: true, force: true });
  }
});
