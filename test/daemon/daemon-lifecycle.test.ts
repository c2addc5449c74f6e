/** The daemon's own lifecycle, without mail servers: stop before start, and a stop during start-up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadServerConfig } from '../../src/config/index.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { LifecycleError } from '../../src/lifecycle/lifecycle.ts';
import { writeTestConfig } from '../harness/daemon-process.ts';

function config() {
  const cfg = writeTestConfig({ repos: [{ id: 'alpha', imapPort: 1, user: 'alpha-bot', password: 'unused' }] });
  return { cfg, config: loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env }) };
}

test('a daemon stopped before it started is stopped, and cannot be started after', async () => {
  const daemon = new Daemon(config().config);
  assert.equal(daemon.state, 'created');
  await daemon.stop();
  assert.equal(daemon.state, 'stopped');
  await assert.rejects(daemon.start(), (err: unknown) => err instanceof LifecycleError && err.code === 'LIFECYCLE_TRANSITION_REFUSED');
  assert.equal(daemon.state, 'stopped');
});

test('a stop during start-up ends the start-up after the step in progress, without an error', async () => {
  const { cfg, config: c } = config();
  const daemon = new Daemon(c);
  const started = daemon.start(); // opens the database, then awaits the container reaping
  assert.equal(daemon.state, 'starting');
  const stopped = daemon.stop();
  assert.equal(daemon.state, 'stopping');
  await started;
  await stopped;
  assert.equal(daemon.state, 'stopped');
  assert.ok(fs.existsSync(cfg.dbPath), 'the database was opened (and closed by the stop)');
  // The start-up went no further: the network sandbox directories were never prepared.
  assert.ok(!fs.existsSync(`${cfg.dir}/sandbox`), 'nothing after the step in progress was started');
});

test('a reload asked for while the daemon is not running (before start, after stop) is skipped and changes nothing', async () => {
  const daemon = new Daemon(config().config, { watchConfig: false });
  assert.deepEqual(await daemon.reload(), { outcome: 'skipped', applied: [], waiting: [], problems: [] });
  await daemon.stop();
  assert.equal((await daemon.reload()).outcome, 'skipped');
  assert.equal(daemon.state, 'stopped');
});
