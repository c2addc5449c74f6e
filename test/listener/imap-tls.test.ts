/**
 * The listener over TLS against a real Dovecot with a certificate from a per-run test CA: IMAPS and
 * STARTTLS with `tls.ca_file` fetch mail; an unknown CA, a wrong host name and a server without
 * STARTTLS stop it before any login, with a status naming the server and the setting to change;
 * `insecure_skip_verify` works and says so in the log at every connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MailTlsConfig } from '../../src/config/types.ts';
import { INSECURE_TLS_WARNING } from '../../src/mail-account/tls.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import type { DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { startTcpProxy } from '../harness/tcp-proxy.ts';
import { startClientBytesRecorder } from '../mail-account/client-bytes-recorder.ts';
import { startTlsMailServers, type TlsMailServers } from '../mail-account/tls-servers.ts';
import { startListenerRun, type ListenerRun, type ListenerRunOptions } from './listener-run.ts';

const USERS = ['imaps-bot', 'starttls-bot', 'unknown-ca-bot', 'wrong-host-bot', 'no-starttls-bot', 'insecure-bot'].map((user) => ({
  user,
  password: `pw-${user}`,
}));
const NO_TLS_OPTIONS: MailTlsConfig = { caFile: null, caPem: null, insecureSkipVerify: false };

let s: TlsMailServers;

before(async () => {
  s = await startTlsMailServers({ users: USERS });
});
after(() => s?.stop());

const trustingCa = (): MailTlsConfig => ({ caFile: s.ca.caPath, caPem: s.ca.caPem, insecureSkipVerify: false });

type Run = ListenerRun;

function start(user: string, extra: Partial<ListenerRunOptions> & Pick<ListenerRunOptions, 'port' | 'security' | 'tls'>): Run {
  return startListenerRun({
    host: '127.0.0.1',
    username: user,
    configPath: 'repos.api.email',
    login: { kind: 'password', password: `pw-${user}` },
    ...extra,
  });
}

/** The first error status the listener reports. */
function firstError(run: Run, what: string): Promise<string> {
  return waitUntil(() => run.statuses.find((status) => status.lastError !== null)?.lastError, 20_000, what);
}

function logins(server: DovecotServer, user: string): number {
  return server.logTail(2000).split('\n').filter((l) => l.includes(`Login: user=<${user}>`)).length;
}

const mail = (subject: string) => buildMail({ from: 'alice@example.com', subject, text: 'hi', authResults: [dmarcPass('mx.repos.test')] });

describe('the listener over TLS with tls.ca_file', () => {
  it('fetches mail over IMAPS (implicit TLS)', async () => {
    await s.dovecot.append('imaps-bot', mail('over imaps'));
    const run = start('imaps-bot', { port: s.dovecot.tlsPort!, security: 'tls', tls: trustingCa() });
    try {
      await waitUntil(() => run.subjects.includes('over imaps'), 20_000, 'the mail over IMAPS');
    } finally {
      await run.stop();
    }
    assert.match(s.dovecot.logTail(2000), /Login: user=<imaps-bot>, method=PLAIN.*, TLS, /);
  });

  it('fetches mail after STARTTLS on the plain port, and logs in only after the upgrade', async () => {
    await s.dovecot.append('starttls-bot', mail('after starttls'));
    const run = start('starttls-bot', { port: s.dovecot.port, security: 'starttls', tls: trustingCa() });
    try {
      await waitUntil(() => run.subjects.includes('after starttls'), 20_000, 'the mail after STARTTLS');
    } finally {
      await run.stop();
    }
    // The last login is the listener's (append() logs in on the plain port, which Dovecot calls "secured").
    const line = s.dovecot.logTail(2000).split('\n').filter((l) => l.includes('Login: user=<starttls-bot>')).at(-1) ?? '';
    assert.match(line, /, TLS, /, line);
  });
});

describe('the listener refuses a connection it cannot verify, before any login', () => {
  it('an unknown CA (IMAPS and STARTTLS): the status names the server and tls.ca_file', async () => {
    for (const [security, port] of [['tls', s.dovecot.tlsPort!], ['starttls', s.dovecot.port]] as const) {
      const run = start('unknown-ca-bot', { port, security, tls: { caFile: s.unknownCa.caPath, caPem: s.unknownCa.caPem, insecureSkipVerify: false } });
      let error: string;
      try {
        error = await firstError(run, `the unknown-CA error (${security})`);
      } finally {
        await run.stop();
      }
      assert.match(error, new RegExp(`IMAP server 127\\.0\\.0\\.1:${port} presented a certificate signed by a CA this machine does not trust`));
      assert.match(error, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      assert.match(error, /set repos\.api\.email\.tls\.ca_file to that CA's certificate/);
      assert.ok(run.subjects.length === 0);
    }
    // Without ca_file the system store alone does not know the test CA either.
    const run = start('unknown-ca-bot', { port: s.dovecot.tlsPort!, security: 'tls', tls: NO_TLS_OPTIONS });
    try {
      assert.match(await firstError(run, 'the error without ca_file'), /repos\.api\.email\.tls\.ca_file/);
    } finally {
      await run.stop();
    }
    assert.equal(logins(s.dovecot, 'unknown-ca-bot'), 0, s.dovecot.logTail(30));
  });

  it('a certificate for another host name: the status says which name it is for', async () => {
    const run = start('wrong-host-bot', { port: s.wrongHost.tlsPort!, security: 'tls', tls: trustingCa() });
    let error: string;
    try {
      error = await firstError(run, 'the wrong-host error');
      // Only a change of configuration or certificate ends it: the error state, not a network backoff.
      const state = await waitUntil(() => run.statuses.find((st) => st.state === 'error'), 20_000, 'the error state');
      assert.equal(state.lastError, error);
    } finally {
      await run.stop();
    }
    assert.match(error, new RegExp(`certificate of the IMAP server 127\\.0\\.0\\.1:${s.wrongHost.tlsPort} is for wrong-host\\.test, not for 127\\.0\\.0\\.1`));
    assert.match(error, /set repos\.api\.email\.imap_server to a name the certificate is issued for \(wrong-host\.test\)/);
    assert.equal(logins(s.wrongHost, 'wrong-host-bot'), 0);
  });

  it('starttls against a server without STARTTLS: refused, and no login was sent in plain text', async () => {
    const recorder = await startClientBytesRecorder(s.plainOnly.port);
    const run = start('no-starttls-bot', { port: recorder.port, security: 'starttls', tls: trustingCa() });
    let error: string;
    try {
      error = await firstError(run, 'the missing-STARTTLS error');
      // A second attempt after the backoff is refused the same way.
      await waitUntil(() => recorder.connections >= 2, 20_000, 'a second attempt');
    } finally {
      await run.stop();
      await recorder.close();
    }
    assert.match(error, new RegExp(`IMAP server 127\\.0\\.0\\.1:${recorder.port} does not offer STARTTLS`));
    assert.match(error, /nothing sent in plain text/);
    assert.match(error, /use repos\.api\.email\.imap_security: tls/);
    // What the client said in the clear: at most CAPABILITY (and a LOGOUT), never the login.
    const sent = recorder.sent();
    assert.doesNotMatch(sent, /LOGIN|AUTHENTICATE|pw-no-starttls-bot/i, sent);
    assert.equal(logins(s.plainOnly, 'no-starttls-bot'), 0);
  });
});

it('insecure_skip_verify: logs in to a server no CA here vouches for, and warns at every connection', async () => {
  await s.dovecot.append('insecure-bot', mail('unverified'));
  const proxy = await startTcpProxy(s.dovecot.tlsPort!);
  const run = start('insecure-bot', { port: proxy.port, security: 'tls', tls: { caFile: null, caPem: null, insecureSkipVerify: true } });
  const connected = () => run.lines.filter((l) => l.includes('"IMAP connected"')).length;
  try {
    await waitUntil(() => run.subjects.includes('unverified'), 20_000, 'the mail over an unverified connection');
    // A dropped connection makes the listener connect again: the warning comes again.
    proxy.cutAll();
    await waitUntil(() => connected() >= 2, 20_000, 'a second connection');
  } finally {
    await run.stop();
    await proxy.close();
  }
  const warnings = run.lines.filter((l) => l.includes(INSECURE_TLS_WARNING));
  assert.ok(warnings.length >= connected(), `${warnings.length} warnings for ${connected()} connections`);
  for (const w of warnings) assert.match(w, /"level":40/);
  // Each connection is preceded by its warning.
  const order = run.lines.filter((l) => l.includes(INSECURE_TLS_WARNING) || l.includes('"IMAP connected"')).map((l) => (l.includes('IMAP connected') ? 'C' : 'W'));
  assert.doesNotMatch(order.join(''), /CC|^C/, order.join(''));
});
