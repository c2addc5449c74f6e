/**
 * Issue 6, hostile mail end to end: the whole corpus of test/fixtures/hostile/corpus.ts is
 * delivered by IMAP APPEND to the real daemon's inbox on a real Dovecot. The daemon stays up and
 * healthy, records every mail (accepted, or rejected with the reason the corpus expects), removes
 * none without its record, answers only the authorized sender, never with a smuggled header, and
 * still processes an ordinary mail sent afterwards.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startDovecot } from '../harness/dovecot.ts';
import { startSmtpCapture } from '../harness/smtp-capture.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { freePort } from '../harness/ports.ts';
import { openTestDb, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';
import { hostileCorpus, ALICE, AUTHSERV, AUTHORIZED_SENDERS } from '../fixtures/hostile/corpus.ts';
import { readHeaderLines } from '../../src/email/headers.ts';
import { BODY_CUT_NOTE } from '../../src/email/body-text.ts';
import { repoYaml, startE2eEnv, taskFor } from '../harness/e2e-env.ts';
import { isAgentRequest } from '../harness/mock-anthropic.ts';
import { latestPrompt } from '../harness/scripted-agent.ts';

interface Recorded {
  corpusId: string | null;
  status: string;
  reason: string | null;
  subject: string;
  sender: string | null;
}

const CORPUS_ID = /^X-Corpus-Id: ([^\r\n]+)/;

function recorded(cfg: TestConfig): Recorded[] {
  if (!fs.existsSync(cfg.dbPath)) return [];
  const db = openTestDb(cfg);
  try {
    const rows = db
      .prepare(`SELECT substr(m.raw, 1, 200) AS head, t.status, t.reason, t.subject, t.sender FROM tasks t JOIN messages m ON m.id = t.message_row ORDER BY t.id`)
      .all() as Array<{ head: Buffer; status: string; reason: string | null; subject: string; sender: string | null }>;
    return rows.map((r) => ({ corpusId: CORPUS_ID.exec(Buffer.from(r.head).toString('latin1'))?.[1] ?? null, status: r.status, reason: r.reason, subject: r.subject, sender: r.sender }));
  } catch {
    return []; // schema not created yet
  } finally {
    db.close();
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  await Promise.allSettled(cleanups.map((c) => c()));
});

// Headers our replies may carry; anything else would have come from a hostile mail.
const REPLY_HEADERS = new Set([
  'from', 'to', 'subject', 'message-id', 'date', 'in-reply-to', 'references', 'auto-submitted', 'x-auto-response-suppress',
  'x-airut-conversation', 'x-airut-kind', 'mime-version', 'content-type',
]);

test('the hostile corpus: the daemon survives, records every mail as expected, and then processes ordinary mail', async () => {
  const corpus = hostileCorpus();
  const dovecot = await startDovecot({ users: [{ user: 'hostile-bot', password: 'pw-hostile' }] });
  const smtp = await startSmtpCapture();
  cleanups.push(() => dovecot.stop(), () => smtp.stop());
  const port = await freePort();
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'hostile',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'hostile-bot',
        password: 'pw-hostile',
        authorizedSenders: AUTHORIZED_SENDERS,
        trustedAuthservId: AUTHSERV,
        // Every accepted corpus mail is a task from alice; the rate limit is not under test here.
        extra: { limits: { tasks_per_hour: null, tasks_per_sender_per_hour: null } },
      },
    ],
    global: { dashboard: { enabled: true, host: '127.0.0.1', port } },
  });
  const daemon = startDaemon(cfg);
  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    return { status: r.status, body: (await r.json()) as { repos?: Record<string, { state?: string }> } };
  };
  try {
    for (const m of corpus) {
      const { uid } = await dovecot.append('hostile-bot', m.raw);
      assert.ok(uid !== undefined, `Dovecot took ${m.id}`);
    }
    await waitUntil(() => recorded(cfg).length >= corpus.length, 120_000, `all ${corpus.length} corpus mails to be recorded`);
    await waitUntil(async () => (await dovecot.countInbox('hostile-bot')) === 0, 20_000, 'the inbox to be emptied');

    const rows = recorded(cfg);
    assert.equal(rows.length, corpus.length, 'one record per mail, no more');
    const byId = new Map(rows.map((r) => [r.corpusId, r]));
    for (const m of corpus) {
      const r = byId.get(m.id);
      assert.ok(r, `${m.id} was removed from the inbox without a record`);
      if (m.expect.status === 'accepted') assert.notEqual(r.status, 'rejected', `${m.id}: ${r.reason}`);
      else assert.deepEqual({ status: r.status, reason: r.reason }, { status: 'rejected', reason: m.expect.reason }, m.id);
    }

    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    const h = await health();
    assert.equal(h.status, 200);
    assert.ok(['idle', 'processing'].includes(h.body.repos?.hostile?.state ?? ''), JSON.stringify(h.body));

    // An ordinary mail afterwards is accepted and its task runs (here: to the error reply that
    // the repository cannot be fetched, since the test repo URL does not exist).
    const normal = buildMail({ from: ALICE, to: 'hostile-bot@repos.test', subject: 'ordinary after the storm', text: 'Please fix the build.', authResults: [dmarcPass(AUTHSERV, 'example.com')] });
    await dovecot.append('hostile-bot', normal);
    await waitUntil(() => recorded(cfg).some((r) => r.subject === 'ordinary after the storm'), 20_000, 'the ordinary mail to be recorded');
    assert.notEqual(recorded(cfg).find((r) => r.subject === 'ordinary after the storm')?.status, 'rejected');
    const reply = await smtp.waitFor((m) => (m.subject ?? '').endsWith('ordinary after the storm'), 120_000);
    assert.match(reply.text ?? '', /could not fetch the repository/);

    // Everything that went out went to the authorized sender, with our headers only.
    assert.ok(smtp.messages.length > 0);
    for (const m of smtp.messages) {
      assert.deepEqual(m.envelope.rcptTo, [ALICE], `a reply went to ${m.envelope.rcptTo.join(', ')}`);
      const names = readHeaderLines(m.raw).map((h) => h.name.toLowerCase());
      for (const n of names) assert.ok(REPLY_HEADERS.has(n), `a reply (${m.subject}) carries the header ${n}`);
      assert.equal(names.filter((n) => n === 'content-type').length, 1);
    }
    // Refused as spoofed, ambiguous, unauthorized or a loop: never answered (no backscatter).
    for (const m of corpus) {
      if (m.expect.status !== 'rejected' || m.expect.reason === 'too_large') continue;
      const answers = smtp.messages.filter((r) => r.inReplyTo === `<${m.id}.corpus@example.com>` || (r.subject ?? '').includes(m.id));
      assert.deepEqual(answers.map((r) => r.subject), [], `${m.id} was answered`);
    }

    // The too-large ones were told why.
    for (const id of corpus.filter((m) => m.expect.status === 'rejected' && m.expect.reason === 'too_large').map((m) => m.id)) {
      await smtp.waitFor((m) => (m.subject ?? '').includes(id) && /not processed/.test(m.text ?? ''), 30_000);
    }

    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.equal(await daemon.stop('SIGTERM'), 0);
    assert.ok(!daemon.logs.some((l) => l.level === 'fatal' || /listener loop crashed|thread died/.test(l.msg)), 'no crash was logged');
  } finally {
    await daemon.stop('SIGKILL');
  }
});

// Issue 13, item 14: quote stripping was quadratic (`\bschrieb\b.*:`), so one 5 MB line kept a
// runner thread busy for hours before the prompt existed. Through the real daemon, Dovecot, podman
// and the Claude Code CLI, such a mail is now a task like any other: its prompt is built at once
// (cut to the documented bound, with a note), the task runs and replies, and /health answers.
test('a 5 MB quote-stripping bomb becomes a task whose prompt is built at once, and the daemon stays responsive', async () => {
  const env = await startE2eEnv({ repoIds: ['bomb'] });
  cleanups.push(() => env.stop());
  const repo = await env.repo('bomb', repoYaml({ timeout: 120 }));
  const port = await freePort();
  const { cfg, daemon } = env.daemonWith([repo], 1, { dashboard: { enabled: true, host: '127.0.0.1', port } });
  try {
    const line = `Am Montag ${'schrieb '.repeat(5 * 1024 * 1024 / 8)}x`;
    const sentAt = Date.now();
    const messageId = await env.send('bomb', 'quote bomb', `Please check the build.\n\n${line}\n> quoted history\n`);

    // The runner is a thread of its own, but a hung one holds the only slot: the dashboard must
    // still answer, and the task must get to the API within a minute, not hours.
    await waitUntil(() => taskFor(cfg, messageId)?.status === 'running', 60_000, 'the bomb task to start');
    const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200);
    const request = await waitUntil(
      () => env.mock.requests.find((r) => r.body !== null && isAgentRequest(r.body) && latestPrompt(r.body).includes('Please check the build.')),
      60_000,
      'the bomb task prompt to reach the API',
    );
    const prompt = latestPrompt(request.body!);
    assert.ok(prompt.includes(BODY_CUT_NOTE), 'the prompt says that the body was cut');
    assert.ok(prompt.length < 1_100_000, `the prompt is bounded (${prompt.length} characters)`);

    const reply = await env.finalReplyTo(messageId, 120_000);
    assert.match(reply.text ?? '', /Done\./);
    assert.equal(taskFor(cfg, messageId)?.status, 'completed');
    assert.ok(Date.now() - sentAt < 180_000);
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
  } finally {
    await daemon.stop('SIGTERM');
  }
});
