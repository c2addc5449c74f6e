/**
 * Issue 17, reload without a restart: `max_concurrent` raised from 1 to 3 by editing the file
 * starts the queued tasks at once. The real daemon, Dovecot, SMTP capture, podman and the Claude
 * Code CLI against the scripted mock API (test/harness/scripted-agent.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitUntil, type TestConfig } from '../harness/daemon-process.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv, type TaskRowView } from '../harness/e2e-env.ts';

const podman = runtimeCases().find((c) => c.command === 'podman')!;
let env: E2eEnv;

before(async () => {
  if (!podman.skip) env = await startE2eEnv({ repoIds: ['wide'], runtime: podman });
});
after(async () => {
  await env?.stop();
});

function statuses(cfg: TestConfig): string[] {
  return readDb(cfg, (db) => (db.prepare('SELECT status FROM tasks ORDER BY id').all() as Array<{ status: string }>).map((r) => r.status)) ?? [];
}

function overlaps(a: TaskRowView, b: TaskRowView): boolean {
  return a.started_at! < b.finished_at! && b.started_at! < a.finished_at!;
}

test('max_concurrent raised from 1 to 3 in the file runs three queued tasks at once, without a restart', { skip: podman.skip }, async () => {
  const wide = await env.repo('wide', repoYaml());
  const { cfg, daemon } = env.daemonWith([wide], 1);
  try {
    const ids = [];
    for (const n of [1, 2, 3]) ids.push(await env.send('wide', `task ${n}`, `[[sleep:20000]] task ${n}`));
    await waitUntil(() => statuses(cfg).join() === 'running,queued,queued', 60_000, 'one task running, two queued');

    // Saved the way an editor does: a temporary file renamed over the configuration.
    const text = fs.readFileSync(cfg.configPath, 'utf8');
    assert.match(text, /max_concurrent: 1\n/);
    const tmp = path.join(cfg.dir, '.airut.yaml.swp');
    fs.writeFileSync(tmp, text.replace('max_concurrent: 1\n', 'max_concurrent: 3\n'));
    fs.renameSync(tmp, cfg.configPath);
    const reloaded = await daemon.waitForLog((l) => l.msg === 'configuration reloaded', 20_000, 'the reload');
    assert.ok((reloaded.applied as string[]).includes('max_concurrent 1 → 3'), JSON.stringify(reloaded));
    await waitUntil(() => statuses(cfg).join() === 'running,running,running', 60_000, 'three tasks running at once');

    for (const id of ids) await env.finalReplyTo(id, 120_000);
    const rows = ids.map((id) => taskFor(cfg, id)!);
    assert.deepEqual(rows.map((r) => r.status), ['completed', 'completed', 'completed']);
    assert.ok(overlaps(rows[0]!, rows[1]!) && overlaps(rows[0]!, rows[2]!) && overlaps(rows[1]!, rows[2]!), 'the three ran together');
    assert.ok(!daemon.logs.some((l) => l.msg === 'airut-ts stopped'), 'the daemon was not restarted');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
