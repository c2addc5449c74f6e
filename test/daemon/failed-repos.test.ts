import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../src/errors.ts';
import { loadServerConfig } from '../../src/config/load.ts';
import { loadServerConfigPartial } from '../../src/config/partial-load.ts';
import { failedRepoHealth, loadForReload } from '../../src/daemon/failed-repos.ts';
import { toYaml, validConfig, withConfigFile } from '../config/fixtures/configs.ts';

const whole = toYaml(validConfig());
const apiBroken = whole.replace('password: password-of-api', 'password: !env PW_API');
const webOnly = (file: string) => {
  writeFileSync(file, apiBroken);
  return loadServerConfigPartial(file, {});
};
test('a reload without resilience refuses a file with a broken repository', () => {
  withConfigFile(whole, (file) => {
    const running = loadServerConfig(file, {});
    writeFileSync(file, apiBroken);
    assert.throws(() => loadForReload(file, {}, false, running), ConfigError);
  });
});

test('a resilient reload leaves out a broken repository that is not running, and starts it once fixed', () => {
  withConfigFile(whole, (file) => {
    const running = webOnly(file).config; // api was left out at start
    const still = loadForReload(file, {}, true, running);
    assert.deepEqual(still.failed.map((f) => f.id), ['api']);
    assert.deepEqual(Object.keys(loadForReload(file, { PW_API: 'now set' }, true, running).config.repos).sort(), ['api', 'web']);
  });
});

test('a resilient reload refuses the file when a running repository became invalid (it keeps running)', () => {
  withConfigFile(whole, (file) => {
    const running = loadServerConfig(file, {});
    writeFileSync(file, apiBroken);
    assert.throws(
      () => loadForReload(file, {}, true, running),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === 'repos.api.email.password'),
    );
  });
});

test('execution.resilient_start in the new file makes a reload resilient without the flag', () => {
  withConfigFile(whole, (file) => {
    const running = webOnly(file).config;
    writeFileSync(file, apiBroken.replace('repos:\n', 'execution:\n  resilient_start: true\nrepos:\n'));
    assert.deepEqual(loadForReload(file, {}, false, running).failed.map((f) => f.id), ['api']);
  });
});

test('a failed repository is a /health problem naming it and the reason', () => {
  assert.deepEqual(failedRepoHealth([{ id: 'api', problems: [{ path: 'repos.api.email.password', message: 'environment variable PW_API is not set' }] }]), [
    {
      component: 'repo:api',
      message: 'repository api failed to start: repos.api.email.password: environment variable PW_API is not set; fix the configuration (or the .env beside it), then reload',
    },
  ]);
});
