/**
 * The pod gateway over real TCP: state in and out with the task's token, a bare 404 for anything
 * else (no file touched), 413 over the cap, and proxy requests piped to the task's proxy socket
 * without the Proxy-Authorization header; 407 without valid credentials.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { gatewayTaskPaths, PodGateway, writeGatewayToken } from '../../../src/sandbox/kubernetes/pod-gateway.ts';
import { captureLog } from '../../harness/capture-log.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

/** Sends raw bytes, returns everything the gateway answered before closing. */
function exchange(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(request);
  });
}

function status(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

const basic = (id: number | string, token: string): string => `Basic ${Buffer.from(`task-${id}:${token}`).toString('base64')}`;

describe('PodGateway', () => {
  const stateDir = exitTempDir('airut-gateway-');
  const { log, lines } = captureLog();
  let gw: PodGateway;
  let token7: string;
  let token8: string;
  const seen: string[] = [];
  let proxyServer: net.Server;

  before(async () => {
    token7 = await writeGatewayToken(stateDir, 7);
    token8 = await writeGatewayToken(stateDir, 8);
    await fs.writeFile(gatewayTaskPaths(stateDir, 7).stateIn, 'STATE-IN-BYTES');
    // The task's explicit-proxy socket: records what it receives and answers like a proxy.
    proxyServer = net.createServer((s) => {
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('\r\n\r\n')) {
          seen.push(got);
          s.end(got.startsWith('CONNECT') ? 'HTTP/1.1 200 Connection established\r\n\r\n' : 'HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
        }
      });
    });
    await new Promise<void>((r) => proxyServer.listen(gatewayTaskPaths(stateDir, 7).proxySocket, r));
    gw = await PodGateway.start({ host: '127.0.0.1', port: 0, stateDir, maxStateBytes: 1000, log });
  });
  after(async () => {
    await gw.close();
    await new Promise<void>((r) => proxyServer.close(() => r()));
  });

  it('writes a 43-character token, 0600', async () => {
    assert.match(token7, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await fs.stat(gatewayTaskPaths(stateDir, 7).tokenFile)).mode & 0o777, 0o600);
  });

  it('streams state-in.tar with the right token', async () => {
    const r = await exchange(gw.port, `GET /airut-state/7/${token7}/in HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(status(r), 200);
    assert.ok(r.endsWith('\r\n\r\nSTATE-IN-BYTES'));
    assert.match(r, /Content-Length: 14/);
  });

  it('stores a POSTed state-out.tar atomically', async () => {
    const body = 'RETURNED-TAR';
    const r = await exchange(gw.port, `POST /airut-state/7/${token7}/out HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.equal(status(r), 200);
    const p = gatewayTaskPaths(stateDir, 7);
    assert.equal(await fs.readFile(p.stateOut, 'utf8'), body);
    await assert.rejects(fs.stat(`${p.stateOut}.partial`), { code: 'ENOENT' });
    assert.ok(!lines.join('').includes(token7), 'the token is never logged');
  });

  it('answers a bare 404 and touches no file for wrong, foreign or odd requests', async () => {
    const p = gatewayTaskPaths(stateDir, 7);
    await fs.rm(p.stateOut, { force: true });
    const requests = [
      `GET /airut-state/7/${token8}/in HTTP/1.1\r\n\r\n`, // another task's token
      `GET /airut-state/7/${'A'.repeat(43)}/in HTTP/1.1\r\n\r\n`, // wrong token
      `GET /airut-state/7/in HTTP/1.1\r\n\r\n`, // missing token
      `GET /airut-state/9/${token7}/in HTTP/1.1\r\n\r\n`, // no such task
      `GET /airut-state/../7/${token7}/in HTTP/1.1\r\n\r\n`,
      `GET /airut-state/%2e%2e/7/${token7}/in HTTP/1.1\r\n\r\n`,
      `GET /airut-state/07/${token7}/in HTTP/1.1\r\n\r\n`,
      `GET /airut-state/7x/${token7}/in HTTP/1.1\r\n\r\n`,
      `GET /airut-state/-7/${token7}/in HTTP/1.1\r\n\r\n`,
      `POST /airut-state/7/${token8}/out HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc`,
      `POST /airut-state/7/${token7}/in HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc`,
      `GET /airut-state/7/${token7}/out HTTP/1.1\r\n\r\n`,
      `GET / HTTP/1.1\r\n\r\n`,
      `not http at all\r\n\r\n`,
    ];
    for (const req of requests) {
      const r = await exchange(gw.port, req);
      assert.equal(status(r), 404, req);
      assert.ok(r.endsWith('Content-Length: 0\r\nConnection: close\r\n\r\n'), 'no detail in the answer');
    }
    await assert.rejects(fs.stat(p.stateOut), { code: 'ENOENT' });
    await assert.rejects(fs.stat(`${p.stateOut}.partial`), { code: 'ENOENT' });
  });

  it('answers 413 to a returned state over the cap, and 411 without a length', async () => {
    const over = await exchange(gw.port, `POST /airut-state/7/${token7}/out HTTP/1.1\r\nContent-Length: 1001\r\n\r\n`);
    assert.equal(status(over), 413);
    const chunked = await exchange(gw.port, `POST /airut-state/7/${token7}/out HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    assert.equal(status(chunked), 411);
    await assert.rejects(fs.stat(gatewayTaskPaths(stateDir, 7).stateOut), { code: 'ENOENT' });
  });

  it('answers 431 to a head over 16 KiB', async () => {
    const r = await exchange(gw.port, `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    assert.equal(status(r), 431);
  });

  it('pipes a proxy-form request with good credentials to the task proxy, without Proxy-Authorization', async () => {
    seen.length = 0;
    const r = await exchange(gw.port, `GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: ${basic(7, token7)}\r\nAccept: */*\r\n\r\n`);
    assert.equal(status(r), 204);
    assert.equal(seen.length, 1);
    assert.equal(seen[0], 'GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n');
  });

  it('pipes a CONNECT likewise', async () => {
    seen.length = 0;
    const r = await exchange(gw.port, `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nproxy-authorization: ${basic(7, token7)}\r\n\r\n`);
    assert.equal(status(r), 200);
    assert.equal(seen[0], 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  });

  it('answers 407 to missing or bad proxy credentials, and never reaches the proxy', async () => {
    seen.length = 0;
    for (const auth of [null, basic(7, token8), basic(7, 'short'), basic('7/../8', token7), 'Bearer abc', basic(9, token7)]) {
      const r = await exchange(gw.port, `GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`);
      assert.equal(status(r), 407, String(auth));
      assert.match(r, /Proxy-Authenticate: Basic realm="airut"/);
    }
    assert.equal(seen.length, 0);
    assert.ok(!lines.join('').includes(token7) && !lines.join('').includes(token8));
  });
});
