/**
 * The database the dashboard benchmarks run against: 100,000 tasks across 10 repositories (1,000 of
 * them with 20 events each), and a configuration naming those repositories. Shared by dashboard.ts
 * and metrics.ts.
 */
import { DEFAULT_BUDGET, DEFAULT_CONTAINER_LIMITS, DEFAULT_MAIL_LIMITS, DEFAULT_RETRIES, DEFAULT_TASK_OUTPUT_LIMITS } from '../../src/config/defaults.ts';
import type { ServerConfig } from '../../src/config/types.ts';
import { openDatabase } from '../../src/store/database.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TASKS = 100_000;
export const REPOS = 10;

export const repoIds = Array.from({ length: REPOS }, (_, i) => `repo-${String(i).padStart(2, '0')}`);

export function config(dbPath: string): ServerConfig {
  const repos = Object.fromEntries(
    repoIds.map((id) => [
      id,
      {
        repoId: id,
        gitRepoUrl: `https://example.com/${id}.git`,
        storageDir: `/tmp/${id}`,
        email: {
          imapServer: 'localhost', imapPort: 993, imapSecurity: 'tls', smtpServer: 'localhost', smtpPort: 465, smtpSecurity: 'tls',
          username: id, login: { kind: 'password', password: 'x' }, tls: { caFile: null, caPem: null, insecureSkipVerify: false }, from: `${id}@example.com`, fromAddress: `${id}@example.com`,
        },
        authorizedSenders: [], trustedAuthservId: 'mx', microsoftInternalFallback: false, imap: { pollIntervalSeconds: 60, useIdle: true, idleRefreshIntervalSeconds: 600, idleReconnectIntervalSeconds: 1740 },
        limits: DEFAULT_MAIL_LIMITS, model: null, effort: null, budget: DEFAULT_BUDGET, retries: DEFAULT_RETRIES, schedules: {},
        network: { sandboxEnabled: true }, secrets: {}, maskedSecrets: {}, signingCredentials: {}, companions: {}, githubAppCredentials: {}, resourceLimits: DEFAULT_CONTAINER_LIMITS, capabilities: [], containerPath: '.airut/container', kubernetes: { resources: {}, runAsUser: null }, webhook: null,
      },
    ]),
  );
  return {
    global: {
      backend: 'container', kubernetes: null,
      maxConcurrent: 4, shutdownTimeoutSeconds: 10, conversationMaxAgeDays: 30, imageBuildTimeoutSeconds: 900, resilientStart: false, imageMaxAgeHours: 24,
      dashboard: { enabled: true, host: '127.0.0.1', port: 0, baseUrl: null, authToken: null, sessionIdleSeconds: 43_200, sessionLifetimeSeconds: 604_800, hosts: null },
      containerCommand: 'podman', containerNetwork: 'default', network: { upstreamOverrides: {} }, databasePath: dbPath,
      claude: { binaryPath: '/bin/true', allowedModels: [] },
      rejectedMail: { maxStoredBytesPerDay: 52_428_800, perSourcePerHour: 20 },
      taskOutput: DEFAULT_TASK_OUTPUT_LIMITS,
    },
    repos,
    sourcePath: 'bench',
  } as ServerConfig;
}

export function fill(dbPath: string): void {
  const db = openDatabase(dbPath, { migrate: true });
  db.pragma('synchronous = OFF');
  const statuses = ['completed', 'completed', 'completed', 'failed', 'timeout', 'cancelled', 'rejected', 'completed', 'interrupted', 'completed'];
  const insMsg = db.prepare(`INSERT INTO messages (repo_id, raw_sha256, message_id, imap_uid, size, raw, received_at) VALUES (?, ?, ?, ?, 1, x'00', ?)`);
  const insTask = db.prepare(
    `INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, message_id, status, reason, detail, model, session_id,
                        cost_usd, turns, error, created_at, started_at, finished_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insEvent = db.prepare(`INSERT INTO task_events (task_id, at, kind, data) VALUES (?, ?, ?, ?)`);
  const start = Date.now() - TASKS * 60_000;
  db.transaction(() => {
    for (let i = 0; i < TASKS; i++) {
      const repo = repoIds[i % REPOS]!;
      const created = start + i * 60_000;
      const status = i >= TASKS - 5 ? (i % 2 ? 'running' : 'queued') : statuses[i % statuses.length]!;
      const msg = insMsg.run(repo, `sha-${i}`, `<m${i}@example.com>`, i, created).lastInsertRowid;
      const rejected = status === 'rejected';
      const startedAt = rejected || status === 'queued' ? null : created + 5_000;
      const finishedAt = rejected ? created : startedAt !== null && status !== 'running' ? startedAt + ((i * 7919) % 1_800_000) : null;
      const taskId = insTask.run(
        repo, msg, rejected ? null : (i % 0xffffffff).toString(16).padStart(8, '0'), `user${i % 97}@example.com`,
        `Task number ${i}: please refactor module ${i % 13} and add tests`, `<m${i}@example.com>`, status,
        rejected ? 'unauthorized' : null, rejected ? 'sender not authorized' : null, rejected ? null : 'claude-sonnet-4-5', rejected ? null : `s${i}`,
        rejected ? null : (i % 100) / 37, rejected ? null : 5 + (i % 20), status === 'failed' ? 'Claude Code exited with code 1' : null,
        created, startedAt, finishedAt,
      ).lastInsertRowid;
      if (i % 100 === 0) {
        for (let k = 0; k < 20; k++) {
          insEvent.run(taskId, created + k * 1000, k % 2 ? 'assistant_text' : 'tool_use',
            JSON.stringify(k % 2 ? { type: 'assistant_text', text: `step ${k} of the work` } : { type: 'tool_use', id: `t${k}`, name: 'Bash', input: { command: `npm test -- ${k}` } }));
        }
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/**
 * Starts `dashboard.ts --serve dbPath` in a child process (the dashboard apart from the bench's
 * own load) and resolves with its URL once it listens.
 */
export async function serveDashboard(dbPath: string): Promise<{ child: ChildProcess; url: string }> {
  const script = fileURLToPath(new URL('./dashboard.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--serve', dbPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /URL (\S+)/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`dashboard exited with ${code}`)));
  });
  return { child, url };
}
