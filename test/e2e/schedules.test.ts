/**
 * Scheduled tasks end to end: the real daemon, Dovecot, the SMTP capture, podman and the real
 * Claude Code CLI against the mock API (test/harness/scripted-agent.ts). A `* * * * *` schedule
 * runs once per slot, its reply goes to deliver.to without an acknowledgement and starts a
 * conversation that a reply continues; a trigger_command that exits 1 runs no agent and sends no
 * mail, one that exits 0 gives its output to the prompt.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../harness/daemon-process.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { ALICE, isAck, readDb, repoYaml, startE2eEnv, type E2eEnv } from '../harness/e2e-env.ts';
import type { CapturedMessage } from '../harness/smtp-capture.ts';

let env: E2eEnv;

interface ScheduledRow {
  id: number;
  status: string;
  message_id: string;
  conversation_id: string | null;
  sender: string;
  error: string | null;
}

const SLOT_WAIT_MS = 150_000;

function scheduledTasks(cfg: Parameters<typeof readDb>[0], name: string): ScheduledRow[] {
  return readDb(cfg, (db) => db.prepare(`SELECT id, status, message_id, conversation_id, sender, error FROM tasks WHERE schedule = ? ORDER BY id`).all(name) as ScheduledRow[]) ?? [];
}

function finalRepliesWithSubject(subject: string): CapturedMessage[] {
  return env.smtp.messages.filter((m) => (m.subject ?? '').endsWith(subject) && !isAck(m));
}

async function everyMinuteRunsOncePerSlotAndThreads(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml(), {
    extra: {
      schedules: {
        'every-minute': { cron: '* * * * *', prompt: '[[bash:echo scheduled-run-ok]]', subject: 'Minute check', deliver: { to: ALICE } },
      },
    },
  });
  const { cfg, daemon } = env.daemonWith([alpha], 2);
  try {
    const first = await env.smtp.waitFor((m) => (m.subject ?? '').endsWith('Minute check') && !isAck(m), SLOT_WAIT_MS);
    const conversationId = first.header('x-airut-conversation')!;
    assert.equal(first.subject, `Re: [ID:${conversationId}] Minute check`);
    assert.deepEqual(first.to, [ALICE]);
    assert.match(first.text ?? '', /scheduled-run-ok/);
    assert.match(first.inReplyTo ?? '', /^<airut-schedule\.alpha\.every-minute\.\d+@repos\.test>$/);

    // The next slot is a run of its own, in a conversation of its own.
    await waitUntil(() => (finalRepliesWithSubject('Minute check').length >= 2 ? true : undefined), SLOT_WAIT_MS, 'the second slot\'s reply');
    const tasks = scheduledTasks(cfg, 'every-minute');
    const slots = new Set(tasks.map((t) => t.message_id));
    assert.equal(slots.size, tasks.length, 'one task per slot, never two');
    assert.ok(tasks.every((t) => t.sender === ALICE));
    const conversations = new Set(finalRepliesWithSubject('Minute check').map((m) => m.header('x-airut-conversation')));
    assert.ok(conversations.size >= 2, 'each run starts a conversation');
    assert.equal(env.smtp.messages.filter((m) => (m.subject ?? '').endsWith('Minute check') && isAck(m)).length, 0, 'no acknowledgement');

    // A reply from deliver.to continues the run's conversation.
    const followUp = await env.send('alpha', `Re: ${first.subject}`, 'And one more thing', { inReplyTo: first.messageId!, references: [first.messageId!] });
    const answer = await env.finalReplyTo(followUp);
    assert.equal(answer.header('x-airut-conversation'), conversationId);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function triggerCommandDecides(): Promise<void> {
  const beta = await env.repo('beta', repoYaml(), {
    extra: {
      schedules: {
        quiet: { cron: '* * * * *', trigger_command: 'echo nothing-found; exit 1', deliver: { to: ALICE } },
        found: { cron: '* * * * *', trigger_command: "echo 'trigger-output-77 [[bash:echo via-trigger-ok]]'", subject: 'Found something', deliver: { to: ALICE } },
      },
    },
  });
  const { cfg, daemon } = env.daemonWith([beta], 2);
  try {
    const reply = await env.smtp.waitFor((m) => (m.subject ?? '').endsWith('Found something') && !isAck(m), SLOT_WAIT_MS);
    assert.match(reply.text ?? '', /via-trigger-ok/, 'the agent acted on the trigger output');
    const prompts = env.mock.messageRequests().map((r) => JSON.stringify(r.body));
    assert.ok(prompts.some((p) => p.includes('trigger-output-77') && p.includes('exited 0')), 'the trigger output reached the prompt');

    const quiet = await waitUntil(() => scheduledTasks(cfg, 'quiet').find((t) => t.status !== 'queued' && t.status !== 'running'), SLOT_WAIT_MS, 'the quiet run to end');
    assert.equal(quiet.status, 'cancelled');
    assert.match(quiet.error ?? '', /^trigger_command exited 1: nothing to do, the agent did not run/);
    assert.ok(!prompts.some((p) => p.includes('nothing-found')), 'no agent run for the quiet schedule');
    assert.equal(env.smtp.messages.filter((m) => (m.subject ?? '').endsWith('quiet')).length, 0, 'no mail for the quiet schedule');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

for (const rt of runtimeCases()) {
  describe(`with ${rt.command}`, { skip: rt.skip }, () => {
    before(async () => {
      env = await startE2eEnv({ repoIds: ['alpha', 'beta'], runtime: rt });
    });
    after(async () => {
      await env?.stop();
    });
    test('a * * * * * schedule runs once per slot, replies to deliver.to without an ack, and a reply continues it', everyMinuteRunsOncePerSlotAndThreads);
    test('trigger_command: exit 1 runs no agent and sends no mail; exit 0 gives its output to the prompt', triggerCommandDecides);
  });
}
