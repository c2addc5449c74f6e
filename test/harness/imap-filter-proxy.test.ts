/**
 * The IMAP notification filter: a unit test of the line-aware filter, and imapflow in IDLE through the proxy against
 * the real Dovecot, where a mail appended while the filter is on produces no `exists` event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startDovecot, type DovecotServer } from './dovecot.ts';
import { notificationFilter, startImapFilterProxy, type ImapFilterProxy } from './imap-filter-proxy.ts';

/** Runs `chunks` through a filter that always drops; returns what passed and what was dropped. */
function run(chunks: string[]): { out: string; dropped: string[] } {
  const dropped: string[] = [];
  const filter = notificationFilter(() => true, (line) => dropped.push(line));
  const out = chunks.map((c) => filter(Buffer.from(c, 'latin1')).toString('latin1')).join('');
  return { out, dropped };
}

describe('imap notification filter', () => {
  it('drops EXISTS and RECENT, forwards everything else, and joins lines split across chunks', () => {
    const { out, dropped } = run(['* 3 EXI', 'STS\r\n* 1 RECENT\r\n* 2 EXPUNGE\r\n+ idling\r', '\n* 4 exists\r\na1 OK done\r\n']);
    assert.equal(out, '* 2 EXPUNGE\r\n+ idling\r\na1 OK done\r\n');
    assert.deepEqual(dropped, ['* 3 EXISTS', '* 1 RECENT', '* 4 exists']);
  });

  it('passes literals through untouched, even when their text looks like a notification', () => {
    const literal = '* 5 EXISTS\r\n';
    const response = `* 1 FETCH (BODY[] {${literal.length}}\r\n${literal})\r\n`;
    const { out, dropped } = run([response.slice(0, 20), response.slice(20, 31), response.slice(31), '* 6 EXISTS\r\n']);
    assert.equal(out, response);
    assert.deepEqual(dropped, ['* 6 EXISTS']);
  });

  it('forwards everything while switched off, and holds back only an unfinished line', () => {
    const filter = notificationFilter(() => false, () => assert.fail('nothing may be dropped'));
    assert.equal(filter(Buffer.from('* 2 EXISTS\r\n* 3 EX')).toString(), '* 2 EXISTS\r\n');
    assert.equal(filter(Buffer.from('ISTS\r\n')).toString(), '* 3 EXISTS\r\n');
  });
});

describe('imap filter proxy against dovecot', () => {
  const user = { user: 'idle@example.com', password: 'idle-secret' };
  let dovecot: DovecotServer;
  let proxy: ImapFilterProxy;
  before(async () => {
    dovecot = await startDovecot({ users: [user] });
    proxy = await startImapFilterProxy(dovecot.port);
  });
  after(async () => {
    await proxy?.close();
    await dovecot?.stop();
  });

  it('an IDLE session sees new mail until the filter is on, then hears nothing', async () => {
    const client = new ImapFlow({ ...dovecot.clientOptions(user.user), port: proxy.port });
    client.on('error', () => undefined);
    const exists: number[] = [];
    let onExists: (() => void) | undefined;
    client.on('exists', (info: { count: number }) => {
      exists.push(info.count);
      onExists?.();
    });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      // The TcpProxy side still works through the filter proxy (getters read live state).
      assert.deepEqual([proxy.openConnections, proxy.totalConnections], [1, 1]);
      // Control: with the filter off, a mail appended during IDLE is announced.
      const announced = new Promise<void>((resolve) => (onExists = resolve));
      const idle1 = client.idle();
      await dovecot.append(user.user, 'Subject: one\r\n\r\nhi\r\n');
      await announced;
      assert.deepEqual(exists, [1]);

      proxy.setDropNotifications(true);
      const dropped = proxy.waitForDrop('EXISTS');
      await dovecot.append(user.user, 'Subject: two\r\n\r\nhi\r\n');
      assert.equal(await dropped, '* 2 EXISTS');
      // NOOP ends the IDLE; its tagged OK comes after anything the server sent before, so the client has seen all.
      await client.noop();
      await idle1;
      assert.deepEqual(exists, [1], 'the dropped EXISTS must not reach the client');
      assert.equal(client.mailbox === false ? -1 : client.mailbox.exists, 1);
      assert.equal(await dovecot.countInbox(user.user), 2);
    } finally {
      await client.logout();
    }
  });
});
