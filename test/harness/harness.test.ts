import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { startDovecot, type DovecotServer } from './dovecot.ts';
import { buildMail, dmarcPass } from './mail-builder.ts';
import { freePort } from './ports.ts';
import { startSmtpCapture } from './smtp-capture.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const users = [
  { user: 'repo-a@example.com', password: 'secret-a' },
  { user: 'repo-b@example.com', password: 'p@ss w0rd!' },
];

describe('dovecot harness', () => {
  let dovecot: DovecotServer;
  before(async () => {
    dovecot = await startDovecot({ users });
  });
  after(async () => {
    await dovecot?.stop();
  });

  it('delivers appended mail to the right inbox, and the user logs in with their password', async () => {
    const raw = buildMail({
      from: 'Alice <alice@example.com>',
      to: users[0]!.user,
      subject: 'Fix the flaky test',
      text: 'Please look at test/foo.test.ts\n',
      messageId: '<task-1@test.example>',
      authResults: [dmarcPass('mx.example.com', 'example.com')],
    });
    const { uid } = await dovecot.append(users[0]!.user, raw);
    assert.equal(uid, 1);

    const inbox = await dovecot.listInbox(users[0]!.user);
    assert.deepEqual(inbox, [{ uid: 1, flags: [], messageId: '<task-1@test.example>', subject: 'Fix the flaky test' }]);
    assert.equal(await dovecot.countInbox(users[1]!.user), 0);

    // The way the daemon will see it: its own imapflow client, password login, raw source intact.
    const client = new ImapFlow({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      auth: { user: users[0]!.user, pass: users[0]!.password },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      const message = await client.fetchOne('1', { source: true }, { uid: true });
      assert.ok(message && message.source);
      const source = message.source.toString('utf8');
      assert.ok(source.startsWith('Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n'), source);
    } finally {
      await client.logout();
    }
  });

  it('keeps flags given to append and a password with spaces works', async () => {
    const user = users[1]!.user;
    await dovecot.append(user, buildMail({ from: 'x@example.com', subject: 'seen already', text: 'hi' }), ['\\Seen']);
    const [only] = await dovecot.listInbox(user);
    assert.deepEqual(only?.flags, ['\\Seen']);
  });

  it('rejects a wrong password without slowing later logins (auth penalty off)', async () => {
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const bad = new ImapFlow({ ...dovecot.clientOptions(users[0]!.user), auth: { user: users[0]!.user, pass: 'wrong' } });
      bad.on('error', () => undefined);
      await assert.rejects(bad.connect());
      bad.close();
    }
    assert.equal(await dovecot.countInbox(users[0]!.user), 1);
    assert.ok(Date.now() - started < 2_000, `logins took ${Date.now() - started} ms`);
  });

  it('pushes new mail to a client in IDLE', async () => {
    const user = users[1]!.user;
    const client = await dovecot.connect(user);
    try {
      await client.mailboxOpen('INBOX');
      const before = client.mailbox === false ? 0 : client.mailbox.exists;
      const pushed = new Promise<number>((resolve) => client.on('exists', (e: { count: number }) => resolve(e.count)));
      void client.idle();
      const started = Date.now();
      await dovecot.append(user, buildMail({ from: 'x@example.com', subject: 'pushed', text: 'hi' }));
      assert.equal(await pushed, before + 1);
      assert.ok(Date.now() - started < 3_000, `IDLE push took ${Date.now() - started} ms`);
    } finally {
      await client.logout();
    }
  });

  it('restart() keeps the port and the mail', async () => {
    const port = dovecot.port;
    await dovecot.restart();
    assert.equal(dovecot.port, port);
    const inbox = await dovecot.listInbox(users[0]!.user);
    assert.equal(inbox[0]?.messageId, '<task-1@test.example>');
  });

  it('fails fast, with Dovecot’s log, when its port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await assert.rejects(startDovecot({ users: [{ user: 'x', password: 'y' }], port }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'DOVECOT_START_FAILED');
        assert.match(err.message, /Address already in use/);
        return true;
      });
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    } finally {
      blocker.close();
    }
  });

  it('several instances run side by side and stop() cleans up', async () => {
    const [one, two] = await Promise.all([
      startDovecot({ users: [{ user: 'solo', password: 'x' }] }),
      startDovecot({ users: [{ user: 'solo', password: 'y' }] }),
    ]);
    assert.ok(one && two);
    assert.notEqual(one.port, two.port);
    assert.notEqual(one.dir, two.dir);
    await one.append('solo', buildMail({ from: 'a@example.com', subject: 'only in one', text: 'x' }));
    assert.equal(await one.countInbox('solo'), 1);
    assert.equal(await two.countInbox('solo'), 0);
    const started = Date.now();
    await Promise.all([one.stop(), two.stop()]);
    assert.ok(Date.now() - started < 3_000, `stop took ${Date.now() - started} ms`);
    assert.equal(fs.existsSync(one.dir), false);
    await one.stop(); // idempotent
  });
});

describe('smtp capture', () => {
  it('captures an authenticated message with an attachment', async () => {
    const smtp = await startSmtpCapture({ authUsers: { 'bot@example.com': 'smtp-secret' } });
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
      auth: { user: 'bot@example.com', pass: 'smtp-secret' },
    });
    try {
      await transport.sendMail({
        from: 'bot@example.com',
        to: 'alice@example.com',
        subject: 'Re: [ID:0123abcd] Fix the flaky test',
        text: 'Done.',
        html: '<p>Done.</p>',
        inReplyTo: '<task-1@test.example>',
        references: ['<task-1@test.example>'],
        attachments: [{ filename: 'report.txt', content: 'all green\n', contentType: 'text/plain' }],
      });
      const m = await smtp.waitFor((x) => x.subject?.includes('[ID:0123abcd]') ?? false, 5_000);
      assert.equal(m.authUser, 'bot@example.com');
      assert.deepEqual(m.envelope, { mailFrom: 'bot@example.com', rcptTo: ['alice@example.com'] });
      assert.equal(m.text?.trim(), 'Done.');
      assert.equal(m.html, '<p>Done.</p>');
      assert.equal(m.inReplyTo, '<task-1@test.example>');
      assert.deepEqual(m.references, ['<task-1@test.example>']);
      assert.equal(m.attachments.length, 1);
      assert.equal(m.attachments[0]?.filename, 'report.txt');
      assert.equal(m.attachments[0]?.content.toString(), 'all green\n');
      assert.ok(m.raw.includes('Subject: Re: [ID:0123abcd]'));
      assert.equal(m.header('In-Reply-To'), '<task-1@test.example>');
      assert.equal((await smtp.waitForCount(1, 100)).length, 1);

      const wrong = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: false,
        ignoreTLS: true,
        auth: { user: 'bot@example.com', pass: 'nope' },
      });
      await assert.rejects(wrong.sendMail({ from: 'bot@example.com', to: 'a@example.com', text: 'x' }), (err: { responseCode?: number }) => {
        assert.equal(err.responseCode, 535);
        return true;
      });
    } finally {
      transport.close();
      await smtp.stop();
    }
  });

  it('refusing mode answers 4xx so the sender retries, and recovers', async () => {
    const smtp = await startSmtpCapture({ refuse: true });
    const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true });
    try {
      await assert.rejects(
        transport.sendMail({ from: 'bot@example.com', to: 'alice@example.com', subject: 'one', text: 'x' }),
        (err: { responseCode?: number }) => {
          assert.equal(err.responseCode, 451);
          return true;
        },
      );
      assert.equal(smtp.messages.length, 0);
      assert.equal(smtp.refusedCount, 1);
      smtp.setRefusing(false);
      await transport.sendMail({ from: 'bot@example.com', to: 'alice@example.com', subject: 'two', text: 'x' });
      assert.deepEqual(
        (await smtp.waitForCount(1, 2_000)).map((m) => m.subject),
        ['two'],
      );
      await assert.rejects(smtp.waitFor((m) => m.subject === 'never', 50), /no matching message/);
    } finally {
      transport.close();
      await smtp.stop();
    }
  });
});

describe('tcp proxy', () => {
  let dovecot: DovecotServer;
  before(async () => {
    dovecot = await startDovecot({ users: [{ user: 'bot', password: 'pw' }] });
  });
  after(async () => {
    await dovecot?.stop();
  });

  it('forwards IMAP; cutAll() closes the client; setDown() refuses until back up', async () => {
    const proxy = await startTcpProxy(dovecot.port);
    try {
      const client = new ImapFlow(dovecot.clientOptions('bot', { port: proxy.port }));
      client.on('error', () => undefined);
      await client.connect();
      await client.mailboxOpen('INBOX');
      assert.equal(proxy.openConnections, 1);

      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      proxy.cutAll();
      await closed;
      assert.equal(client.usable, false);

      proxy.setDown(true);
      const refused = new ImapFlow(dovecot.clientOptions('bot', { port: proxy.port }));
      refused.on('error', () => undefined);
      await assert.rejects(refused.connect());
      refused.close();

      proxy.setDown(false);
      const reconnected = proxy.waitForConnection(2_000);
      const again = new ImapFlow(dovecot.clientOptions('bot', { port: proxy.port }));
      again.on('error', () => undefined);
      await again.connect();
      await reconnected;
      assert.ok(again.usable);
      await again.logout();
      assert.equal(proxy.totalConnections, 2);
    } finally {
      await proxy.close();
    }
  });

  it('black hole stalls traffic until a client timeout notices', async () => {
    const proxy = await startTcpProxy(dovecot.port);
    try {
      const client = new ImapFlow(dovecot.clientOptions('bot', { port: proxy.port }));
      client.on('error', () => undefined);
      await client.connect();
      proxy.setBlackhole(true);
      const started = Date.now();
      const noop = Promise.race([
        client.noop().then(() => 'answered'),
        new Promise((r) => setTimeout(() => r('stalled'), 300)),
      ]);
      assert.equal(await noop, 'stalled');
      assert.ok(Date.now() - started >= 290);
      client.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('mail builder', () => {
  it('builds CRLF-only mail with Authentication-Results on top and headers in the given order', async () => {
    const raw = buildMail({
      authResults: ['mx.example.com; dmarc=pass header.from=example.com', 'evil.example; dmarc=pass'],
      from: 'Zoë <zoe@example.com>',
      to: ['bot+opus@example.com', 'other@example.com'],
      subject: 'Grüße [ID:deadbeef]',
      text: 'line one\nline two — ünïcode\n',
      html: '<p>line one</p>',
      inReplyTo: '<a@x>',
      references: ['<a@x>', '<b@x>'],
      headers: [
        ['X-First', '1'],
        ['X-Second', '2'],
      ],
      attachments: [
        { filename: 'data.bin', content: Buffer.from([0, 1, 2, 255]) },
        { filename: 'naïve.txt', content: 'hello', contentType: 'text/plain' },
      ],
    });
    assert.equal(/(?<!\r)\n/.test(raw), false, 'bare LF found');
    const headerBlock = raw.slice(0, raw.indexOf('\r\n\r\n'));
    const names = headerBlock
      .split('\r\n')
      .filter((l) => !l.startsWith(' '))
      .map((l) => l.slice(0, l.indexOf(':')));
    assert.deepEqual(names, [
      'Authentication-Results',
      'Authentication-Results',
      'From',
      'To',
      'Subject',
      'Date',
      'Message-ID',
      'In-Reply-To',
      'References',
      'X-First',
      'X-Second',
      'MIME-Version',
      'Content-Type',
    ]);
    assert.ok(headerBlock.startsWith('Authentication-Results: mx.example.com;'));

    const parsed = await simpleParser(raw);
    assert.equal(parsed.subject, 'Grüße [ID:deadbeef]');
    assert.equal(parsed.from?.value[0]?.name, 'Zoë');
    assert.equal(parsed.text, 'line one\nline two — ünïcode\n');
    assert.equal(parsed.html, '<p>line one</p>');
    assert.deepEqual(parsed.references, ['<a@x>', '<b@x>']);
    assert.match(parsed.messageId ?? '', /^<.+@test\.example>$/);
    assert.deepEqual(
      parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString('hex')]),
      [
        ['data.bin', 'application/octet-stream', '000102ff'],
        ['naïve.txt', 'text/plain', Buffer.from('hello').toString('hex')],
      ],
    );
  });

  it('can leave out From, Message-ID and Date', () => {
    const raw = buildMail({ from: null, messageId: null, date: null, subject: 's', text: 't' });
    assert.doesNotMatch(raw, /^(From|Message-ID|Date):/m);
  });

  it('freePort returns distinct usable ports', async () => {
    const a = await freePort();
    const b = await freePort();
    assert.ok(a > 1024 && b > 1024);
  });
});
