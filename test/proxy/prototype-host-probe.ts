/**
 * Run by upstream-connector.test.ts in a private mount namespace whose /etc/hosts maps
 * `constructor` to 127.0.0.1 (a stand-in for any name an attacker can point at loopback). Starts
 * a loopback listener and a proxy whose allowlist names `constructor`, sends one request for it,
 * and prints what happened as one JSON line.
 */
import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS } from '../../src/proxy/conversation-proxy.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-proto-'));
let hits = 0;
const canary = net.createServer((c) => {
  hits++;
  c.end('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nLOOPBACK-HIT');
});
await new Promise<void>((r) => canary.listen(0, '127.0.0.1', () => r()));
const port = (canary.address() as net.AddressInfo).port;
const proxy = await ConversationProxy.start({
  socketDir: path.join(dir, 'sock'),
  allowlist: parseAllowlist('domains: [constructor, allowed.test]'),
  masks: [],
  ca: CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca'))),
  // Built the way the config builds it: a plain object with the operator's names.
  upstreamOverrides: { 'allowed.test': { host: '192.0.2.1', port: 80 } },
  onRequest: () => undefined,
});
const resolved = await dns.lookup('constructor').then((a) => a.address, () => null);
const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
  const req = http.request({ socketPath: path.join(dir, 'sock', PROXY_SOCKETS.http), path: '/', headers: { host: `constructor:${port}` }, agent: false }, (res) => {
    let body = '';
    res.on('data', (d: Buffer) => (body += d.toString()));
    res.on('end', () => resolve({ status: res.statusCode!, body }));
  });
  req.on('error', reject);
  req.end();
});
await proxy.close();
canary.close();
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ resolved, ...answer, hits })}\n`);
