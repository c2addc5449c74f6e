/**
 * The systemd unit and the pm2 file in scripts/: they must give the daemon longer to stop than it
 * may take (shutdown_timeout for running tasks, plus the shutdown steps), signal only the main
 * process, restart it on failure, and keep away from the hardening options that break podman.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { renderServiceUnit } from '../../src/cli/service-unit.ts';
import { PROJECT_ROOT } from '../harness/daemon-process.ts';

const UNIT = path.join(PROJECT_ROOT, 'scripts', 'airut.service');
const PM2 = path.join(PROJECT_ROOT, 'scripts', 'ecosystem.config.cjs');

/**
 * What stopping takes beyond shutdown_timeout, at worst: listeners log out (8 s), tasks still
 * running after the grace time are cancelled and their containers stopped (30 s), queued replies
 * get a last chance to go out (5 s). The process manager must wait at least this much longer.
 */
const SHUTDOWN_STEPS_SECONDS = 45;

/** The default from the schema (test/config/schema.test.ts keeps it equal to src/config/defaults.ts). */
function defaultShutdownTimeoutSeconds(): number {
  const schema = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'schemas', 'server-config.schema.json'), 'utf8'));
  const value = schema.properties.execution.properties.shutdown_timeout.default;
  assert.equal(typeof value, 'number');
  return value as number;
}

/** `[Section]` → key → values (a key may repeat), comments and blank lines skipped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** systemd time spans as the unit uses them: `150`, `150s`, `2min 30s`. */
function timeSpanSeconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  const rest = span.replace(/(\d+)\s*(min|sec|hr|s|m|h)?/g, (_, n: string, unit: string | undefined) => {
    total += Number(n) * (units[unit ?? ''] as number);
    return '';
  });
  assert.equal(rest.trim(), '', `cannot read the time span "${span}"`);
  return total;
}

function service(): Map<string, string[]> {
  const unit = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const s = unit.get('Service');
  assert.ok(s, 'the unit has a [Service] section');
  return s;
}

function one(s: Map<string, string[]>, key: string): string {
  const values = s.get(key);
  assert.ok(values && values.length > 0, `${key}= is set`);
  return values[values.length - 1]!;
}

test('systemd: airut start in the install dir (node is the main process), restarted on failure, secrets from an EnvironmentFile', () => {
  const s = service();
  // Not npm: npm would be $MAINPID, and npm dies of ExecReload's SIGHUP, taking the service down.
  assert.match(one(s, 'ExecStart'), /^\/opt\/airut-ts\/bin\/airut start$/);
  assert.ok(one(s, 'ExecStart').startsWith(one(s, 'WorkingDirectory')));
  assert.ok(path.isAbsolute(one(s, 'WorkingDirectory')));
  assert.equal(one(s, 'Restart'), 'on-failure');
  assert.ok(path.isAbsolute(one(s, 'EnvironmentFile').replace(/^-/, '')));
  assert.ok(!one(s, 'EnvironmentFile').startsWith('-'), 'a missing secrets file must stop the start, not be ignored');
});

test('systemd: `systemctl reload` sends SIGHUP to the daemon, which reloads its configuration', () => {
  assert.equal(one(service(), 'ExecReload'), '/bin/kill -HUP $MAINPID');
});

test('systemd and pm2 wait longer than the default shutdown_timeout plus the shutdown steps, and signal only the main process', () => {
  const grace = defaultShutdownTimeoutSeconds();
  const s = service();
  assert.equal(one(s, 'KillSignal'), 'SIGTERM');
  assert.equal(one(s, 'KillMode'), 'mixed');
  const stopSeconds = timeSpanSeconds(one(s, 'TimeoutStopSec'));
  assert.ok(stopSeconds >= grace + SHUTDOWN_STEPS_SECONDS + 15, `TimeoutStopSec ${stopSeconds} s leaves too little beyond shutdown_timeout ${grace} s`);

  const app = loadPm2App({});
  assert.equal(app.kill_timeout, stopSeconds * 1000, 'pm2 kill_timeout matches TimeoutStopSec');
  assert.equal(app.treekill, false);
});

test('systemd: none of the hardening options that break podman', () => {
  const s = service();
  // Own mount namespace (podman's mounts would live in it), or seccomp filters inherited by every
  // container and image build. See the comment in the unit and docs/deployment.md.
  const breaking = ['PrivateTmp', 'ProtectSystem', 'ProtectHome', 'ReadOnlyPaths', 'ReadWritePaths', 'InaccessiblePaths', 'PrivateDevices',
    'PrivateMounts', 'ProtectKernelTunables', 'ProtectControlGroups', 'ProtectHostname', 'NoNewPrivileges', 'RestrictSUIDSGID',
    'RestrictNamespaces', 'MemoryDenyWriteExecute', 'SystemCallFilter', 'CapabilityBoundingSet', 'DynamicUser'];
  for (const key of breaking) {
    const value = s.get(key)?.at(-1);
    assert.ok(value === undefined || /^(no|false|0)$/i.test(value), `${key}=${value} breaks podman`);
  }
});

test('systemd-analyze accepts the unit without a warning', { skip: spawnSync('systemd-analyze', ['--version']).status !== 0 && 'systemd-analyze is not installed' }, () => {
  // verify checks that ExecStart's program exists: the template as `airut install-service` writes it
  // for this checkout (its /opt/airut-ts paths replaced by this checkout's).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-unit-'));
  try {
    const unit = path.join(dir, 'airut.service');
    fs.writeFileSync(unit, renderServiceUnit({ root: PROJECT_ROOT, configPath: '/etc/airut/airut.yaml', user: null }));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

interface Pm2App {
  name: string;
  cwd: string;
  script: string;
  args: string;
  interpreter: string;
  exec_mode?: string;
  instances?: number;
  autorestart: boolean;
  kill_timeout: number;
  treekill: boolean;
  env: Record<string, string>;
}

/** Loads the pm2 file fresh, with `env` in process.env while it is evaluated. */
function loadPm2App(env: Record<string, string>): Pm2App {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const require = createRequire(import.meta.url);
    delete require.cache[require.resolve(PM2)];
    const config = require(PM2) as { apps: Pm2App[] };
    assert.equal(config.apps.length, 1, 'one app');
    return config.apps[0]!;
  } finally {
    for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

test('pm2: npm start in this checkout, one forked instance, restarted, secrets from the env file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-pm2-'));
  const envFile = path.join(dir, 'airut.env');
  fs.writeFileSync(envFile, '# mail passwords\nEMAIL_PASSWORD_API=pa55 word\nexport GH_TOKEN="tok=en"\n\nQUOTED=\'single\'\n');
  const app = loadPm2App({ AIRUT_ENV_FILE: envFile });
  assert.equal(app.cwd, PROJECT_ROOT);
  assert.equal(app.script, 'npm');
  assert.match(app.args, /\bstart$/);
  assert.equal(app.interpreter, 'none');
  assert.ok(app.exec_mode === undefined || /^fork(_mode)?$/.test(app.exec_mode), 'no cluster mode');
  assert.ok(app.instances === undefined || app.instances === 1);
  assert.equal(app.autorestart, true);
  assert.equal(app.env.EMAIL_PASSWORD_API, 'pa55 word');
  assert.equal(app.env.GH_TOKEN, 'tok=en');
  assert.equal(app.env.QUOTED, 'single');
  assert.ok(app.env.AIRUT_CONFIG, 'AIRUT_CONFIG is set');

  const missing = loadPm2App({ AIRUT_ENV_FILE: path.join(dir, 'absent.env') });
  assert.equal(missing.env.EMAIL_PASSWORD_API, undefined);
});
