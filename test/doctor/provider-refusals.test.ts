/**
 * The doctor's fix for a refused login, on the words Exchange Online and Gmail really answer with.
 * No local server can be Exchange, so the refusals come from peers that speak just enough of the
 * protocols to refuse a login with those words: a scripted IMAP peer, and the real `smtp-server`
 * with an AUTH handler. imapflow and nodemailer build their real error objects from them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { imapCheck } from '../../src/doctor/imap.ts';
import { runCheck } from '../../src/doctor/run-checks.ts';
import { smtpCheck } from '../../src/doctor/smtp.ts';
import type { CheckResult } from '../../src/doctor/types.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

/**
 * An IMAP peer that greets with `capabilities` and answers LOGIN or AUTHENTICATE with `NO <refusal>`
 * (and anything else with OK), as Exchange Online does for a password once basic auth is off.
 */
async function refusingImapPeer(capabilities: string, refusal: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(`* OK [CAPABILITY ${capabilities}] The Microsoft Exchange IMAP4 service is ready.\r\n`);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const [tag, command = ''] = line.split(' ');
        const verb = command.toUpperCase();
        if (verb === 'LOGIN' || verb === 'AUTHENTICATE') socket.write(`${tag} NO ${refusal}\r\n`);
        else if (verb === 'CAPABILITY') socket.write(`* CAPABILITY ${capabilities}\r\n${tag} OK CAPABILITY completed.\r\n`);
        else if (verb === 'LOGOUT') socket.end(`* BYE Microsoft Exchange Server IMAP4 server signing off.\r\n${tag} OK LOGOUT completed.\r\n`);
        else socket.write(`${tag} OK completed.\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** An SMTP server that refuses every AUTH with `code message`. */
async function refusingSmtp(code: number, message: string): Promise<number> {
  const server = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onAuth: (_auth, _session, callback) => callback(Object.assign(new Error(message), { responseCode: code })),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.server.address() as net.AddressInfo).port;
}

function repo(email: Partial<RepoServerConfig['email']>): RepoServerConfig {
  return testRepoServerConfig('api', { email: { username: 'bot@contoso.example', ...email } });
}

const check = async (c: ReturnType<typeof imapCheck>): Promise<CheckResult> => (await runCheck(c, 10_000))[0]!;

describe('IMAP', () => {
  it('Exchange Online: "AUTHENTICATE failed." and "LOGIN failed." to a password mean configure microsoft_oauth2', async () => {
    for (const [caps, text] of [
      ['IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+', 'AUTHENTICATE failed.'],
      ['IMAP4 IMAP4rev1 UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+', 'LOGIN failed.'],
    ]) {
      const port = await refusingImapPeer(caps!, text!);
      const r = await check(imapCheck(repo({ imapPort: port })));
      assert.equal(r.status, 'FAIL');
      assert.equal(r.detail, `Exchange Online refused basic authentication at 127.0.0.1:${port} (${text})`);
      assert.match(r.fix, /^configure repos\.api\.email\.microsoft_oauth2 instead of password/);
    }
  });

  it('Gmail: "Application-specific password required" means an app password or oauth2', async () => {
    const port = await refusingImapPeer(
      'IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584 AUTH=PLAIN SASL-IR',
      '[ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)',
    );
    const r = await check(imapCheck(repo({ imapPort: port })));
    assert.equal(r.status, 'FAIL');
    assert.match(r.detail, /login refused by 127\.0\.0\.1:\d+: .*Application-specific password required/);
    assert.match(r.fix, /app password .*repos\.api\.email\.password reads, or configure repos\.api\.email\.oauth2/);
  });

  it('a plain refusal keeps the generic fix', async () => {
    const port = await refusingImapPeer('IMAP4rev1 AUTH=PLAIN SASL-IR', '[AUTHENTICATIONFAILED] Invalid credentials (Failure)');
    const r = await check(imapCheck(repo({ imapPort: port })));
    assert.match(r.fix, /check repos\.api\.email\.username and repos\.api\.email\.password/);
  });
});

describe('SMTP', () => {
  it('Exchange Online: 535 5.7.139 basic authentication is disabled means configure microsoft_oauth2', async () => {
    const port = await refusingSmtp(535, '5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM]');
    const r = await check(smtpCheck(repo({ smtpPort: port })));
    assert.equal(r.status, 'FAIL');
    assert.match(r.detail, /^Exchange Online refused basic authentication at 127\.0\.0\.1:\d+ \(.*535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled/);
    assert.match(r.fix, /^configure repos\.api\.email\.microsoft_oauth2 instead of password/);
  });

  it('Exchange Online with SMTP AUTH off for the tenant: enable it for the mailbox', async () => {
    const port = await refusingSmtp(535, '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.');
    const r = await check(smtpCheck(repo({ smtpPort: port })));
    assert.match(r.fix, /SmtpClientAuthenticationDisabled \$false/);
  });

  it('Gmail: 534 5.7.9 Application-specific password required', async () => {
    const port = await refusingSmtp(534, '5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor');
    const r = await check(smtpCheck(repo({ smtpPort: port })));
    assert.equal(r.status, 'FAIL');
    assert.match(r.fix, /app password/);
  });
});
