/** Shared fixtures of the dashboard tests: a temp database, a config, rows, a feed. */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import type { DashboardConfig, RepoServerConfig, ServerConfig } from '../../src/config/types.ts';
import { DEFAULT_TASK_OUTPUT_LIMITS } from '../../src/config/defaults.ts';
import type { Logger } from '../../src/log/logger.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import type { TaskStatus } from '../../src/store/task-queries.ts';
import type { DashboardActions, DashboardOptions } from '../../src/dashboard/server.ts';
import { recordMail } from '../../src/supervisor/record-mail.ts';
import { LiveFeed, type FeedEvents, type FeedKind } from '../../src/feed/live-feed.ts';
import type { NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';

export function tempDb(): { db: Db; dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-dash-'));
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  return {
    db,
    dir,
    cleanup: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function repo(repoId: string): RepoServerConfig {
  // Dashboard tests check that a password never appears on a page; the values look real for that.
  return testRepoServerConfig(repoId, {
    gitRepoUrl: `https://example.com/${repoId}.git`,
    storageDir: `/tmp/${repoId}`,
    email: {
      imapServer: 'imap.example.com',
      imapPort: 993,
      imapSecurity: 'tls',
      smtpServer: 'smtp.example.com',
      smtpPort: 465,
      smtpSecurity: 'tls',
      username: `${repoId}@example.com`,
      login: { kind: 'password', password: 'pw-not-shown-anywhere' },
      from: `Airut ${repoId} <${repoId}@example.com>`,
      fromAddress: `${repoId}@example.com`,
    },
    trustedAuthservId: 'mx.example.com',
    imap: { pollIntervalSeconds: 60, useIdle: true, idleRefreshIntervalSeconds: 600, idleReconnectIntervalSeconds: 1740 },
  });
}

export function makeConfig(repoIds: readonly string[], dashboard: Partial<DashboardConfig> = {}): ServerConfig {
  return {
    global: {
      backend: 'container', kubernetes: null,
      maxConcurrent: 2,
      shutdownTimeoutSeconds: 10,
      conversationMaxAgeDays: 30,
      imageBuildTimeoutSeconds: 900,
      resilientStart: false, imageMaxAgeHours: 24,
      dashboard: { enabled: true, host: '127.0.0.1', port: 0, baseUrl: null, authToken: null, sessionIdleSeconds: 43_200, sessionLifetimeSeconds: 604_800, hosts: null, ...dashboard },
      containerCommand: 'podman',
      containerNetwork: 'default',
      network: { upstreamOverrides: {} },
      databasePath: ':memory:',
      claude: { binaryPath: '/usr/bin/true', allowedModels: [] },
      rejectedMail: { maxStoredBytesPerDay: 52_428_800, perSourcePerHour: 20 },
      taskOutput: DEFAULT_TASK_OUTPUT_LIMITS,
    },
    repos: Object.fromEntries(repoIds.map((id) => [id, repo(id)])),
    sourcePath: '/tmp/airut.yaml',
  };
}

export function silentLog(): Logger {
  return pino({ level: 'silent' });
}

let seq = 0;

export interface TaskInit {
  repoId?: string;
  status?: TaskStatus;
  sender?: string | null;
  subject?: string;
  reason?: string | null;
  detail?: string | null;
  conversationId?: string | null;
  model?: string | null;
  sessionId?: string | null;
  costUsd?: number | null;
  error?: string | null;
  createdAt?: number;
  startedAt?: number | null;
  finishedAt?: number | null;
}

/** Inserts a message and a task row directly, with every column under the test's control. */
export function insertTask(db: Db, t: TaskInit = {}): number {
  seq++;
  const repoId = t.repoId ?? 'alpha';
  const now = t.createdAt ?? Date.now();
  const messageRow = db
    .prepare(`INSERT INTO messages (repo_id, raw_sha256, message_id, imap_uid, size, raw, received_at) VALUES (?, ?, ?, NULL, 1, x'00', ?)`)
    .run(repoId, `sha-${seq}-${Math.random()}`, `<m${seq}@example.com>`, now).lastInsertRowid;
  return Number(
    db
      .prepare(
        `INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, message_id, status, reason, detail,
                            model, session_id, cost_usd, error, created_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        repoId,
        messageRow,
        t.conversationId ?? null,
        t.sender === undefined ? 'alice@example.com' : t.sender,
        t.subject ?? `task ${seq}`,
        `<m${seq}@example.com>`,
        t.status ?? 'queued',
        t.reason ?? null,
        t.detail ?? null,
        t.model ?? null,
        t.sessionId ?? null,
        t.costUsd ?? null,
        t.error ?? null,
        now,
        t.startedAt ?? null,
        t.finishedAt ?? null,
      ).lastInsertRowid,
  );
}

/** The daemon's feed, with a test's way to say that something changed. */
export class TestFeed extends LiveFeed {
  emit<K extends FeedKind>(kind: K, change: FeedEvents[K]): void {
    this.publish(kind, change);
  }
}

export interface Harness {
  readonly options: DashboardOptions;
  readonly feed: TestFeed;
  readonly stopCalls: number[];
}

export function makeOptions(
  db: Db,
  config: ServerConfig,
  overrides: { actions?: DashboardActions; healthProblems?: DashboardOptions['healthProblems']; failedRepos?: DashboardOptions['failedRepos'] } = {},
): Harness {
  const feed = new TestFeed();
  const stopCalls: number[] = [];
  const actions: DashboardActions = overrides.actions ?? {
    async stopTask(taskId) {
      stopCalls.push(taskId);
      return { ok: true, status: 'cancelled', message: 'Stopped.' };
    },
    // Recorded as the daemon records it (rate limits and caps included), without a dispatcher to kick.
    async submitTask(mail) {
      const outcome = await recordMail(db, config.repos[mail.repoId]!, mail);
      if (outcome.kind === 'dropped') throw new Error('dropped');
      const v = outcome.verdict;
      return { taskId: outcome.taskId, refusal: v.action === 'reject' ? v.detail : null };
    },
  };
  const options: DashboardOptions = {
    config,
    db,
    actions,
    feed,
    log: silentLog(),
    ...(overrides.healthProblems ? { healthProblems: overrides.healthProblems } : {}),
    ...(overrides.failedRepos ? { failedRepos: overrides.failedRepos } : {}),
  };
  return { options, feed, stopCalls };
}

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads server-sent events from a real socket until `until` is satisfied. */
export function readSse(url: string, headers: Record<string, string>, until: (events: SseEvent[]) => boolean, timeoutMs = 5000) {
  return new Promise<{ events: SseEvent[]; close: () => void }>((resolve, reject) => {
    const events: SseEvent[] = [];
    let buf = '';
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('data: ')) (ev.data += (hasData ? '\n' : '') + line.slice(6), (hasData = true));
          }
          if (hasData) events.push(ev);
        }
        if (until(events)) {
          clearTimeout(timer);
          resolve({ events, close: () => req.destroy() });
        }
      });
    });
    req.on('error', () => undefined);
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(events.map((e) => e.event))}`));
    }, timeoutMs);
  });
}

/** One proxy log entry as the sandbox proxy would report it; fields overridable. */
export function netEntry(over: Partial<NetworkLogEntry> = {}): NetworkLogEntry {
  return {
    at: Date.now(),
    method: 'GET',
    host: 'registry.npmjs.org',
    port: 443,
    path: '/left-pad',
    status: 200,
    allowed: true,
    rule: 'domains[0]: registry.npmjs.org',
    masked: 0,
    durationMs: 12,
    ...over,
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request over a real socket with full control of the headers (fetch forbids setting Host), of
 * how the body is framed (`chunked` sends it without Content-Length, as a stream) and of the
 * client's address (`localAddress`: any 127.x.y.z is this machine, as another client).
 */
export function rawRequest(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean; localAddress?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const options = { method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false, ...(o.localAddress ? { localAddress: o.localAddress } : {}) };
    const req = http.request(url, options, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer (413) and close before the whole body is written: that is not a failure here.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (o.body !== undefined) {
      if (!o.chunked) req.setHeader('content-length', Buffer.byteLength(o.body));
      const body = Buffer.from(o.body);
      // Several writes, so that a chunked body really arrives in pieces.
      for (let i = 0; i < body.length; i += 16_384) req.write(body.subarray(i, i + 16_384));
    }
    req.end();
  });
}
