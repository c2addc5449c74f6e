/**
 * `npm run demo` — the whole system on this machine, without a mail account or an API key:
 *
 *   a private Dovecot (IMAP) and an SMTP server that keeps what the daemon sends, both on 127.0.0.1;
 *   two demo repositories (local git repos with `.airut/airut.yaml` and a Dockerfile that builds offline);
 *   a scripted stand-in for the Anthropic API behind the real Claude Code CLI (scripts/demo/agent.ts);
 *   the real daemon (`src/main.ts`) with its dashboard, as a child process with a generated config;
 *   three mails: one per repository, then a follow-up in the first thread once its answer is back.
 *
 * It prints the dashboard URL and each mail the daemon sends, and stops everything on Ctrl-C: the daemon
 * (which stops its containers), the mail servers and the mock, then removes the demo directory.
 *
 *   npm run demo                              run until Ctrl-C
 *   npm run demo -- --exit-after-replies      stop by itself once every demo mail is answered (for tests)
 *   npm run demo -- --dir PATH                keep the demo's files in PATH (default .demo/; emptied first)
 *
 * Environment: AIRUT_DEMO_AGENT_DELAY_MS (pause before each scripted answer, default 600),
 * AIRUT_DEMO_TIMEOUT_S (with --exit-after-replies: give up after this long, default 300).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { reapContainers } from '../../src/sandbox/reaper.ts';
import { instanceId } from '../../src/instance-id.ts';
import { startDovecot, type DovecotServer } from '../../test/harness/dovecot.ts';
import { startSmtpCapture, type CapturedMessage, type SmtpCapture } from '../../test/harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../../test/harness/mock-anthropic.ts';
import { buildMail } from '../../test/harness/mail-builder.ts';
import { podmanTestEnv } from '../../test/harness/podman-env.ts';
import { buildTestImageContext } from '../../test/harness/test-image.ts';
import { CLI_CONTAINER_ENV } from '../../test/harness/source-repo.ts';
import { freePort } from '../../test/harness/ports.ts';
import { demoAgent } from './agent.ts';
import { AUTHSERV_ID, BOT_DOMAIN, DEMO_MAILS, DEMO_REPOS, SENDER, SENDER_ADDRESS, type DemoMail, type DemoRepo } from './scenario.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_DASHBOARD_PORT = 5200;
/** Signals closer together than this are one Ctrl-C (the terminal and npm both deliver it). */
const DUPLICATE_SIGNAL_MS = 2_000;

interface Options {
  readonly exitAfterReplies: boolean;
  readonly dir: string;
  readonly agentDelayMs: number;
  readonly timeoutMs: number;
}

const USAGE = `usage: npm run demo -- [--exit-after-replies] [--dir PATH]

  --exit-after-replies  stop once every demo mail has its answer (exit 0), instead of waiting for Ctrl-C
  --dir PATH            directory for the demo's files (default .demo/ in the project; emptied first,
                        removed at the end)
`;

function parseArgs(argv: string[]): Options | null {
  let exitAfterReplies = false;
  let dir = path.join(ROOT, '.demo');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--exit-after-replies') exitAfterReplies = true;
    else if (a === '--dir' && argv[i + 1]) dir = path.resolve(argv[++i]!);
    else if (a === '--help' || a === '-h') return null;
    else throw new Error(`unknown argument ${a}\n\n${USAGE}`);
  }
  const env = (name: string, fallback: number) => {
    const v = Number(process.env[name]);
    return Number.isFinite(v) && v >= 0 ? v : fallback;
  };
  return { exitAfterReplies, dir, agentDelayMs: env('AIRUT_DEMO_AGENT_DELAY_MS', 600), timeoutMs: env('AIRUT_DEMO_TIMEOUT_S', 300) * 1000 };
}

const say = (line = '') => process.stdout.write(`${line}\n`);

// ---- the parts -----------------------------------------------------------------------------------

async function checkMachine(): Promise<void> {
  const missing: string[] = [];
  if (!fs.existsSync(process.env['DOVECOT_BIN'] ?? '/usr/sbin/dovecot')) missing.push('dovecot (dovecot-imapd)');
  try {
    await run('podman', ['--version']);
  } catch {
    missing.push('podman');
  }
  if (!fs.existsSync('/bin/busybox') && !fs.existsSync('/usr/bin/busybox')) missing.push('busybox (busybox-static)');
  if (missing.length) {
    throw new Error(`this machine lacks ${missing.join(', ')}: run \`bash scripts/ci-setup.sh\` first (it installs them)`);
  }
}

async function git(dir: string, ...args: string[]): Promise<void> {
  await run('git', ['-C', dir, ...args], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Demo',
      GIT_AUTHOR_EMAIL: SENDER_ADDRESS,
      GIT_COMMITTER_NAME: 'Demo',
      GIT_COMMITTER_EMAIL: SENDER_ADDRESS,
    },
  });
}

const REPO_YAML = `# The repository's side of the setup (same format as Airut's .airut/airut.yaml).
default_model: sonnet
timeout: 180
# The network sandbox is on (the default): the container reaches only what
# .airut/network-allowlist.yaml allows, through the daemon's proxy.
${CLI_CONTAINER_ENV}`;

/** The stand-in API's name; the daemon's proxy maps it to the mock on 127.0.0.1. */
const DEMO_API_HOST = 'api.demo.test';

const ALLOWLIST_YAML = `# Hosts and URLs the agent may reach (Airut's format). Everything else gets a 403
# that tells the agent to propose a change to this file.
url_prefixes:
  - host: ${DEMO_API_HOST}
    path: /v1/messages*
    methods: [POST]
`;

/** A git repository onboarded as a user would: its files, `.airut/airut.yaml` and `.airut/container/`. */
async function createRepo(dir: string, repo: DemoRepo): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main');
  for (const [rel, content] of Object.entries(repo.files)) {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), content, { mode: rel.endsWith('.sh') ? 0o755 : 0o644 });
  }
  await fsp.mkdir(path.join(dir, '.airut'), { recursive: true });
  await fsp.writeFile(path.join(dir, '.airut', 'airut.yaml'), REPO_YAML);
  await fsp.writeFile(path.join(dir, '.airut', 'network-allowlist.yaml'), ALLOWLIST_YAML);
  // FROM scratch + a rootfs tarball (busybox, bash, glibc): builds in a second without a registry.
  await buildTestImageContext(path.join(dir, '.airut', 'container'));
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', `${repo.id}: ${repo.description}, onboarded for airut`);
  return `file://${dir}`;
}

function passwordVar(repoId: string): string {
  return `DEMO_IMAP_PASSWORD_${repoId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function serverConfig(o: {
  dir: string;
  dashboardPort: number;
  imapPort: number;
  smtpPort: number;
  mockUrl: string;
  repoUrls: Record<string, string>;
}): string {
  const repos = DEMO_REPOS.map(
    (r) => `  ${r.id}:
    git:
      repo_url: ${o.repoUrls[r.id]}
    storage_dir: ${path.join(o.dir, 'storage', r.id)}
    email:
      imap_server: 127.0.0.1
      imap_port: ${o.imapPort}
      imap_security: none           # loopback only
      smtp_server: 127.0.0.1
      smtp_port: ${o.smtpPort}
      smtp_security: none
      username: ${r.id}-bot
      password: !env ${passwordVar(r.id)}
      from: "${r.id} bot <${r.id}-bot@${BOT_DOMAIN}>"
    authorized_senders: [${SENDER_ADDRESS}]
    trusted_authserv_id: ${AUTHSERV_ID}
    imap:
      use_idle: true
    secrets:
      ANTHROPIC_BASE_URL: http://${DEMO_API_HOST}
      ANTHROPIC_API_KEY: demo-key-not-a-real-one
`,
  ).join('');
  return `# Written by \`npm run demo\`: the daemon's configuration for the demo (see config/airut.example.yaml).
database: ${path.join(o.dir, 'airut.db')}
# The sandbox proxy connects to the stand-in API on 127.0.0.1 for its demo name.
network:
  upstream_overrides:
    ${DEMO_API_HOST}: ${new URL(o.mockUrl).host}
execution:
  max_concurrent: 2
  shutdown_timeout: 3
dashboard:
  enabled: true
  host: 127.0.0.1
  port: ${o.dashboardPort}
  base_url: http://127.0.0.1:${o.dashboardPort}
repos:
${repos}`;
}

async function pickDashboardPort(): Promise<number> {
  const net = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(DEFAULT_DASHBOARD_PORT, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  return free ? DEFAULT_DASHBOARD_PORT : freePort();
}

interface LogEntry {
  level?: number;
  msg?: string;
  url?: string;
  err?: string;
  repo?: string;
}

interface DaemonChild {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  /** Resolves when the daemon logged that it runs (with the dashboard URL), rejects if it exits first. */
  readonly ready: Promise<string>;
  readonly errors: string[];
}

/**
 * The daemon in its own process group: a Ctrl-C in the terminal then reaches only this script, which
 * stops the daemon with SIGTERM (as a process manager would) so it can stop its containers first.
 */
function startDaemon(configPath: string, logPath: string, env: NodeJS.ProcessEnv): DaemonChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(logPath);
  const errors: string[] = [];
  let dashboardUrl = '';
  let onReady: (url: string) => void = () => undefined;
  let onFail: (err: Error) => void = () => undefined;
  const ready = new Promise<string>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      log.write(chunk);
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let entry: LogEntry;
        try {
          entry = JSON.parse(line) as LogEntry;
        } catch {
          if (line.trim()) errors.push(line);
          continue;
        }
        if (!entry || typeof entry !== 'object') continue;
        if (entry.msg === 'dashboard listening' && entry.url) dashboardUrl = entry.url;
        if (entry.msg === 'airut-ts is running') onReady(dashboardUrl);
        if ((entry.level ?? 0) >= 50) {
          const text = `${entry.repo ? `[${entry.repo}] ` : ''}${entry.msg ?? ''}${entry.err ? `: ${entry.err}` : ''}`;
          errors.push(text);
          say(`  ! daemon: ${text}`);
        }
      }
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log.end();
      onFail(new Error(`the daemon exited during start-up (${code ?? signal}); see ${logPath}:\n${errors.slice(-10).join('\n')}`));
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return { child, exited, ready, errors };
}

// ---- output ----------------------------------------------------------------------------------------

function firstLines(text: string | undefined, count: number): string[] {
  return (text ?? '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(0, count)
    .map((l) => (l.length > 110 ? `${l.slice(0, 109)}…` : l));
}

function describeMail(m: CapturedMessage): string[] {
  const repo = (m.from ?? '').split('@')[0]!.replace(/-bot$/, '');
  const kind = m.header('x-airut-kind') ?? 'mail';
  const lines = [`← ${repo}: ${kind === 'ack' ? 'acknowledgement' : kind} to ${m.to.join(', ')}`, `    Subject: ${m.subject ?? ''}`];
  if (kind !== 'ack') {
    for (const l of firstLines(m.text, 10)) lines.push(`    | ${l}`);
    for (const a of m.attachments) lines.push(`    📎 ${a.filename ?? 'attachment'} (${a.content.length} bytes)`);
  }
  return lines;
}

// ---- the demo --------------------------------------------------------------------------------------

class Demo {
  private dovecot: DovecotServer | null = null;
  private smtp: SmtpCapture | null = null;
  private mock: MockAnthropic | null = null;
  private daemon: DaemonChild | null = null;
  private stopping: Promise<never> | null = null;
  private firstSignalAt = 0;
  /** Message-ID of each demo mail sent, by key. */
  private readonly sent = new Map<string, string>();
  private readonly answered = new Map<string, CapturedMessage>();
  private allAnswered: () => void = () => undefined;
  private readonly runtime: ContainerRuntime;
  private readonly podmanEnv: Record<string, string>;

  constructor(private readonly o: Options) {
    this.podmanEnv = podmanTestEnv();
    this.runtime = new ContainerRuntime({ env: this.podmanEnv });
  }

  async start(): Promise<void> {
    await checkMachine();
    say('airut-ts demo: everything runs on this machine, on 127.0.0.1.');
    await fsp.rm(this.o.dir, { recursive: true, force: true });
    await fsp.mkdir(this.o.dir, { recursive: true });

    say(`  creating demo repositories in ${path.join(this.o.dir, 'repos')}`);
    const repoUrls: Record<string, string> = {};
    for (const r of DEMO_REPOS) repoUrls[r.id] = await createRepo(path.join(this.o.dir, 'repos', r.id), r);

    const users = DEMO_REPOS.map((r) => ({ user: `${r.id}-bot`, password: randomBytes(9).toString('base64url') }));
    this.mock = await startMockAnthropic(demoAgent(this.o.agentDelayMs));
    this.smtp = await startSmtpCapture();
    this.dovecot = await startDovecot({ users, detached: true });
    say(`  Dovecot (IMAP) on 127.0.0.1:${this.dovecot.port}, SMTP on 127.0.0.1:${this.smtp.port}, stand-in Anthropic API on ${this.mock.url}`);

    const dashboardPort = await pickDashboardPort();
    const configPath = path.join(this.o.dir, 'airut.yaml');
    await fsp.writeFile(
      configPath,
      serverConfig({ dir: this.o.dir, dashboardPort, imapPort: this.dovecot.port, smtpPort: this.smtp.port, mockUrl: this.mock.url, repoUrls }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.podmanEnv, AIRUT_LOG_LEVEL: process.env['AIRUT_LOG_LEVEL'] ?? 'info' };
    for (const u of users) env[passwordVar(u.user.replace(/-bot$/, ''))] = u.password;
    const logPath = path.join(this.o.dir, 'daemon.log');
    say('  starting the daemon (npm start with the demo config)');
    this.daemon = startDaemon(configPath, logPath, env);
    const url = await this.daemon.ready;

    say();
    say(`Dashboard:  ${url || `http://127.0.0.1:${dashboardPort}`}`);
    say(`Config:     ${configPath}`);
    say(`Daemon log: ${logPath}`);
    say();

    this.watchMail();
    for (const mail of DEMO_MAILS) if (!mail.followUpOf) await this.send(mail);
  }

  private watchMail(): void {
    let seen = 0;
    const check = (): void => {
      const messages = this.smtp!.messages;
      while (seen < messages.length) this.onMail(messages[seen++]!);
    };
    setInterval(check, 100).unref();
  }

  private onMail(m: CapturedMessage): void {
    say(describeMail(m).join('\n'));
    say();
    const mail = DEMO_MAILS.find((d) => this.sent.get(d.key) === m.inReplyTo);
    if (!mail || m.header('x-airut-kind') === 'ack' || this.answered.has(mail.key)) return;
    this.answered.set(mail.key, m);
    for (const next of DEMO_MAILS.filter((d) => d.followUpOf === mail.key)) {
      void this.send(next, m).catch((err: Error) => this.fail(err));
    }
    if (DEMO_MAILS.every((d) => this.answered.has(d.key))) {
      say(`All ${DEMO_MAILS.length} demo mails are answered. Look around on the dashboard${this.o.exitAfterReplies ? '' : ', then press Ctrl-C to stop'}.`);
      this.allAnswered();
    }
  }

  private async send(mail: DemoMail, replyTo?: CapturedMessage): Promise<void> {
    const messageId = `<demo.${mail.key}.${randomBytes(6).toString('hex')}@example.com>`;
    const original = mail.followUpOf ? this.sent.get(mail.followUpOf) : undefined;
    const raw = buildMail({
      from: SENDER,
      to: `${mail.repoId}-bot@${BOT_DOMAIN}`,
      subject: replyTo?.subject ? `Re: ${replyTo.subject.replace(/^Re:\s*/i, '')}` : mail.subject,
      text: mail.text,
      messageId,
      // What the repository's own mail server would add on top after checking SPF/DKIM/DMARC; the
      // daemon trusts only this topmost header, and only from its trusted_authserv_id.
      authResults: [`${AUTHSERV_ID}; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com`],
      ...(replyTo?.messageId ? { inReplyTo: replyTo.messageId, references: [...(original ? [original] : []), replyTo.messageId] } : {}),
    });
    this.sent.set(mail.key, messageId);
    await this.dovecot!.append(`${mail.repoId}-bot`, raw);
    say(`→ ${mail.repoId}: mail from ${SENDER_ADDRESS}${replyTo ? ' (a reply in the same thread)' : ''}`);
    say(`    Subject: ${replyTo?.subject ? `Re: ${replyTo.subject.replace(/^Re:\s*/i, '')}` : mail.subject}`);
    for (const l of firstLines(mail.text, 4)) say(`    | ${l}`);
    say();
  }

  /** Resolves once every demo mail has its answer, or rejects after the timeout. */
  waitForAllAnswers(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const answered = [...this.answered.keys()].join(', ') || 'none';
        reject(new Error(`not every demo mail was answered within ${this.o.timeoutMs / 1000} s (answered: ${answered})`));
      }, this.o.timeoutMs);
      timer.unref();
      this.allAnswered = () => {
        clearTimeout(timer);
        resolve();
      };
      if (DEMO_MAILS.every((d) => this.answered.has(d.key))) this.allAnswered();
    });
  }

  onSignal(signal: NodeJS.Signals): void {
    const now = Date.now();
    if (this.stopping) {
      if (now - this.firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      say(`${signal} again: exiting now without cleaning up`);
      if (this.daemon?.child.pid) process.kill(-this.daemon.child.pid, 'SIGKILL');
      process.exit(1);
    }
    this.firstSignalAt = now;
    say();
    say(`${signal}: stopping the demo…`);
    void this.stop(0);
  }

  fail(err: unknown): void {
    say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    void this.stop(1);
  }

  /** Stops everything in order; each step runs even if an earlier one failed. Idempotent. */
  stop(code: number): Promise<never> {
    this.stopping ??= this.doStop(code);
    return this.stopping;
  }

  private async doStop(code: number): Promise<never> {
    let exitCode = code;
    const step = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        exitCode = exitCode || 1;
        say(`  ! ${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    await step('stopping the daemon', async () => {
      const d = this.daemon;
      if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
      say('  stopping the daemon (it stops its running containers)');
      d.child.kill('SIGTERM');
      const timer = setTimeout(() => d.child.pid && process.kill(-d.child.pid, 'SIGKILL'), 60_000);
      const result = await d.exited;
      clearTimeout(timer);
      if (result !== 0) throw new Error(`the daemon exited with ${result}`);
    });
    await step('removing containers', async () => {
      // The daemon stops its containers on SIGTERM; this only catches what a crash left behind.
      const mine = instanceId(path.join(this.o.dir, 'airut.db'));
      const { reaped, failed } = await reapContainers(this.runtime, { graceSeconds: 1, filter: (c) => c.labels.instance === mine });
      if (reaped.length) say(`  removed ${reaped.length} container(s) the daemon left`);
      if (failed.length) throw new Error(failed.map((f) => `${f.container.name}: ${f.error}`).join('; '));
    });
    await step('stopping the stand-in API', async () => this.mock?.close());
    await step('stopping the SMTP server', async () => this.smtp?.stop());
    await step('stopping Dovecot', async () => this.dovecot?.stop());
    await step('removing the demo directory', () => fsp.rm(this.o.dir, { recursive: true, force: true }));
    say(exitCode === 0 ? 'Demo stopped: daemon, Dovecot, SMTP and the stand-in API are down; nothing is left running.' : 'Demo stopped with errors.');
    process.exit(exitCode);
  }
}

async function main(): Promise<void> {
  let options: Options | null;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  if (!options) {
    process.stdout.write(USAGE);
    return;
  }
  const demo = new Demo(options);
  process.on('SIGINT', (s) => demo.onSignal(s));
  process.on('SIGTERM', (s) => demo.onSignal(s));
  try {
    const answered = options.exitAfterReplies ? demo.waitForAllAnswers() : null;
    answered?.catch(() => undefined); // awaited below; this only keeps an early rejection from being "unhandled"
    await demo.start();
    if (answered) {
      await answered;
      await demo.stop(0);
    } else {
      say('The daemon is running. Press Ctrl-C to stop the demo.');
      say();
    }
  } catch (err) {
    demo.fail(err);
  }
}

void main();
