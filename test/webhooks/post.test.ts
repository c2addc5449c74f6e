import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { postWebhook } from '../../src/webhooks/post.ts';

/** A server whose handler the test writes; closed after the test. */
async function serve(t: { after: (fn: () => unknown) => void }, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=secret-in-query`;
}

test('the status decides: a 2xx whose body never ends is delivered, and the connection is closed', async (t) => {
  let closed: () => void;
  const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
  const url = await serve(t, (req, res) => {
    res.writeHead(202);
    const timer = setInterval(() => res.write('x'), 5);
    res.on('close', () => {
      clearInterval(timer);
      closed();
    });
  });
  assert.deepEqual(await postWebhook(url, {}, '{}', 60_000), { ok: true, status: 202 });
  await connectionClosed;
});

test('a receiver that accepts the connection but never answers fails at the deadline', async (t) => {
  const url = await serve(t, () => undefined);
  assert.deepEqual(await postWebhook(url, {}, '{}', 200), { ok: false, error: 'no answer within 200 ms' });
});

test('the body and headers arrive as given, with a Content-Length', async (t) => {
  let seen: { headers: http.IncomingHttpHeaders; body: string } | null = null;
  const url = await serve(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      res.writeHead(200).end();
    });
  });
  const body = JSON.stringify({ text: 'héllo ✓' });
  assert.equal((await postWebhook(url, { 'X-Airut-Event': 'task.finished' }, body, 5000)).ok, true);
  assert.equal(seen!.body, body);
  assert.equal(seen!.headers['content-length'], String(Buffer.byteLength(body)));
  assert.equal(seen!.headers['x-airut-event'], 'task.finished');
});
