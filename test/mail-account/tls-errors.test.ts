/**
 * The reading of TLS failures, on the error objects imapflow and nodemailer really produce against
 * the harness's TLS servers (and, for the codes no local server can cause without a clock change,
 * on errors shaped as Node raises them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import nodemailer from 'nodemailer';
import { describeTlsFailure, tlsFailureMessage, type MailEndpoint } from '../../src/mail-account/tls-errors.ts';
import type { SmtpCaptureOptions } from '../harness/smtp-capture.ts';
import { startTlsMailServers, type TlsMailServers } from './tls-servers.ts';

const user = { user: 'bot', password: 'pw-bot' };
let s: TlsMailServers;
before(async () => {
  s = await startTlsMailServers({ users: [user] });
});
after(() => s?.stop());

async function imapError(opts: Partial<ImapFlowOptions>): Promise<unknown> {
  const client = new ImapFlow({ host: '127.0.0.1', port: 1, auth: { user: user.user, pass: user.password }, logger: false, ...opts });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    return err;
  } finally {
    client.close();
  }
  throw new Error('expected the connection to fail');
}

async function smtpError(server: SmtpCaptureOptions, opts: Record<string, unknown>): Promise<{ err: unknown; port: number }> {
  const capture = await s.capture(server);
  try {
    await nodemailer.createTransport({ host: capture.host, port: capture.port, auth: { user: 'u', pass: 'p' }, ...opts }).verify();
  } catch (err) {
    return { err, port: capture.port };
  }
  throw new Error('expected the connection to fail');
}

const at = (protocol: 'IMAP' | 'SMTP', port: number, security: MailEndpoint['security']): MailEndpoint => ({
  protocol,
  configPath: 'repos.api.email',
  host: '127.0.0.1',
  port,
  security,
});

describe('imapflow errors', () => {
  it('unknown CA, IMAPS and STARTTLS', async () => {
    for (const [security, port, extra] of [
      ['tls', () => s.dovecot.tlsPort!, { secure: true }],
      ['starttls', () => s.dovecot.port, { doSTARTTLS: true }],
    ] as const) {
      const err = await imapError({ port: port(), ...extra, tls: { ca: [s.unknownCa.caPem] } });
      const f = describeTlsFailure(err, at('IMAP', port(), security));
      assert.equal(f?.kind, 'unknown_ca');
      assert.match(tlsFailureMessage(f!), /127\.0\.0\.1:\d+ presented a certificate signed by a CA this machine does not trust \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); if the server uses a private or company CA, set repos\.api\.email\.tls\.ca_file/);
    }
  });

  it('a plain port asked for implicit TLS, and a server without STARTTLS', async () => {
    const notTls = describeTlsFailure(await imapError({ port: s.plainOnly.port, secure: true }), at('IMAP', s.plainOnly.port, 'tls'));
    assert.equal(notTls?.kind, 'not_tls');
    assert.match(notTls!.fix, /use tls on port 993 and starttls on port 143/);
    const noStarttls = describeTlsFailure(await imapError({ port: s.plainOnly.port, doSTARTTLS: true }), at('IMAP', s.plainOnly.port, 'starttls'));
    assert.equal(noStarttls?.kind, 'no_starttls');
    assert.match(noStarttls!.detail, /does not offer STARTTLS/);
  });

  it('a refused login is not a TLS failure', async () => {
    const err = await imapError({ port: s.dovecot.tlsPort!, secure: true, tls: { ca: [s.ca.caPem] }, auth: { user: 'bot', pass: 'wrong' } });
    assert.equal(describeTlsFailure(err, at('IMAP', s.dovecot.tlsPort!, 'tls')), null);
  });
});

describe('nodemailer errors (the TLS code kept in originalCode)', () => {
  it('unknown CA on 465 and 587 kinds', async () => {
    const implicit = await smtpError({ tls: s.ca.serverOptions('127.0.0.1'), secure: true }, { secure: true, tls: { ca: [s.unknownCa.caPem] } });
    assert.equal(describeTlsFailure(implicit.err, at('SMTP', implicit.port, 'tls'))?.kind, 'unknown_ca');
    const starttls = await smtpError({ tls: s.ca.serverOptions('127.0.0.1') }, { requireTLS: true, tls: { ca: [s.unknownCa.caPem] } });
    assert.equal(describeTlsFailure(starttls.err, at('SMTP', starttls.port, 'starttls'))?.kind, 'unknown_ca');
  });

  it('a wrong host name names the certificate and the setting', async () => {
    const { err, port } = await smtpError({ tls: s.ca.serverOptions('wrong-host.test'), secure: true }, { secure: true, tls: { ca: [s.ca.caPem] } });
    const f = describeTlsFailure(err, at('SMTP', port, 'tls'));
    assert.equal(f?.kind, 'wrong_host');
    assert.match(f!.detail, /is for wrong-host\.test, not for 127\.0\.0\.1/);
    assert.match(f!.fix, /repos\.api\.email\.smtp_server/);
  });

  it('a server that hides STARTTLS', async () => {
    const { err, port } = await smtpError({ tls: s.ca.serverOptions('127.0.0.1'), hideStartTls: true }, { requireTLS: true, tls: { ca: [s.ca.caPem] } });
    const f = describeTlsFailure(err, at('SMTP', port, 'starttls'));
    assert.equal(f?.kind, 'no_starttls');
    assert.match(f!.fix, /use repos\.api\.email\.smtp_security: tls with the server's TLS port \(usually 465\), or set repos\.api\.email\.smtp_port to its STARTTLS port \(usually 587\)/);
  });
});

describe('codes no local server produces', () => {
  const endpoint = at('IMAP', 993, 'tls');
  const nodeError = (code: string) => Object.assign(new Error(code.toLowerCase().replace(/_/g, ' ')), { code });
  it('self-signed, expired, not yet valid, and no certificate error at all', () => {
    assert.equal(describeTlsFailure(nodeError('DEPTH_ZERO_SELF_SIGNED_CERT'), endpoint)?.kind, 'self_signed');
    assert.match(describeTlsFailure(nodeError('SELF_SIGNED_CERT_IN_CHAIN'), endpoint)!.fix, /tls\.ca_file.*insecure_skip_verify/);
    assert.match(describeTlsFailure(nodeError('CERT_HAS_EXPIRED'), endpoint)!.detail, /has expired/);
    assert.match(describeTlsFailure(nodeError('CERT_NOT_YET_VALID'), endpoint)!.fix, /clock/);
    assert.equal(describeTlsFailure(nodeError('ECONNREFUSED'), endpoint), null);
    assert.equal(describeTlsFailure(undefined, endpoint), null);
  });
});
