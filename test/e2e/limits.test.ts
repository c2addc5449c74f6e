/**
 * Issue 6, limits end to end: the real daemon against a real Dovecot and a real SMTP capture. A
 * flood from one sender is recorded and answered once with a time to retry, while the same repo's
 * other senders and another repo keep getting their tasks accepted; oversized mail is answered
 * once with the figures; nobody unauthorized is ever answered.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type CapturedMessage, type SmtpCapture } from '../harness/smtp-capture.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { openTestDb, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';

interface Row {
  id: number;
  repo_id: string;
  sender: string | null;
  subject: string;
  status: string;
  reason: string | null;
  message_id: string | null;
  created_at: number;
  size: number;
  stored: number;
}

function rows(cfg: TestConfig): Row[] {
  if (!fs.existsSync(cfg.dbPath)) return [];
  const db = openTestDb(cfg);
  try {
    return db
      .prepare(
        `SELECT t.id, t.repo_id, t.sender, t.subject, t.status, t.reason, t.message_id, t.created_at, m.size, length(m.raw) AS stored
         FROM tasks t JOIN messages m ON m.id = t.message_row ORDER BY t.id`,
      )
      .all() as Row[];
  } catch {
    return []; // schema not created yet
  } finally {
    db.close();
  }
}

function mail(from: string, subject: string, extra: Partial<Parameters<typeof buildMail>[0]> = {}): string {
  return buildMail({ from, to: 'bot@repos.test', subject, text: `please: ${subject}`, authResults: [dmarcPass(AUTHSERV, from.split('@')[1])], ...extra });
}

const limitReplies = (smtp: SmtpCapture, to: string): CapturedMessage[] =>
  smtp.messages.filter((m) => m.to.includes(to) && /Your mail was not processed/.test(m.text ?? ''));

const servers: Array<{ stop(): Promise<void> }> = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});

test('rate and size limits: a flood gets one reply with a retry time, big mail one reply with figures, other senders and repos unaffected', async () => {
  const dovecot: DovecotServer = await startDovecot({ users: [{ user: 'flood-bot', password: 'pw-flood' }, { user: 'calm-bot', password: 'pw-calm' }] });
  const smtp = await startSmtpCapture();
  servers.push(dovecot, smtp);
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'flood',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'flood-bot',
        password: 'pw-flood',
        authorizedSenders: ['*@example.com'],
        extra: { limits: { tasks_per_sender_per_hour: 2, tasks_per_hour: 6, max_message_bytes: 200_000, max_attachments: 3 } },
      },
      { id: 'calm', imapPort: dovecot.port, smtpPort: smtp.port, user: 'calm-bot', password: 'pw-calm', authorizedSenders: ['*@example.com'] },
    ],
  });
  const daemon = startDaemon(cfg);
  try {
    // alice: 2 tasks fit, then a flood of 25 more.
    const FLOOD = 25;
    for (let i = 0; i < 2 + FLOOD; i++) await dovecot.append('flood-bot', mail('alice@example.com', `alice ${i}`));
    // bob is within his own budget and the repo's (6: alice 2, bob 1, carol and dave 1 each).
    await dovecot.append('flood-bot', mail('bob@example.com', 'bob 0'));
    // carol's mail is over max_message_bytes; dave's has too many attachments.
    const blob = { filename: 'dump.bin', content: Buffer.alloc(400_000, 1) };
    await dovecot.append('flood-bot', mail('carol@example.com', 'carol big', { attachments: [blob] }));
    const tiny = (i: number) => ({ filename: `f${i}.txt`, content: `file ${i}` });
    await dovecot.append('flood-bot', mail('dave@example.com', 'dave many', { attachments: [0, 1, 2, 3, 4].map(tiny) }));
    // An outsider, oversized: rejected as unauthorized, never answered.
    await dovecot.append('flood-bot', mail('mallory@evil.example', 'mallory big', { attachments: [blob] }));
    // The other repo keeps working during the flood.
    await dovecot.append('calm-bot', mail('alice@example.com', 'calm 0'));

    const total = 2 + FLOOD + 5;
    await waitUntil(() => rows(cfg).length === total, 30_000, `all ${total} mails to be recorded`);
    await waitUntil(async () => (await dovecot.countInbox('flood-bot')) === 0 && (await dovecot.countInbox('calm-bot')) === 0, 10_000, 'the inboxes to be emptied');

    const all = rows(cfg);
    const bySubject = new Map(all.map((r) => [r.subject, r]));
    assert.deepEqual(
      all.filter((r) => r.sender === 'alice@example.com' && r.repo_id === 'flood').map((r) => r.reason),
      [null, null, ...Array(FLOOD).fill('rate_limited')],
    );
    assert.notEqual(bySubject.get('bob 0')?.status, 'rejected');
    assert.notEqual(bySubject.get('calm 0')?.status, 'rejected');
    assert.equal(bySubject.get('carol big')?.reason, 'too_large');
    assert.equal(bySubject.get('dave many')?.reason, 'too_large');
    assert.equal(bySubject.get('mallory big')?.reason, 'unauthorized');
    // The oversized mails were recorded by their header section only, with their real size.
    for (const s of ['carol big', 'mallory big']) {
      const r = bySubject.get(s)!;
      assert.ok(r.size > 400_000 && r.stored < 10_000, `${s}: size ${r.size}, stored ${r.stored}`);
    }

    // Replies: exactly one each to alice (rate), carol and dave (size); none to mallory.
    const alice = await smtp.waitFor((m) => m.to.includes('alice@example.com') && /rate|hour/.test(m.text ?? '') && /not processed/.test(m.text ?? ''), 20_000);
    const carol = await smtp.waitFor((m) => m.to.includes('carol@example.com') && /not processed/.test(m.text ?? ''), 20_000);
    const dave = await smtp.waitFor((m) => m.to.includes('dave@example.com') && /not processed/.test(m.text ?? ''), 20_000);
    const firstLimited = all.find((r) => r.reason === 'rate_limited')!;
    assert.equal(alice.inReplyTo, firstLimited.message_id, 'the rate-limit reply answers the first mail over the limit');
    assert.equal(alice.header('x-airut-kind'), 'error');
    assert.match(alice.subject ?? '', /^Re: \[ID:00000000\] alice 2$/);
    const when = /Send it again after (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(alice.text ?? '');
    assert.ok(when, alice.text);
    const retryAt = Date.parse(`${when[1]!.replace(' ', 'T')}:00Z`);
    const firstAccepted = all.find((r) => r.sender === 'alice@example.com')!.created_at;
    assert.ok(retryAt >= firstAccepted + 3_600_000 && retryAt < firstAccepted + 3_600_000 + 61_000, `retry ${when[1]} vs first task ${new Date(firstAccepted).toISOString()}`);
    const carolFigure = /it is \d+ KiB \((\d+) bytes\), and this repository accepts mail of at most 195 KiB \(200000 bytes\)/.exec(carol.text ?? '');
    assert.ok(carolFigure, carol.text);
    assert.equal(Number(carolFigure[1]), bySubject.get('carol big')!.size, 'the reply gives the size the IMAP server reported');
    assert.match(dave.text ?? '', /it has 5 attachments, and this repository accepts at most 3 in one mail/);

    // Give a late duplicate reply time to show up, then count.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(limitReplies(smtp, 'alice@example.com').length, 1, 'one rate-limit reply for the whole flood');
    assert.equal(limitReplies(smtp, 'carol@example.com').length, 1);
    assert.equal(limitReplies(smtp, 'dave@example.com').length, 1);
    assert.equal(smtp.messages.filter((m) => m.to.includes('mallory@evil.example')).length, 0, 'an outsider is never answered');
    assert.equal(daemon.child.exitCode, null);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
