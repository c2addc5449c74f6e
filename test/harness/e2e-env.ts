/**
 * The parts an end-to-end test of task runs needs, started once per test file: a real Dovecot with
 * one inbox per repo (`<id>-bot` / `pw-<id>`), a real SMTP capture server, and the mock Anthropic
 * API driving the real Claude Code CLI with the scripted agent. Plus the helpers every such test
 * uses: a source repo per daemon repo, a daemon with a given concurrency, sending a mail, waiting
 * for its final reply, reading its task row, finding its container.
 */
import fs from 'node:fs';
import { startDovecot, type DovecotServer } from './dovecot.ts';
import { startSmtpCapture, type CapturedMessage, type SmtpCapture } from './smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from './mock-anthropic.ts';
import { buildMail, dmarcPass, type MailAttachment } from './mail-builder.ts';
import { runtimeCases, type RuntimeCase } from './runtimes.ts';
import { createSourceRepo, CLI_CONTAINER_ENV, type SourceRepo } from './source-repo.ts';
import { scriptedAgent } from './scripted-agent.ts';
import { instanceId } from '../../src/instance-id.ts';
import {
  openTestDb,
  startDaemon,
  waitUntil,
  writeTestConfig,
  type DaemonProcess,
  type TestConfig,
  type TestRepo,
} from './daemon-process.ts';

export const AUTHSERV = 'mx.repos.test';
export const ALICE = 'alice@example.com';

/** `.airut/airut.yaml` of a test repo: the sandbox off, the CLI pointed at the mock API. */
export function repoYaml(opts: { timeout?: number; extra?: string } = {}): string {
  return `default_model: sonnet
timeout: ${opts.timeout ?? 60}
network:
  sandbox_enabled: false
${CLI_CONTAINER_ENV}  MY_TOKEN: !secret? SECRET_TOKEN
${opts.extra ?? ''}`;
}

export function isAck(m: CapturedMessage): boolean {
  return m.header('x-airut-kind') === 'ack';
}

export interface TaskRowView {
  id: number;
  repo_id: string;
  status: string;
  conversation_id: string | null;
  session_id: string | null;
  cost_usd: number | null;
  turns: number | null;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  message_id: string | null;
}

/** The task row of the mail with this Message-ID, or undefined while there is none (or no schema yet). */
export function taskFor(cfg: TestConfig, messageId: string): TaskRowView | undefined {
  return readDb(cfg, (db) => db.prepare('SELECT * FROM tasks WHERE message_id = ?').get(messageId) as TaskRowView | undefined);
}

/** Runs a read on the daemon's database; undefined while the file or its schema does not exist yet. */
export function readDb<T>(cfg: TestConfig, read: (db: ReturnType<typeof openTestDb>) => T): T | undefined {
  if (!fs.existsSync(cfg.dbPath)) return undefined;
  const db = openTestDb(cfg);
  try {
    return read(db);
  } catch {
    return undefined; // the daemon is still creating the schema
  } finally {
    db.close();
  }
}

export interface SendExtra {
  inReplyTo?: string;
  references?: string[];
  attachments?: MailAttachment[];
  from?: string;
}

export interface E2eEnv {
  readonly dovecot: DovecotServer;
  readonly smtp: SmtpCapture;
  readonly mock: MockAnthropic;
  /** The container runtime the daemon uses (`container_command`); podman unless the test chose one. */
  readonly runtime: RuntimeCase;
  /** The runtime CLI's extra environment (passed to every daemon started here). */
  readonly podmanEnv: Record<string, string>;
  /** Secrets every repo passes to the CLI (mock API address and key), plus `extra`. */
  cliSecrets(extra?: Record<string, string>): Record<string, string>;
  /** A daemon repo `id` backed by a new source repo holding `airutYaml` (and `extraFiles`). */
  repo(
    id: string,
    airutYaml: string,
    opts?: {
      secrets?: Record<string, string>;
      smtpPort?: number;
      extraFiles?: Record<string, string>;
      /** `.airut/container/` instead of the test image's context (benches that never run the image). */
      containerContext?: Record<string, string>;
      extra?: Record<string, unknown>;
    },
  ): Promise<TestRepo & { source: SourceRepo }>;
  /**
   * Writes a config for `repos` (container network host, shutdown_timeout 5 s) and starts the daemon
   * (log level debug unless `extraEnv` sets AIRUT_LOG_LEVEL).
   */
  daemonWith(
    repos: TestRepo[],
    maxConcurrent: number,
    extraGlobal?: Record<string, unknown>,
    extraEnv?: Record<string, string>,
  ): { cfg: TestConfig; daemon: DaemonProcess };
  /** Starts the daemon again on an existing config (after a stop or a kill). */
  restart(cfg: TestConfig): DaemonProcess;
  /** Delivers a mail from Alice (DMARC pass) to repo `repoId`'s inbox; returns its Message-ID. */
  send(repoId: string, subject: string, text: string, extra?: SendExtra): Promise<string>;
  /** Every captured mail answering `messageId`. */
  repliesTo(messageId: string): CapturedMessage[];
  /** Final replies (not acknowledgements) answering `messageId`. */
  finalRepliesTo(messageId: string): CapturedMessage[];
  finalReplyTo(messageId: string, timeoutMs?: number): Promise<CapturedMessage>;
  /** Names of this daemon's containers of a task (running or not), empty when none. */
  containersOf(cfg: TestConfig, taskId: number): string;
  /** Waits until the mail's task runs in a container; returns the task id. */
  runningTaskWithContainer(cfg: TestConfig, messageId: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startE2eEnv(opts: { repoIds: string[]; runtime?: RuntimeCase }): Promise<E2eEnv> {
  const runtime = opts.runtime ?? runtimeCases().find((c) => c.command === 'podman')!;
  const podmanEnv = runtime.env;
  const [dovecot, smtp, mock] = await Promise.all([
    startDovecot({ users: opts.repoIds.map((u) => ({ user: `${u}-bot`, password: `pw-${u}` })) }),
    startSmtpCapture(),
    startMockAnthropic(scriptedAgent),
  ]);
  const cliSecrets = (extra: Record<string, string> = {}) => ({ ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'test-key', ...extra });
  const finalRepliesTo = (messageId: string) => smtp.messages.filter((m) => m.inReplyTo === messageId && !isAck(m));
  // Filtered by the daemon's instance label too: other test runs on this host number their tasks from 1 as well.
  const containersOf = (cfg: TestConfig, taskId: number) =>
    runtime.cli(['ps', '-a', '--filter', `label=airut.task=${taskId}`, '--filter', `label=airut.instance=${instanceId(cfg.dbPath)}`, '--format', '{{.Names}}']);

  return {
    dovecot,
    smtp,
    mock,
    runtime,
    podmanEnv,
    cliSecrets,
    async repo(id, airutYaml, o = {}) {
      const source = await createSourceRepo(airutYaml, o.extraFiles ?? {}, o.containerContext);
      return {
        id,
        imapPort: dovecot.port,
        smtpPort: o.smtpPort ?? smtp.port,
        user: `${id}-bot`,
        password: `pw-${id}`,
        repoUrl: source.url,
        secrets: o.secrets ?? cliSecrets(),
        ...(o.extra ? { extra: o.extra } : {}),
        source,
      };
    },
    daemonWith(repos, maxConcurrent, extraGlobal = {}, extraEnv = {}) {
      const cfg = writeTestConfig({
        repos,
        global: {
          container_command: runtime.command,
          container_network: 'host',
          execution: { max_concurrent: maxConcurrent, shutdown_timeout: 5 },
          ...extraGlobal,
        },
      });
      return { cfg, daemon: startDaemon(cfg, [], { ...podmanEnv, ...extraEnv }) };
    },
    restart(cfg) {
      return startDaemon(cfg, [], podmanEnv);
    },
    async send(repoId, subject, text, extra = {}) {
      const messageId = `<${Date.now().toString(36)}.${Math.random().toString(16).slice(2)}@example.com>`;
      const { from = ALICE, ...rest } = extra;
      await dovecot.append(
        `${repoId}-bot`,
        buildMail({ from, to: `${repoId}-bot@repos.test`, subject, text, messageId, authResults: [dmarcPass(AUTHSERV, from.split('@')[1]!)], ...rest }),
      );
      return messageId;
    },
    repliesTo: (messageId) => smtp.messages.filter((m) => m.inReplyTo === messageId),
    finalRepliesTo,
    finalReplyTo: (messageId, timeoutMs = 90_000) =>
      smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-conversation') !== undefined && !isAck(m), timeoutMs),
    containersOf,
    runningTaskWithContainer(cfg, messageId) {
      return waitUntil(() => {
        const t = taskFor(cfg, messageId);
        return t?.status === 'running' && containersOf(cfg, t.id) !== '' ? t.id : undefined;
      }, 60_000, 'the task container to run');
    },
    async stop() {
      await Promise.allSettled([dovecot.stop(), smtp.stop(), mock.close()]);
    },
  };
}
