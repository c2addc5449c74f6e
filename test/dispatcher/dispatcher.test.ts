/**
 * The dispatcher's pool with real runner threads: a thread that dies (process.exit mid-run, an
 * uncaught exception) fails only its own task, with an error reply and no container left, and the
 * pool runs the next task. Real podman and the real Claude CLI against the mock API for the task
 * that runs normally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadServerConfig } from '../../src/config/index.ts';
import { Dispatcher } from '../../src/dispatcher/dispatcher.ts';
import { instanceId } from '../../src/instance-id.ts';
import { logger } from '../../src/log/logger.ts';
import { prepareSandbox } from '../../src/sandbox/prepare-sandbox.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { openDatabase } from '../../src/store/database.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';
import { repoYaml } from '../harness/e2e-env.ts';
import { buildMail, randomMessageId } from '../harness/mail-builder.ts';
import { startMockAnthropic } from '../harness/mock-anthropic.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { createSourceRepo } from '../harness/source-repo.ts';

const DYING_RUNNER = new URL('../fixtures/workers/dying-task-runner.mjs', import.meta.url);

test('a runner thread that dies fails only its own task, with a reply and no container left; the pool runs the next task', async () => {
  const podmanEnv = podmanTestEnv();
  const mock = await startMockAnthropic(scriptedAgent);
  const source = await createSourceRepo(repoYaml());
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'alpha',
        imapPort: 1,
        user: 'alpha-bot',
        password: 'unused',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'test-key' },
      },
    ],
    global: { container_network: 'host', execution: { max_concurrent: 1 } },
  });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  const submit = (subject: string, text: string) => {
    const messageId = randomMessageId('example.com');
    const raw = buildMail({ from: 'alice@example.com', to: 'alpha-bot@repos.test', subject, text, messageId });
    return acceptMail(db, {
      repoId: 'alpha',
      raw: Buffer.from(raw),
      imapUid: null,
      messageId,
      subject,
      sender: 'alice@example.com',
      conversationCandidates: [],
      verdict: { action: 'accept', modelHint: null },
    }).taskId;
  };
  const midRun = submit('dies mid-run [[runner:exit-mid-run]]', '[[sleep:30000]] long');
  const uncaught = submit('dies before it starts [[runner:uncaught]]', 'anything');
  const normal = submit('runs normally', '[[bash:echo after-the-crashes]]');

  const finished = new Map<number, string>();
  const sandbox = await prepareSandbox(config);
  const dispatcher = new Dispatcher({
    config,
    db,
    log: logger().child({ component: 'dispatcher' }),
    sandbox: sandbox.globals,
    runnerEntry: DYING_RUNNER,
    onTaskFinished: (taskId, status) => finished.set(taskId, status),
  });
  const task = (id: number) =>
    db.prepare(`SELECT status, error, started_at, finished_at FROM tasks WHERE id = ?`).get(id) as {
      status: string;
      error: string | null;
      started_at: number;
      finished_at: number;
    };
  const mailOf = (id: number) =>
    db.prepare(`SELECT kind, raw FROM outgoing_mail WHERE task_id = ? AND kind <> 'ack' ORDER BY id`).all(id) as Array<{ kind: string; raw: Buffer }>;
  try {
    dispatcher.start();
    await waitUntil(() => finished.size === 3, 180_000, 'the three tasks to finish', 200);

    for (const [id, how] of [
      [midRun, /exited with code:? 7/],
      [uncaught, /runner bug: uncaught exception/],
    ] as const) {
      const t = task(id);
      assert.equal(t.status, 'failed', `task ${id}`);
      assert.match(t.error ?? '', /^runner thread failed: /);
      assert.match(t.error ?? '', how);
      const mails = mailOf(id);
      assert.equal(mails.length, 1, 'one error reply');
      assert.equal(mails[0]!.kind, 'error');
      assert.match(mails[0]!.raw.toString(), /stopped unexpectedly/);
    }
    const containers = execFileSync(
      'podman',
      ['ps', '-a', '--filter', `label=airut.task=${midRun}`, '--filter', `label=airut.instance=${instanceId(cfg.dbPath)}`, '--format', '{{.Names}}'],
      { env: { ...process.env, ...podmanEnv } },
    ).toString();
    assert.equal(containers.trim(), '', 'the container of the dead thread was removed');

    const t3 = task(normal);
    assert.equal(t3.status, 'completed');
    assert.ok(t3.started_at >= task(midRun).finished_at && t3.started_at >= task(uncaught).finished_at, 'ran after both failures, on a new thread');
    const reply = mailOf(normal);
    assert.deepEqual(reply.map((m) => m.kind), ['reply']);
    assert.match(reply[0]!.raw.toString(), /after-the-crashes/);
  } finally {
    await dispatcher.stop(5_000);
    db.close();
    await mock.close();
  }
});
