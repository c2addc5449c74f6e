/**
 * Runs the real daemon (`node --import tsx src/main.ts`) as a child process with a generated
 * config, the way an operator's process manager would, and reads its JSON log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import Database from 'better-sqlite3';
import { exitTempDir } from './temp-dirs.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestRepo {
  id: string;
  imapPort: number;
  smtpPort?: number;
  user: string;
  password: string;
  /** Default `${user}@repos.test`. */
  fromAddress?: string;
  authorizedSenders?: string[];
  trustedAuthservId?: string;
  useIdle?: boolean;
  pollInterval?: number;
  repoUrl?: string;
  secrets?: Record<string, string>;
  extra?: Record<string, unknown>;
}

export interface TestConfigOptions {
  repos: TestRepo[];
  /** Directory for the database and storage; default a new temp dir. */
  dir?: string;
  global?: Record<string, unknown>;
}

export interface TestConfig {
  readonly dir: string;
  readonly configPath: string;
  readonly dbPath: string;
  /** Environment variables the config's `!env` tags read. */
  readonly env: Record<string, string>;
}

/** Writes a config file whose passwords come from `!env` variables, as an operator's would. */
export function writeTestConfig(o: TestConfigOptions): TestConfig {
  const dir = o.dir ?? exitTempDir('airut-daemon-');
  const env: Record<string, string> = {};
  const repos: Record<string, unknown> = {};
  for (const r of o.repos) {
    const passVar = `TEST_IMAP_PASSWORD_${r.id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    env[passVar] = r.password;
    const from = r.fromAddress ?? `${r.user}@repos.test`;
    repos[r.id] = {
      git: { repo_url: r.repoUrl ?? `file:///nonexistent/${r.id}.git` },
      storage_dir: path.join(dir, 'storage', r.id),
      email: {
        imap_server: '127.0.0.1',
        imap_port: r.imapPort,
        imap_security: 'none',
        smtp_server: '127.0.0.1',
        smtp_port: r.smtpPort ?? 2525,
        smtp_security: 'none',
        username: r.user,
        password: `__ENV__${passVar}`,
        from: `Bot ${r.id} <${from}>`,
      },
      authorized_senders: r.authorizedSenders ?? ['alice@example.com'],
      trusted_authserv_id: r.trustedAuthservId ?? 'mx.repos.test',
      imap: { use_idle: r.useIdle ?? true, poll_interval: r.pollInterval ?? 30 },
      ...(r.secrets ? { secrets: r.secrets } : {}),
      ...(r.extra ?? {}),
    };
  }
  const doc = {
    database: path.join(dir, 'airut.db'),
    dashboard: { enabled: false },
    ...(o.global ?? {}),
    repos,
  };
  // `!env` is a YAML tag; stringify writes a placeholder that we turn into the tag.
  const text = stringify(doc).replace(/__ENV__([A-Z0-9_]+)/g, '!env $1');
  const configPath = path.join(dir, 'airut.yaml');
  fs.writeFileSync(configPath, text);
  return { dir, configPath, dbPath: path.join(dir, 'airut.db'), env };
}

export interface LogLine {
  level: string;
  msg: string;
  repo?: string;
  task?: number;
  [key: string]: unknown;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** Raw stdout/stderr text that was not a JSON log line. */
  readonly otherOutput: string[];
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Sends the signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  /**
   * SIGKILL to the daemon's whole process group (it and every child it spawned that stayed in it,
   * such as a `podman run`), as a crash of a service manager's cgroup-less unit would; resolves once
   * the daemon exited. Only for a daemon started with `ownProcessGroup`.
   */
  killGroup(): Promise<number | string>;
  /**
   * Sends `signal` to the whole process group, as a terminal's Ctrl-C or a process manager that
   * signals a group does. Only for a daemon started with `ownProcessGroup`.
   */
  signalGroup(signal: NodeJS.Signals): void;
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export interface StartDaemonOptions {
  /** The daemon leads its own process group (so `killGroup` cannot hit the test itself). */
  readonly ownProcessGroup?: boolean;
  /**
   * Start it as `npm --silent start -- --config …`, the way an operator and the service files do:
   * then `child` is npm, and the daemon is npm's child.
   */
  readonly viaNpm?: boolean;
}

export function startDaemon(
  cfg: TestConfig,
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
  options: StartDaemonOptions = {},
): DaemonProcess {
  const [command, args] = options.viaNpm
    ? ['npm', ['--silent', 'start', '--', '--config', cfg.configPath, ...extraArgs]]
    : [process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', cfg.configPath, ...extraArgs]];
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...cfg.env, AIRUT_LOG_LEVEL: 'debug', NPM_CONFIG_UPDATE_NOTIFIER: 'false', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup === true,
  });
  running.add(child);
  const logs: LogLine[] = [];
  const otherOutput: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (line: string) => {
    if (!line.trim()) return;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (parsed && typeof parsed === 'object' && 'msg' in parsed) {
        logs.push(parsed);
        for (const w of waiters) w();
        return;
      }
    } catch {
      /* not JSON */
    }
    otherOutput.push(line);
    if (process.env.AIRUT_TEST_VERBOSE) process.stderr.write(`[daemon] ${line}\n`);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      for (const w of waiters) w();
      resolve(code ?? signal ?? 'unknown');
    });
  });

  const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 15_000, what = 'log line') =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(predicate);
        if (hit) {
          done();
          resolve(hit);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`daemon exited before ${what}; last output:\n${tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output:\n${tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const tail = () =>
    [...logs.slice(-15).map((l) => JSON.stringify(l)), ...otherOutput.slice(-10)].join('\n');

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  const killGroup = async () => {
    if (!options.ownProcessGroup) throw new Error('killGroup needs a daemon started with ownProcessGroup');
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* the group is gone already */
    }
    return exited;
  };

  const signalGroup = (signal: NodeJS.Signals) => {
    if (!options.ownProcessGroup) throw new Error('signalGroup needs a daemon started with ownProcessGroup');
    process.kill(-child.pid!, signal);
  };

  return { child, logs, otherOutput, waitForLog, stop, killGroup, signalGroup, exited };
}

/** Opens the daemon's database read-only (WAL lets us read while it writes). */
export function openTestDb(cfg: TestConfig): Database.Database {
  return new Database(cfg.dbPath, { readonly: true, fileMustExist: true });
}

export async function waitUntil<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = 'condition',
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
