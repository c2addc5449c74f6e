/**
 * The `.env` file beside the configuration (or `--env-file PATH`) supplies `!env` values: the
 * process environment wins, a missing default file is fine, a missing `--env-file` is an error, a
 * file others can read is warned about, and no value is ever printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envFileFromArgs, loadConfigEnvironment } from '../../src/config/env-file.ts';
import { runConfigCheck } from '../../src/config/check.ts';
import { ConfigError } from '../../src/errors.ts';
import { capture, setIn, toYaml, validConfig } from './fixtures/configs.ts';

const SECRET = 'pw-from-dotenv-5c1e';

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'airut-envfile-'));
}

function writeEnv(file: string, text: string, mode = 0o600): string {
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** A valid configuration whose first repo's password is `!env MAIL_PW`. */
function configNeedingEnv(d: string): string {
  const yaml = toYaml(setIn(validConfig(), ['repos', 'api', 'email', 'password'], '__ENV__')).replace(/'?__ENV__'?/, '!env MAIL_PW');
  const file = path.join(d, 'airut.yaml');
  writeFileSync(file, yaml);
  return file;
}

test('the .env beside the configuration adds its variables; the process environment wins', () => {
  const d = dir();
  writeEnv(path.join(d, '.env'), '# secrets\nA=from-file\nB="quoted value"\nexport C=c\nKEEP=file\n');
  const e = loadConfigEnvironment([], path.join(d, 'airut.yaml'), { KEEP: 'process', EMPTY: '' });
  assert.equal(e.file, path.join(d, '.env'));
  assert.equal(e.env.A, 'from-file');
  assert.equal(e.env.B, 'quoted value');
  assert.equal(e.env.KEEP, 'process', 'a variable set in the process wins');
  assert.equal(e.env.EMPTY, '');
  assert.ok(!e.names.includes('KEEP'));
  assert.ok(e.names.includes('A') && e.names.includes('B'));
  assert.deepEqual(e.warnings, []);
});

test('the process environment object is not changed', () => {
  const d = dir();
  writeEnv(path.join(d, '.env'), 'A=1\n');
  const env: NodeJS.ProcessEnv = {};
  loadConfigEnvironment([], path.join(d, 'airut.yaml'), env);
  assert.deepEqual(env, {});
});

test('no .env beside the configuration: nothing read, no error', () => {
  const d = dir();
  const env = { X: '1' };
  const e = loadConfigEnvironment([], path.join(d, 'airut.yaml'), env);
  assert.equal(e.file, null);
  assert.equal(e.env, env);
});

test('--env-file PATH and --env-file=PATH replace the default file, relative to the working directory', () => {
  const d = dir();
  writeEnv(path.join(d, '.env'), 'FROM=default\n');
  writeEnv(path.join(d, 'other.env'), 'FROM=other\n');
  const cfg = path.join(d, 'airut.yaml');
  assert.equal(loadConfigEnvironment(['--env-file', 'other.env'], cfg, {}, d).env.FROM, 'other');
  assert.equal(loadConfigEnvironment([`--env-file=${path.join(d, 'other.env')}`], cfg, {}).env.FROM, 'other');
});

test('a missing --env-file is a clear error naming the file', () => {
  const missing = path.join(dir(), 'nope.env');
  assert.throws(
    () => loadConfigEnvironment(['--env-file', missing], '/etc/airut/airut.yaml', {}),
    (err: unknown) =>
      err instanceof ConfigError && err.message.includes(`the environment file ${missing} given with --env-file does not exist`),
  );
});

test('--env-file without a path, and a .env that is a directory, are clear errors', () => {
  assert.throws(() => envFileFromArgs(['--env-file']), /--env-file needs a file path/);
  assert.throws(() => envFileFromArgs(['--env-file', '--check']), /--env-file needs a file path/);
  assert.throws(() => envFileFromArgs(['--env-file=']), /--env-file= needs a file path/);
  const d = dir();
  mkdirSync(path.join(d, '.env'));
  assert.throws(() => loadConfigEnvironment([], path.join(d, 'airut.yaml'), {}), /\.env beside the configuration file is a directory/);
});

test('an unreadable .env is an error, not silently skipped', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, () => {
  const d = dir();
  writeEnv(path.join(d, '.env'), 'A=1\n', 0o000);
  assert.throws(() => loadConfigEnvironment([], path.join(d, 'airut.yaml'), {}), /cannot be read \(permission denied\)/);
});

test('a .env that others can read is warned about, with the fix and without any value', () => {
  const d = dir();
  const file = writeEnv(path.join(d, '.env'), `MAIL_PW=${SECRET}\n`, 0o644);
  const e = loadConfigEnvironment([], path.join(d, 'airut.yaml'), {});
  assert.equal(e.warnings.length, 1);
  assert.match(e.warnings[0]!, /users other than its owner can read or write it \(mode 0644\); run chmod 600/);
  assert.ok(e.warnings[0]!.includes(file));
  assert.ok(!e.warnings[0]!.includes(SECRET));
});

test('--check: a value only in .env resolves; the summary names the file and variable, not the value', () => {
  const d = dir();
  const cfg = configNeedingEnv(d);
  writeEnv(path.join(d, '.env'), `MAIL_PW=${SECRET}\n`);
  const io = capture();
  assert.equal(runConfigCheck(['--check', '--config', cfg], {}, io), 0, io.err());
  assert.match(io.out(), new RegExp(`environment file ${path.join(d, '.env').replace(/[.]/g, '\\.')}: 1 variable \\(MAIL_PW\\)`));
  assert.ok(!io.out().includes(SECRET) && !io.err().includes(SECRET));
});

test('--check without the .env: the variable is reported as not set', () => {
  const d = dir();
  const io = capture();
  assert.equal(runConfigCheck(['--check', '--config', configNeedingEnv(d)], {}, io), 1);
  assert.match(io.err(), /environment variable MAIL_PW is not set/);
});

test('--check with a world-readable .env warns on stderr and still passes', () => {
  const d = dir();
  const cfg = configNeedingEnv(d);
  writeEnv(path.join(d, '.env'), `MAIL_PW=${SECRET}\n`, 0o640);
  const io = capture();
  assert.equal(runConfigCheck(['--check', '--config', cfg], {}, io), 0);
  assert.match(io.err(), /^warning: the environment file .* \(mode 0640\)/);
});

test('--check with a missing --env-file exits 1 with the error', () => {
  const d = dir();
  const io = capture();
  assert.equal(runConfigCheck(['--check', '--config', configNeedingEnv(d), '--env-file', path.join(d, 'x.env')], {}, io), 1);
  assert.match(io.err(), /given with --env-file does not exist/);
});
