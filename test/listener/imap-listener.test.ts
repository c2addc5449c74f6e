/**
 * The listener against a real Dovecot: sizes are asked before bodies, so a mail over the size limit
 * reaches the callback as its header section only; every mail the callback recorded is removed, and
 * one it declined stays on the server.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { ImapListener, HEADER_PREVIEW_BYTES, type FetchedMessageInfo, type ImapListenerOptions } from '../../src/listener/imap-listener.ts';

const log = pino({ level: 'silent' });
const servers: DovecotServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

interface Seen {
  uid: number;
  raw: Buffer;
  info: FetchedMessageInfo;
}

function listener(d: DovecotServer, user: string, maxMessageBytes: number | null, onMessage: (s: Seen) => boolean, extra: Partial<ImapListenerOptions> = {}) {
  return new ImapListener({
    host: d.host,
    port: d.port,
    security: 'none',
    username: user,
    login: { kind: 'password', password: `pw-${user}` },
    tls: { caFile: null, caPem: null, insecureSkipVerify: false },
    useIdle: true,
    pollIntervalMs: 60_000,
    idleRefreshIntervalMs: 60_000,
    idleReconnectIntervalMs: 600_000,
    backoff: { initialMs: 200, maxMs: 500, stableAfterMs: 60_000 },
    maxMessageBytes,
    onMessages: async (messages, recorded) => {
      for (const m of messages) if (onMessage(m)) recorded(m.uid);
    },
    onStatus: () => {},
    log,
    ...extra,
  });
}

test('a mail over max_message_bytes is read as its header section only; the others whole; all recorded ones are removed', async () => {
  const d = await startDovecot({ users: [{ user: 'size-bot', password: 'pw-size-bot' }] });
  servers.push(d);
  const mail = (subject: string, bytes: number) =>
    buildMail({
      from: 'alice@example.com',
      subject,
      text: 'x',
      authResults: [dmarcPass('mx.repos.test')],
      attachments: bytes ? [{ filename: 'blob.bin', content: Buffer.alloc(bytes, 7) }] : [],
    });
  await d.append('size-bot', mail('small one', 0));
  await d.append('size-bot', mail('big one', 3 * 1024 * 1024));
  await d.append('size-bot', mail('small two', 10_000));
  const seen: Seen[] = [];
  const l = listener(d, 'size-bot', 1024 * 1024, (s) => {
    seen.push(s);
    return true;
  });
  const running = l.run();
  try {
    await waitUntil(() => seen.length === 3, 15_000, 'three messages');
    await waitUntil(async () => (await d.countInbox('size-bot')) === 0, 10_000, 'the inbox to be emptied');
  } finally {
    await l.stop();
    await running;
  }
  const bySubject = (s: string) => seen.find((m) => m.raw.toString('latin1').includes(`Subject: ${s}`))!;
  const big = bySubject('big one');
  assert.equal(big.info.headersOnly, true);
  assert.ok(big.info.size > 3 * 1024 * 1024, `reported size ${big.info.size}`);
  assert.ok(big.raw.length < HEADER_PREVIEW_BYTES, `only the header section was handed over (${big.raw.length} bytes)`);
  assert.match(big.raw.toString('latin1'), /\r\n\r\n$/);
  assert.doesNotMatch(big.raw.toString('latin1'), /blob\.bin/);
  for (const s of ['small one', 'small two']) {
    const m = bySubject(s);
    assert.equal(m.info.headersOnly, false);
    assert.equal(m.info.size, m.raw.length);
  }
  // Oldest first.
  assert.deepEqual(seen.map((s) => s.uid), [...seen.map((s) => s.uid)].sort((a, b) => a - b));
});

test('a mail the callback did not record stays on the server and is offered again after reconnecting', async () => {
  const d = await startDovecot({ users: [{ user: 'keep-bot', password: 'pw-keep-bot' }] });
  servers.push(d);
  await d.append('keep-bot', buildMail({ from: 'alice@example.com', subject: 'declined once', text: 'x' }));
  let offers = 0;
  const l = listener(d, 'keep-bot', null, () => ++offers > 1);
  const running = l.run();
  try {
    await waitUntil(() => offers >= 2, 15_000, 'the mail to be offered a second time');
    await waitUntil(async () => (await d.countInbox('keep-bot')) === 0, 10_000, 'the recorded mail to be removed');
  } finally {
    await l.stop();
    await running;
  }
});

test('a quiet IDLE outlives the socket timeout: no reconnect, and mail is still picked up', async () => {
  const d = await startDovecot({ users: [{ user: 'quiet-bot', password: 'pw-quiet-bot' }] });
  servers.push(d);
  const states: string[] = [];
  const seen: Seen[] = [];
  // imapflow probes a connection quiet for socketTimeout with a NOOP, which ends IDLE; the
  // listener must go back into IDLE, or the next quiet period closes the connection.
  const l = listener(d, 'quiet-bot', null, (s) => (seen.push(s), true), {
    socketTimeoutMs: 700,
    onStatus: (st) => states.push(st.state),
  });
  const running = l.run();
  try {
    await waitUntil(() => states.includes('idle'), 10_000, 'the listener to idle');
    await new Promise((r) => setTimeout(r, 4_000)); // several socket timeouts
    assert.equal(states.filter((st) => st === 'backoff').length, 0, `no reconnect while quiet (states: ${states.join(', ')})`);
    assert.equal(states.filter((st) => st === 'connecting').length, 1);
    await d.append('quiet-bot', buildMail({ from: 'alice@example.com', subject: 'after the quiet', text: 'x' }));
    await waitUntil(() => seen.length === 1, 10_000, 'the mail sent after the quiet period');
  } finally {
    await l.stop();
    await running;
  }
});

test('a refused password is the error state (no token to renew), retried slowly', async () => {
  const d = await startDovecot({ users: [{ user: 'wrongpw-bot', password: 'pw-wrongpw-bot' }] });
  servers.push(d);
  const statuses: Array<{ state: string; lastError: string | null; detail: string | null }> = [];
  const l = listener(d, 'wrongpw-bot', null, () => true, {
    login: { kind: 'password', password: 'not-the-password' },
    errorBackoff: { initialMs: 200, maxMs: 400, stableAfterMs: 60_000 },
    onStatus: (s) => statuses.push(s),
  });
  const running = l.run();
  try {
    const error = await waitUntil(() => statuses.find((s) => s.state === 'error'), 15_000, 'the error state');
    assert.match(error.lastError ?? '', /^login failed: /);
    assert.match(error.detail ?? '', /cannot log in until the login or grant is fixed/);
    assert.ok(!JSON.stringify(statuses).includes('not-the-password'));
    await waitUntil(() => statuses.filter((s) => s.state === 'error').length >= 2, 15_000, 'a second attempt, also refused');
    assert.ok(!statuses.some((s) => s.state === 'backoff'), 'a refused password is not a network blip');
  } finally {
    await l.stop();
    await running;
  }
});
