/**
 * IDLE as real providers need it, against a real Dovecot behind a proxy: the safety poll finds mail
 * the server never announced, IDLE is re-issued every refresh interval, and the connection is
 * replaced by a fresh login every reconnect interval without the error backoff.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startImapFilterProxy } from '../harness/imap-filter-proxy.ts';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.ts';
import { buildMail } from '../harness/mail-builder.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { ImapListener, type ImapListenerOptions } from '../../src/listener/imap-listener.ts';

const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function dovecotFor(user: string): Promise<DovecotServer> {
  const d = await startDovecot({ users: [{ user, password: `pw-${user}` }] });
  cleanups.push(() => d.stop());
  return d;
}

/** A listener for `user` through `proxy`, recording every mail; long intervals unless `extra` says otherwise. */
function watch(proxy: TcpProxy, user: string, extra: Partial<ImapListenerOptions>) {
  const subjects: string[] = [];
  const states: string[] = [];
  const listener = new ImapListener({
    host: proxy.host,
    port: proxy.port,
    security: 'none',
    username: user,
    login: { kind: 'password', password: `pw-${user}` },
    tls: { caFile: null, caPem: null, insecureSkipVerify: false },
    useIdle: true,
    pollIntervalMs: 600_000,
    idleRefreshIntervalMs: 600_000,
    idleReconnectIntervalMs: 600_000,
    backoff: { initialMs: 200, maxMs: 500, stableAfterMs: 60_000 },
    onMessages: async (messages, recorded) => {
      for (const m of messages) {
        subjects.push(/^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim() ?? '');
        recorded(m.uid);
      }
    },
    onStatus: (st) => states.push(st.state),
    log,
    ...extra,
  });
  const running = listener.run();
  const stop = async () => {
    await listener.stop();
    await running;
  };
  return { subjects, states, stop };
}

const mail = (subject: string) => buildMail({ from: 'alice@example.com', subject, text: 'x' });

test('a mail the server never announces is still taken by the safety poll while idling', async () => {
  const d = await dovecotFor('poll-bot');
  const proxy = await startImapFilterProxy(d.port);
  cleanups.push(() => proxy.close());
  proxy.setDropNotifications(true);
  // Refresh and reconnect far away: only the safety poll can find the mail in time.
  const w = watch(proxy, 'poll-bot', { pollIntervalMs: 1_000 });
  try {
    await waitUntil(() => w.states.includes('idle'), 15_000, 'the listener to idle');
    const dropped = proxy.waitForDrop('EXISTS', 30_000);
    await d.append('poll-bot', mail('never announced'));
    await waitUntil(() => w.subjects.includes('never announced'), 30_000, 'the unannounced mail');
    assert.match(await dropped, /^\* \d+ EXISTS$/, 'the server did announce it, and the proxy swallowed it');
    assert.equal(proxy.totalConnections, 1, 'found on the same connection, not by reconnecting');
    assert.equal(w.states.filter((s) => s === 'backoff').length, 0);
  } finally {
    await w.stop();
  }
});

test('IDLE is ended and issued again every idle_refresh_interval, on the same connection', async () => {
  const d = await dovecotFor('refresh-bot');
  // Counts the server's answers to IDLE ("+ idling"), i.e. the IDLE commands it accepted.
  let idles = 0;
  const proxy = await startTcpProxy(d.port, '127.0.0.1', {
    fromServer: () => (chunk) => {
      idles += chunk.toString('latin1').match(/^\+ idling/gim)?.length ?? 0;
      return chunk;
    },
  });
  cleanups.push(() => proxy.close());
  const w = watch(proxy, 'refresh-bot', { idleRefreshIntervalMs: 500 });
  try {
    await waitUntil(() => idles >= 4, 30_000, 'IDLE to be issued four times');
    assert.equal(proxy.totalConnections, 1, 'refreshed on the same connection');
    // Re-entering IDLE is no news: the status is reported once, not at every refresh.
    assert.deepEqual(w.states, ['connecting', 'idle'], 'one status per change');
    await d.append('refresh-bot', mail('after refreshes'));
    await waitUntil(() => w.subjects.includes('after refreshes'), 30_000, 'the mail sent after the refreshes');
  } finally {
    await w.stop();
  }
  assert.equal(w.states.filter((s) => s === 'backoff').length, 0, `no error reconnect (states: ${w.states.join(', ')})`);
});

test('after idle_reconnect_interval the listener logs in again on a new connection, without backoff, and mail keeps flowing', async () => {
  const d = await dovecotFor('reconnect-bot');
  const proxy = await startTcpProxy(d.port);
  cleanups.push(() => proxy.close());
  const logins = () => d.logTail(100_000).match(/Login: user=<reconnect-bot>/g)?.length ?? 0;
  const before = logins();
  const w = watch(proxy, 'reconnect-bot', { idleReconnectIntervalMs: 1_500 });
  try {
    await waitUntil(() => proxy.totalConnections >= 3, 30_000, 'two planned reconnects');
    // A connection is counted when the proxy accepts it; Dovecot logs the login a moment later.
    await waitUntil(() => logins() - before >= 3, 30_000, 'a login on each of three connections in the Dovecot log');
    await waitUntil(() => proxy.openConnections <= 1, 15_000, 'each old connection to be closed');
    await d.append('reconnect-bot', mail('after reconnects'));
    await waitUntil(() => w.subjects.includes('after reconnects'), 30_000, 'the mail sent after the reconnects');
  } finally {
    await w.stop();
  }
  assert.equal(w.states.filter((s) => s === 'backoff').length, 0, `no backoff (states: ${w.states.join(', ')})`);
  assert.ok(w.states.filter((s) => s === 'connecting').length >= 3);
});

test('without IDLE, the planned reconnect happens too, without backoff', async () => {
  const d = await dovecotFor('poll-reconnect-bot');
  const proxy = await startTcpProxy(d.port);
  cleanups.push(() => proxy.close());
  const w = watch(proxy, 'poll-reconnect-bot', { useIdle: false, pollIntervalMs: 600_000, idleReconnectIntervalMs: 1_000 });
  try {
    await waitUntil(() => proxy.totalConnections >= 2, 30_000, 'a planned reconnect while polling');
    await d.append('poll-reconnect-bot', mail('polled after reconnect'));
    await waitUntil(() => w.subjects.includes('polled after reconnect'), 30_000, 'the mail sent after the reconnect');
  } finally {
    await w.stop();
  }
  assert.ok(w.states.includes('polling'));
  assert.equal(w.states.filter((s) => s === 'backoff').length, 0, `no backoff (states: ${w.states.join(', ')})`);
});
