/**
 * Added latency of the sandbox proxy per HTTPS request: the same GET against a local HTTPS server,
 * directly and through the conversation proxy (TLS terminated with the daemon's CA, allowlist
 * check, new TLS upstream), each with a keep-alive connection and with a new connection per
 * request. The proxy runs in-process on its Unix socket, as it does in the daemon; the sidecar's
 * TCP→Unix hop inside the container is not part of these figures (it is one local copy).
 *
 *   npx tsx scripts/bench/proxy-latency.ts [--requests 400]
 */
import fs from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS } from '../../src/proxy/conversation-proxy.ts';
import { createTestTls } from '../../test/harness/test-tls.ts';
import { writeDocsSection } from './docs-section.ts';

const argIndex = process.argv.indexOf('--requests');
const REQUESTS = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 400;
const WARMUP = 30;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(label: string, once: () => Promise<void>): Promise<{ label: string; p50: number; p90: number; p99: number }> {
  for (let i = 0; i < WARMUP; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { label, p50: percentile(times, 50), p90: percentile(times, 90), p99: percentile(times, 99) };
}

function get(options: https.RequestOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-bench-proxy-'));
  const upstreamTls = createTestTls();
  const upstream = https.createServer({ ...upstreamTls.serverOptions('bench.test'), keepAlive: true } as https.ServerOptions, (_req, res) => {
    res.end('x'.repeat(1024));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as net.AddressInfo).port;
  const ca = CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca')));
  const proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist('url_prefixes:\n  - host: bench.test\n    path: /api/*\n    methods: [GET]\n'),
    masks: [],
    ca,
    upstreamOverrides: { 'bench.test': { host: '127.0.0.1', port } },
    upstreamCa: [upstreamTls.caPem],
    onRequest: () => undefined,
  });
  const tlsSock = path.join(dir, 'sock', PROXY_SOCKETS.tls);
  const direct = { host: '127.0.0.1', port, servername: 'bench.test', ca: upstreamTls.caPem, path: '/api/x', headers: { host: 'bench.test' } };
  const proxied = { socketPath: tlsSock, servername: 'bench.test', ca: ca.certificatePem, path: '/api/x', headers: { host: 'bench.test' } };
  const keepDirect = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const keepProxied = new https.Agent({ keepAlive: true, maxSockets: 1 });

  const results = [
    await measure('direct, keep-alive', () => get({ ...direct, agent: keepDirect })),
    await measure('through proxy, keep-alive', () => get({ ...proxied, agent: keepProxied } as https.RequestOptions)),
    await measure('direct, new connection', () => get({ ...direct, agent: false })),
    await measure('through proxy, new connection', () => get({ ...proxied, agent: false } as https.RequestOptions)),
  ];
  keepDirect.destroy();
  keepProxied.destroy();
  await proxy.close();
  upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const fmt = (n: number) => n.toFixed(2);
  const byLabel = Object.fromEntries(results.map((r) => [r.label, r]));
  const added = (mode: string) => byLabel[`through proxy, ${mode}`]!.p50 - byLabel[`direct, ${mode}`]!.p50;
  for (const r of results) console.log(`${r.label.padEnd(32)} p50 ${fmt(r.p50)} ms  p90 ${fmt(r.p90)} ms  p99 ${fmt(r.p99)} ms`);
  console.log(`added at the median: keep-alive ${fmt(added('keep-alive'))} ms, new connection ${fmt(added('new connection'))} ms`);

  const rows = results.map((r) => `| ${r.label} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} |`).join('\n');
  const file = writeDocsSection(
    'proxy-latency',
    `## Sandbox proxy: added latency per HTTPS request

\`npx tsx scripts/bench/proxy-latency.ts\` — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${REQUESTS} requests per row after ${WARMUP} warm-up, 1 KiB responses from a local HTTPS server.
Through the proxy means: TLS terminated with a certificate from the daemon's CA, request guard and allowlist, a second TLS connection (or a pooled one) upstream.

| request | p50 ms | p90 ms | p99 ms |
| --- | --- | --- | --- |
${rows}

Added at the median: **${fmt(added('keep-alive'))} ms** with keep-alive, **${fmt(added('new connection'))} ms** with a new connection per request (a new connection pays for two TLS handshakes, one of them with a freshly minted certificate on the first use of a name). The sidecar's in-container TCP→Unix-socket hop is not included.`,
  );
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
