import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.ts';
import { loadServerConfig } from '../../src/config/load.ts';
import { resolveConfigPath } from '../../src/config/path.ts';

const CWD = '/srv/airut';

test('--config PATH and --config=PATH win over AIRUT_CONFIG', () => {
  assert.equal(resolveConfigPath(['--check', '--config', 'a.yaml'], { AIRUT_CONFIG: '/b.yaml' }, CWD), '/srv/airut/a.yaml');
  assert.equal(resolveConfigPath(['--config=/etc/a.yaml'], { AIRUT_CONFIG: '/b.yaml' }, CWD), '/etc/a.yaml');
});

test('AIRUT_CONFIG is used when there is no --config', () => {
  assert.equal(resolveConfigPath(['--check'], { AIRUT_CONFIG: '/etc/airut.yaml' }, CWD), '/etc/airut.yaml');
  assert.equal(resolveConfigPath([], { AIRUT_CONFIG: 'rel.yaml' }, CWD), '/srv/airut/rel.yaml');
});

test('the default is config/airut.yaml under the working directory', () => {
  assert.equal(resolveConfigPath([], {}, CWD), '/srv/airut/config/airut.yaml');
  assert.equal(resolveConfigPath([], { AIRUT_CONFIG: '' }, CWD), '/srv/airut/config/airut.yaml');
});

test('--config without a value is an error', () => {
  assert.throws(() => resolveConfigPath(['--config'], {}, CWD), (err: unknown) => err instanceof ConfigError && /--config needs a file path/.test(err.message));
  assert.throws(() => resolveConfigPath(['--config', '--check'], {}, CWD), ConfigError);
  assert.throws(() => resolveConfigPath(['--config='], {}, CWD), ConfigError);
});

test('a missing file names the path and how to create one', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'airut-config-'));
  try {
    const missing = path.join(dir, 'airut.yaml');
    assert.throws(
      () => loadServerConfig(missing, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(missing) &&
        err.message.includes('does not exist') &&
        err.message.includes('cp config/airut.example.yaml config/airut.yaml'),
    );
    assert.throws(() => loadServerConfig(dir, {}), (err: unknown) => err instanceof ConfigError && /is a directory/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
