/**
 * Names an attacker picks never meet the prototype of a lookup table. The proof needs a name such
 * as `constructor` that really resolves to loopback, so the proxy runs in a child process in a
 * private mount namespace (`unshare -m`, as root) with its own /etc/hosts; the machine's own file is
 * never touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UpstreamConnector } from '../../src/proxy/upstream-connector.ts';

const PROBE = fileURLToPath(new URL('./prototype-host-probe.ts', import.meta.url));

function canUnshare(): boolean {
  try {
    execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a host named `constructor` gets the loopback check like any other name', { skip: canUnshare() ? false : 'needs root and unshare -m' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-hosts-'));
  const hosts = path.join(dir, 'hosts');
  fs.writeFileSync(hosts, '127.0.0.1 localhost\n127.0.0.1 constructor\n');
  try {
    const out = execFileSync(
      'unshare',
      ['-m', 'sh', '-c', 'mount --bind "$1" /etc/hosts && exec "$2" --import tsx "$3"', 'sh', hosts, process.execPath, PROBE],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 60_000 },
    ).toString();
    const result = JSON.parse(out.trim().split('\n').pop()!) as { resolved: string | null; status: number; body: string; hits: number };
    assert.equal(result.resolved, '127.0.0.1', 'the namespace maps constructor to loopback, so the attack is real');
    assert.equal(result.status, 502, result.body);
    assert.match(result.body, /local or link-local addresses/);
    assert.equal(result.hits, 0, 'nothing reached the loopback listener');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('overrides are looked up by own names only', () => {
  const connector = new UpstreamConnector({ 'api.test': { host: '127.0.0.1', port: 8080 } }, undefined);
  try {
    assert.equal(connector.portFor('API.test', 443), 8080);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) assert.equal(connector.portFor(name, 443), 443, name);
  } finally {
    connector.destroy();
  }
});

test('an IP literal is resolved to itself and checked; an override may point at loopback', async () => {
  const connector = new UpstreamConnector({ 'local.test': { host: '127.0.0.1', port: null } }, undefined);
  try {
    for (const literal of ['127.0.0.1', '::1', '169.254.169.254', '0.0.0.0', '::ffff:127.0.0.1']) {
      await assert.rejects(connector.resolve(literal), { code: 'EAIRUTFORBIDDEN' }, literal);
    }
    assert.deepEqual(await connector.resolve('192.0.2.7'), [{ address: '192.0.2.7', family: 4 }]);
    assert.deepEqual(await connector.resolve('local.test'), [{ address: '127.0.0.1', family: 4 }]);
    // `localhost` resolves to loopback only: nothing is left to connect to.
    await assert.rejects(connector.resolve('localhost'), { code: 'EAIRUTFORBIDDEN' });
  } finally {
    connector.destroy();
  }
});
