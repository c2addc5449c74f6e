/**
 * What one reply's SMTP send costs: over a new connection per send (the outbox before issue 23)
 * against the repository's pooled connection (now), to the SMTP capture server, plain and with
 * STARTTLS (test CA). Same transport code as the daemon (reply/smtp-transport.ts), same reply bytes.
 *
 *   scripts/node --import tsx scripts/bench/smtp-send.ts [--sends N] [--no-docs]     # default N = 20
 */
import { composeMail } from '../../src/reply/compose.ts';
import { createSmtpTransport, sendRaw, type SmtpTransport } from '../../src/reply/smtp-transport.ts';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { testRepoServerConfig } from '../../test/harness/repo-server-config.ts';
import { startSmtpCapture, type SmtpCapture } from '../../test/harness/smtp-capture.ts';
import { createTestTls } from '../../test/harness/test-tls.ts';
import { writeDocsSection } from './docs-section.ts';
import { fmt, machineLine, median, percentile } from './report.ts';

const USER = 'bot';
const PASSWORD = 'bench-password';

function parseArgs(argv: string[]): { sends: number; docs: boolean } {
  let sends = 20;
  let docs = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sends') sends = Math.max(3, Number(argv[++i]));
    else if (a === '--no-docs') docs = false;
    else {
      console.log('usage: scripts/node --import tsx scripts/bench/smtp-send.ts [--sends N] [--no-docs]');
      process.exit(a === '--help' ? 0 : 2);
    }
  }
  return { sends, docs };
}

interface Row {
  readonly label: string;
  readonly samples: number[];
  readonly connections: number;
}

async function timed(transport: SmtpTransport, raw: Buffer): Promise<number> {
  const t = process.hrtime.bigint();
  const outcome = await sendRaw(transport, { from: `${USER}@example.com`, to: 'alice@example.org' }, raw);
  if (!outcome.ok) throw new Error(`send failed: ${String(outcome.error)}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** `sends` sends over a new connection each (login included), as the outbox did before the pool. */
async function newConnections(label: string, smtp: SmtpCapture, repo: RepoServerConfig, raw: Buffer, sends: number): Promise<Row> {
  const before = smtp.connectionCount;
  const samples: number[] = [];
  for (let i = 0; i < sends; i++) {
    const transport = createSmtpTransport(repo);
    samples.push(await timed(transport, raw));
    transport.close();
  }
  return { label, samples, connections: smtp.connectionCount - before };
}

/** One warm-up send opens the pool's connection; then `sends` sends over it, as the outbox does now. */
async function pooled(label: string, smtp: SmtpCapture, repo: RepoServerConfig, raw: Buffer, sends: number): Promise<Row & { first: number }> {
  const before = smtp.connectionCount;
  const transport = createSmtpTransport(repo, {}, undefined, true);
  try {
    const first = await timed(transport, raw);
    const samples: number[] = [];
    for (let i = 0; i < sends; i++) samples.push(await timed(transport, raw));
    return { label, samples, connections: smtp.connectionCount - before, first };
  } finally {
    transport.close();
  }
}

async function main(): Promise<void> {
  const { sends, docs } = parseArgs(process.argv.slice(2));
  const began = Date.now();
  const ca = createTestTls('airut smtp-send bench CA');
  const plain = await startSmtpCapture({ authUsers: { [USER]: PASSWORD } });
  const tls = await startSmtpCapture({ authUsers: { [USER]: PASSWORD }, tls: ca.serverOptions('127.0.0.1') });
  try {
    const repoOf = (port: number, starttls: boolean): RepoServerConfig =>
      testRepoServerConfig('api', {
        email: {
          smtpPort: port,
          smtpSecurity: starttls ? 'starttls' : 'none',
          username: USER,
          login: { kind: 'password', password: PASSWORD },
          tls: { caFile: starttls ? ca.caPath : null, caPem: starttls ? ca.caPem : null, insecureSkipVerify: false },
          from: 'Airut Bot <bot@example.com>',
          fromAddress: 'bot@example.com',
        },
      });
    const mail = await composeMail({
      repoEmail: { from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' },
      to: 'alice@example.org',
      conversationId: 'deadbeef',
      originalSubject: 'Fix the flaky test',
      inReplyTo: '<q@mail.example.org>',
      references: [],
      body: { kind: 'reply', markdown: 'Done.\n\n- fixed the race in `queue.ts`\n- added a test\n\n```ts\nawait queue.drain();\n```\n'.repeat(4) },
    });
    const rows: Array<Row & { first?: number }> = [];
    rows.push(await newConnections('plain, new connection per send (before)', plain, repoOf(plain.port, false), mail.raw, sends));
    rows.push(await pooled('plain, pooled connection (now)', plain, repoOf(plain.port, false), mail.raw, sends));
    rows.push(await newConnections('STARTTLS, new connection per send (before)', tls, repoOf(tls.port, true), mail.raw, sends));
    rows.push(await pooled('STARTTLS, pooled connection (now)', tls, repoOf(tls.port, true), mail.raw, sends));

    const elapsed = Math.round((Date.now() - began) / 1000);
    const table = [
      '| send | median ms | p90 ms | connections opened |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.label} | ${fmt(median(r.samples))} | ${fmt(percentile(r.samples, 90))} | ${r.connections} |`),
    ].join('\n');
    const firsts = rows
      .filter((r) => r.first !== undefined)
      .map((r) => `${r.label.split(',')[0]} ${fmt(r.first!)} ms`)
      .join(', ');
    const body = `## SMTP send: new connection vs the pooled connection

- Command: \`scripts/node --import tsx scripts/bench/smtp-send.ts --sends ${sends}\` (${elapsed} s), ${new Date().toISOString().slice(0, 10)}
- Set-up: the SMTP capture server on 127.0.0.1 (AUTH PLAIN; STARTTLS with a test CA), one ${mail.raw.length}-byte reply composed as the daemon composes it, sent with \`reply/smtp-transport.ts\`'s \`sendRaw\` ${sends} times per row, one at a time. "New connection" creates and closes a transport per send (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT), as the outbox did before issue 23; "pooled" is the outbox's repository transport, measured after one warm-up send that opened its connection (that first send: ${firsts}).
- Machine: ${machineLine()}

${table}

A follow-up reply within 30 s of the previous one (the pool's idle time) pays the pooled figure; a later one pays the new-connection figure once. The task-overhead section's b2 (reply queued → sent) is the pooled figure plus the sender's pickup: the acknowledgement opened the connection seconds before.`;
    console.log(body);
    if (docs) console.log(`\nwrote ${writeDocsSection('smtp-send', body)}`);
  } finally {
    await Promise.allSettled([plain.stop(), tls.stop()]);
    ca.remove();
  }
}

await main();
