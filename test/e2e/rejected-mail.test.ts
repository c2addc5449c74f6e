/**
 * Issue 13, item 16, end to end: a flood of spoofed and unauthorized mail with large bodies, by IMAP
 * APPEND to a real Dovecot, taken in by the real daemon. Every rejected mail that is recorded keeps
 * its header section only; all of them together stay under the daily budget; sources over
 * `per_source_per_hour` are only counted; the inbox is emptied; nobody but the authorized sender is
 * ever answered; and an accepted mail is still stored whole.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startDovecot } from '../harness/dovecot.ts';
import { startSmtpCapture } from '../harness/smtp-capture.ts';
import { buildMail, dmarcFail, dmarcPass } from '../harness/mail-builder.ts';
import { openTestDb, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';
const BUDGET = 4000;
const PER_SOURCE = 4;
const BODY_MARK = 'BODY-OF-A-FLOOD-MAIL';
const BIG_BODY = `${BODY_MARK}\n${'x'.repeat(76)}\n`.repeat(4000); // ~390 KB

interface Row {
  sender: string | null;
  subject: string;
  status: string;
  reason: string | null;
  source_ip: string | null;
  size: number;
  stored: string;
  raw: Buffer;
}

function rows(cfg: TestConfig): Row[] {
  if (!fs.existsSync(cfg.dbPath)) return [];
  const db = openTestDb(cfg);
  try {
    return db
      .prepare(
        `SELECT t.sender, t.subject, t.status, t.reason, t.source_ip, m.size, m.stored, m.raw
           FROM tasks t JOIN messages m ON m.id = t.message_row ORDER BY t.id`,
      )
      .all() as Row[];
  } catch {
    return []; // schema not created yet
  } finally {
    db.close();
  }
}

function account(cfg: TestConfig): { stored_bytes: number; dropped: number; metadata_only: number } | null {
  if (!fs.existsSync(cfg.dbPath)) return null;
  const db = openTestDb(cfg);
  try {
    return (db.prepare(`SELECT stored_bytes, dropped, metadata_only FROM rejected_mail_days`).get() as never) ?? null;
  } catch {
    return null;
  } finally {
    db.close();
  }
}

/** A mail as the repo's mail server delivers it: its own Received header (with the connecting IP) on top. */
function delivered(from: string, subject: string, ip: string, authResults: string, text = BIG_BODY): string {
  const received = `Received: from mail.sender.example (mail.sender.example [${ip}])\r\n\tby ${AUTHSERV} (Postfix) with ESMTPS id X1; Mon, 6 May 2024 10:00:00 +0000\r\n`;
  return received + buildMail({ from, to: 'guard-bot@repos.test', subject, text, authResults: [authResults] });
}

const servers: Array<{ stop(): Promise<void> }> = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});

test('a flood of spoofed mail with large bodies: headers-only rows under the daily budget, floods per source only counted, inbox emptied, no reply', async () => {
  const dovecot = await startDovecot({ users: [{ user: 'guard-bot', password: 'pw-guard' }] });
  const smtp = await startSmtpCapture();
  servers.push(dovecot, smtp);
  const cfg = writeTestConfig({
    repos: [{ id: 'guard', imapPort: dovecot.port, smtpPort: smtp.port, user: 'guard-bot', password: 'pw-guard', authorizedSenders: ['alice@example.com'], trustedAuthservId: AUTHSERV }],
    global: { rejected_mail: { max_stored_bytes_per_day: BUDGET, per_source_per_hour: PER_SOURCE } },
  });
  const daemon = startDaemon(cfg);
  try {
    const mails: string[] = [];
    // Three spoofers of alice's domain, each from its own server, six mails each: DMARC fails.
    for (const [k, ip] of ['203.0.113.1', '203.0.113.2', '203.0.113.3'].entries()) {
      for (let i = 0; i < 6; i++) mails.push(delivered(`spoof${k}@example.com`, `spoof ${k}.${i}`, ip, dmarcFail(AUTHSERV, 'example.com')));
    }
    // One server rotating its From address: each passes DMARC for its own domain, none is authorized.
    for (let i = 0; i < 6; i++) mails.push(delivered(`rot${i}@evil.example`, `rotating ${i}`, '198.51.100.7', dmarcPass(AUTHSERV, 'evil.example')));
    for (const m of mails) await dovecot.append('guard-bot', m);
    // The authorized sender's own big mail, after the flood.
    const genuine = delivered('alice@example.com', 'genuine big', '192.0.2.10', dmarcPass(AUTHSERV, 'example.com'), `Please look.\n${'y'.repeat(100_000)}\n`);
    await dovecot.append('guard-bot', genuine);

    const expectedRows = 3 * PER_SOURCE + PER_SOURCE + 1;
    const expectedDropped = mails.length - 4 * PER_SOURCE;
    await waitUntil(() => rows(cfg).length === expectedRows && account(cfg)?.dropped === expectedDropped, 60_000, `${expectedRows} rows and ${expectedDropped} dropped`);
    await waitUntil(async () => (await dovecot.countInbox('guard-bot')) === 0, 20_000, 'the inbox to be emptied');

    const all = rows(cfg);
    const rejected = all.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 4 * PER_SOURCE);
    for (const r of rejected) {
      const raw = Buffer.from(r.raw);
      assert.ok(['headers', 'none'].includes(r.stored), `${r.subject}: stored ${r.stored}`);
      assert.ok(!raw.includes(BODY_MARK), `${r.subject}: no body bytes`);
      assert.ok(r.size > 390_000, `${r.subject}: the original size is kept (${r.size})`);
      if (r.stored === 'headers') assert.match(raw.toString('latin1'), /^Received: from mail\.sender\.example[\s\S]*\r\nSubject: /);
      else assert.equal(raw.byteLength, 0);
    }
    const storedBytes = rejected.reduce((n, r) => n + Buffer.from(r.raw).byteLength, 0);
    assert.ok(storedBytes <= BUDGET, `${storedBytes} bytes of rejected mail stored, budget ${BUDGET}`);
    assert.equal(account(cfg)?.stored_bytes, storedBytes, 'the daily account agrees with the rows');
    assert.ok(rejected.some((r) => r.stored === 'headers') && rejected.some((r) => r.stored === 'none'), 'the budget ran out during the flood');
    // Per source: by From address for the spoofers, by connecting IP for the rotating server.
    for (const k of [0, 1, 2]) assert.equal(rejected.filter((r) => r.sender === `spoof${k}@example.com`).length, PER_SOURCE);
    assert.deepEqual(rejected.filter((r) => r.source_ip === '198.51.100.7').map((r) => r.subject), ['rotating 0', 'rotating 1', 'rotating 2', 'rotating 3']);
    assert.deepEqual([...new Set(rejected.map((r) => r.reason))].sort(), ['auth_failed', 'unauthorized']);

    // Nothing accepted is affected: alice's big mail is stored whole.
    const alice = all.find((r) => r.subject === 'genuine big')!;
    assert.notEqual(alice.status, 'rejected');
    assert.equal(alice.stored, 'whole');
    assert.equal(Buffer.from(alice.raw).byteLength, alice.size);
    assert.equal(Buffer.from(alice.raw).toString('latin1'), genuine);

    // The budget and the per-source limit were each reported once at warn; each dropped mail at debug.
    assert.equal(daemon.logs.filter((l) => /budget for stored rejected mail is spent/.test(l.msg)).length, 1);
    assert.equal(daemon.logs.filter((l) => l.level === 'warn' && /is being counted, not stored \(logged once a day\)/.test(l.msg)).length, 1);
    assert.equal(daemon.logs.filter((l) => l.level === 'debug' && /so it is counted, not stored; removing it/.test(l.msg)).length, expectedDropped);
    // No reply to any outsider; only alice may hear back (her task fails to fetch the test repo).
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of smtp.messages) assert.deepEqual(m.envelope.rcptTo, ['alice@example.com'], `a mail went to ${m.envelope.rcptTo.join(', ')}`);

    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
