/**
 * The mail servers of the harness over TLS, with real clients: Dovecot's IMAPS and STARTTLS, the SMTP capture's
 * implicit TLS (465 kind) and STARTTLS (587 kind), each trusting the per-run test CA; and the failures a client must
 * see: an unknown CA, a wrong host name, and a server that does not offer STARTTLS (refused, never downgraded).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import nodemailer from 'nodemailer';
import { startDovecot, type DovecotServer } from './dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from './smtp-capture.ts';
import { createTestTls, type TestTls } from './test-tls.ts';

const user = { user: 'tls@example.com', password: 'tls-secret' };

/** Connects with imapflow and returns the error it fails with (or throws when it logs in). */
async function loginError(opts: ImapFlowOptions): Promise<Error & { code?: string }> {
  const client = new ImapFlow({ logger: false, disableAutoIdle: true, connectionTimeout: 10_000, ...opts });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    return err as Error & { code?: string };
  }
  await client.logout();
  throw new Error('expected the login to fail, but it succeeded');
}

/** Logs in with imapflow, opens INBOX, and returns the message count. */
async function loginAndCount(opts: ImapFlowOptions): Promise<number> {
  const client = new ImapFlow({ logger: false, disableAutoIdle: true, connectionTimeout: 10_000, ...opts });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const mailbox = await client.mailboxOpen('INBOX');
    return mailbox.exists;
  } finally {
    await client.logout();
  }
}

/** Dovecot's log line for the most recent login. */
function lastLogin(server: DovecotServer): string {
  return server.logTail(200).split('\n').filter((l) => l.includes('Login: user=')).at(-1) ?? '(no login logged)';
}

describe('test CA', () => {
  it('writes a server key and certificate to files, and a second CA is unrelated', () => {
    const ca = createTestTls('airut test mail CA');
    const other = createTestTls('airut test unknown CA');
    try {
      const files = ca.writeServerFiles('127.0.0.1');
      assert.match(files.cert, /^-----BEGIN CERTIFICATE-----/);
      assert.notEqual(ca.caPem, other.caPem);
      assert.equal(ca.commonName, 'airut test mail CA');
    } finally {
      ca.remove();
      other.remove();
    }
  });
});

describe('dovecot over TLS', () => {
  let ca: TestTls;
  let unknownCa: TestTls;
  let dovecot: DovecotServer;
  let wrongHost: DovecotServer;
  let plainOnly: DovecotServer;
  before(async () => {
    ca = createTestTls('airut test mail CA');
    unknownCa = createTestTls('airut test unknown CA');
    const good = ca.writeServerFiles('127.0.0.1');
    dovecot = await startDovecot({ users: [user], tls: { certPath: good.certPath, keyPath: good.keyPath } });
    const bad = ca.serverOptions('wrong-host.test');
    wrongHost = await startDovecot({ users: [user], tls: { certPem: bad.cert, keyPem: bad.key } });
    plainOnly = await startDovecot({ users: [user] });
    await dovecot.append(user.user, 'Subject: over TLS\r\n\r\nhello\r\n');
  });
  after(async () => {
    await dovecot?.stop();
    await wrongHost?.stop();
    await plainOnly?.stop();
    ca?.remove();
    unknownCa?.remove();
  });

  it('serves IMAPS on tlsPort to a client trusting the test CA', async () => {
    assert.ok(dovecot.tlsPort !== undefined && dovecot.tlsPort !== dovecot.port);
    const count = await loginAndCount({ ...dovecot.clientOptions(user.user), port: dovecot.tlsPort, secure: true, tls: { ca: [ca.caPem] } });
    assert.equal(count, 1);
    assert.match(lastLogin(dovecot), /Login: user=<tls@example\.com>, method=PLAIN.*, TLS, /);
  });

  it('offers STARTTLS on the plain port, and the login happens after it', async () => {
    const count = await loginAndCount({ ...dovecot.clientOptions(user.user), doSTARTTLS: true, tls: { ca: [ca.caPem] } });
    assert.equal(count, 1);
    assert.match(lastLogin(dovecot), /, TLS, /);
    // The harness's own helpers stay plain (Dovecot calls a loopback plaintext session "secured", not "TLS").
    assert.equal(await dovecot.countInbox(user.user), 1);
    assert.match(lastLogin(dovecot), /, secured, /);
  });

  it('refuses a certificate from an unknown CA (IMAPS and STARTTLS)', async () => {
    const base = dovecot.clientOptions(user.user);
    const implicit = await loginError({ ...base, port: dovecot.tlsPort, secure: true, tls: { ca: [unknownCa.caPem] } });
    assert.equal(implicit.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', implicit.message);
    const starttls = await loginError({ ...base, doSTARTTLS: true, tls: { ca: [unknownCa.caPem] } });
    assert.equal(starttls.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', starttls.message);
  });

  it('refuses a certificate made for another host name', async () => {
    const err = await loginError({ ...wrongHost.clientOptions(user.user), port: wrongHost.tlsPort, secure: true, tls: { ca: [ca.caPem] } });
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID', err.message);
    assert.match(err.message, /127\.0\.0\.1/);
  });

  it('refuses to log in when STARTTLS is required but the server does not offer it (no downgrade)', async () => {
    const err = await loginError({ ...plainOnly.clientOptions(user.user), doSTARTTLS: true, tls: { ca: [ca.caPem] } });
    assert.match(err.message, /STARTTLS/i);
    assert.doesNotMatch(plainOnly.logTail(), /Login: user=<tls@example\.com>/);
  });
});

describe('dovecot TLS and OAuth2 options: bad input', () => {
  it('refuses a certificate or key that is not PEM, a key of another certificate, a missing file, a bad URL', async () => {
    const ca = createTestTls('airut test mail CA');
    const other = createTestTls('airut test unknown CA');
    try {
      const good = ca.serverOptions('127.0.0.1');
      await assert.rejects(startDovecot({ users: [user], tls: { certPem: 'nope', keyPem: good.key } }), /tls certificate is not a PEM certificate/);
      await assert.rejects(startDovecot({ users: [user], tls: { certPem: good.cert, keyPem: 'nope' } }), /tls key is not a PEM private key/);
      const foreignKey = other.serverOptions('127.0.0.1').key;
      await assert.rejects(startDovecot({ users: [user], tls: { certPem: good.cert, keyPem: foreignKey } }), /tls key does not belong to the certificate for .*127\.0\.0\.1/);
      await assert.rejects(startDovecot({ users: [user], tls: { certPath: `${ca.dir}/missing.crt`, keyPath: `${ca.dir}/missing.key` } }), { code: 'ENOENT' });
      await assert.rejects(startDovecot({ users: [user], oauth2: { introspectionUrl: 'http://127.0.0.1:1/x y' } }), /bad introspection URL/);
    } finally {
      ca.remove();
      other.remove();
    }
  });
});

describe('smtp capture over TLS', () => {
  let ca: TestTls;
  let unknownCa: TestTls;
  const captures: SmtpCapture[] = [];
  before(() => {
    ca = createTestTls('airut test mail CA');
    unknownCa = createTestTls('airut test unknown CA');
  });
  after(async () => {
    for (const c of captures) await c.stop();
    ca?.remove();
    unknownCa?.remove();
  });
  const start = async (opts: Parameters<typeof startSmtpCapture>[0]): Promise<SmtpCapture> => {
    const capture = await startSmtpCapture(opts);
    captures.push(capture);
    return capture;
  };
  const send = (capture: SmtpCapture, options: Record<string, unknown>, subject: string) =>
    nodemailer
      .createTransport({ host: capture.host, port: capture.port, auth: { user: 'bot@example.com', pass: 'pw' }, ...options })
      .sendMail({ from: 'bot@example.com', to: 'alice@example.com', subject, text: 'hi' });

  it('delivers over implicit TLS (465 kind) to a client trusting the test CA', async () => {
    const capture = await start({ tls: ca.serverOptions('127.0.0.1'), secure: true });
    await send(capture, { secure: true, tls: { ca: [ca.caPem] } }, 'implicit');
    const message = await capture.waitFor((m) => m.subject === 'implicit');
    assert.equal(message.secure, true);
    assert.equal(message.authMethod, 'PLAIN');
  });

  it('delivers after STARTTLS (587 kind) when the client requires it', async () => {
    const capture = await start({ tls: ca.serverOptions('127.0.0.1') });
    await send(capture, { secure: false, requireTLS: true, tls: { ca: [ca.caPem] } }, 'starttls');
    const message = await capture.waitFor((m) => m.subject === 'starttls');
    assert.equal(message.secure, true);
  });

  it('fails the handshake on an unknown CA and on a wrong host name', async () => {
    const capture = await start({ tls: ca.serverOptions('127.0.0.1'), secure: true });
    await assert.rejects(send(capture, { secure: true, tls: { ca: [unknownCa.caPem] } }, 'x'), { code: 'ESOCKET', message: /unable to verify/i });
    const wrong = await start({ tls: ca.serverOptions('wrong-host.test') });
    await assert.rejects(send(wrong, { requireTLS: true, tls: { ca: [ca.caPem] } }, 'x'), /altnames|wrong-host\.test/i);
    assert.equal(capture.messages.length + wrong.messages.length, 0);
  });

  it('a server that hides STARTTLS is refused by a client that requires it', async () => {
    const capture = await start({ tls: ca.serverOptions('127.0.0.1'), hideStartTls: true });
    await assert.rejects(send(capture, { requireTLS: true, tls: { ca: [ca.caPem] } }, 'x'), /STARTTLS/i);
    assert.equal(capture.messages.length, 0);
  });

  it('rejects secure: true without a certificate', async () => {
    await assert.rejects(startSmtpCapture({ secure: true }), /secure: true needs tls/);
  });
});
