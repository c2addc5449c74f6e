/**
 * airut-ts under pm2. Installation and the reasons behind each setting: docs/deployment.md.
 *
 *   pm2 start scripts/ecosystem.config.cjs      # from anywhere; the app runs in this checkout
 *   pm2 logs airut                              # the daemon's JSON log lines
 *   pm2 save && pm2 startup                     # start it at boot
 *
 * Secrets: the KEY=value lines of AIRUT_ENV_FILE (default /etc/airut/airut.env, the same file the
 * systemd unit reads) are passed to the daemon, so the values the configuration reads with `!env`
 * never have to be in this file. pm2 stores the environment in ~/.pm2/dump.pm2 on `pm2 save`:
 * keep ~/.pm2 readable by its owner only.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const envFile = process.env.AIRUT_ENV_FILE || '/etc/airut/airut.env';

/** KEY=value lines as systemd's EnvironmentFile= reads them: # comments, optional quotes. */
function readEnvFile(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return {};
    throw err;
  }
  const env = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`${file}: cannot read the line "${line.slice(0, 40)}" (expected KEY=value)`);
    let value = m[2];
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
    env[m[1]] = value;
  }
  return env;
}

module.exports = {
  apps: [
    {
      name: 'airut',
      cwd: path.resolve(__dirname, '..'),
      // `npm start` execs node itself (see package.json), so npm passes pm2's stop signal straight on.
      script: 'npm',
      args: '--silent start',
      interpreter: 'none',
      // One daemon per database: never cluster mode, never more than one instance.
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      exp_backoff_restart_delay: 1000,
      // Stopping: pm2 sends SIGINT (the daemon treats it like SIGTERM) to npm only — treekill would
      // also signal the podman clients, which pass it into the task containers at once. The daemon
      // then lets running tasks finish for execution.shutdown_timeout (default 60 s) before it stops
      // them; kill_timeout must be longer: shutdown_timeout + 90 s, like TimeoutStopSec in
      // scripts/airut.service (test/deploy/service-files.test.ts checks both).
      treekill: false,
      kill_timeout: 150_000,
      // pino writes its own timestamps.
      time: false,
      env: {
        AIRUT_CONFIG: process.env.AIRUT_CONFIG || '/etc/airut/airut.yaml',
        NPM_CONFIG_UPDATE_NOTIFIER: 'false',
        ...readEnvFile(envFile),
      },
    },
  ],
};
