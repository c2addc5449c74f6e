import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  loadRepoConfig,
  loadRepoConfigFromMirror,
  RepoConfigError,
  REPO_CONFIG_PATH,
} from '../../src/repo-config/index.ts';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RepoConfigError, `expected RepoConfigError, got ${String(e)}`);
    assert.equal(e.code, 'REPO_CONFIG_INVALID');
    assert.match(e.message, /\.airut\/airut\.yaml/);
    for (const p of e.problems) assert.ok(e.message.includes(`${p.path}: ${p.message}`));
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected an error');
}

const AIRUT_OWN = `# Repo-specific Airut configuration.
default_model: opus
timeout: 6000
network:
  sandbox_enabled: true
container_env:
  CLAUDE_CODE_OAUTH_TOKEN: !secret? CLAUDE_CODE_OAUTH_TOKEN
  ANTHROPIC_API_KEY: !secret? ANTHROPIC_API_KEY
  GH_TOKEN: !secret GH_TOKEN
`;

describe('loadRepoConfig', () => {
  it('gives the defaults when the file is missing or empty', () => {
    for (const text of [null, '', '# only a comment\n', '---\n']) {
      const c = loadRepoConfig(text, {});
      assert.deepEqual({ ...c }, {
        defaultModel: 'sonnet',
        timeoutSeconds: 300,
        timeoutSetInFile: false,
        sandboxEnabled: true,
        containerEnv: {},
        secretEnvNames: [],
        maxBudgetUsd: null,
      });
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.containerEnv));
    }
  });

  it("reads Airut's own .airut/airut.yaml unchanged", () => {
    const c = loadRepoConfig(AIRUT_OWN, { GH_TOKEN: 'ghp_token', ANTHROPIC_API_KEY: 'sk-ant' });
    assert.equal(c.defaultModel, 'opus');
    assert.equal(c.timeoutSeconds, 6000);
    assert.equal(c.timeoutSetInFile, true);
    assert.equal(c.sandboxEnabled, true);
    assert.deepEqual({ ...c.containerEnv }, { ANTHROPIC_API_KEY: 'sk-ant', GH_TOKEN: 'ghp_token' });
    assert.deepEqual([...c.secretEnvNames].sort(), ['ANTHROPIC_API_KEY', 'GH_TOKEN']);
  });

  it('accepts inline values, turns numbers and booleans into text, and skips empty values', () => {
    const c = loadRepoConfig(
      `network:\n  sandbox_enabled: false\ncontainer_env:\n  BUCKET: my-bucket\n  PORT: 8080\n  DEBUG: true\n  EMPTY: ""\n  UNSET:\n`,
      {},
    );
    assert.equal(c.sandboxEnabled, false);
    assert.deepEqual({ ...c.containerEnv }, { BUCKET: 'my-bucket', PORT: '8080', DEBUG: 'true' });
    assert.deepEqual(c.secretEnvNames, []);
  });

  it('reads max_budget_usd, a positive number of dollars', () => {
    assert.equal(loadRepoConfig('max_budget_usd: 2.5\n', {}).maxBudgetUsd, 2.5);
    assert.equal(loadRepoConfig('max_budget_usd: 3\n', {}).maxBudgetUsd, 3);
    assert.equal(loadRepoConfig('max_budget_usd:\n', {}).maxBudgetUsd, null);
  });

  for (const bad of ['0', '-1', '"2.5"', 'true', '[1]', '100001', '.nan']) {
    it(`refuses max_budget_usd: ${bad} with a clear problem`, () => {
      assert.deepEqual(problemsOf(() => loadRepoConfig(`max_budget_usd: ${bad}\n`, {})), [
        'max_budget_usd: must be a positive number of US dollars, at most 100000 (e.g. 2.5)',
      ]);
    });
  }

  it('treats an empty value as not set, like Airut', () => {
    const c = loadRepoConfig('default_model:\ntimeout:\nnetwork:\ncontainer_env:\n', {});
    assert.equal(c.defaultModel, 'sonnet');
    assert.equal(c.timeoutSeconds, 300);
  });

  it('rejects unknown keys, naming them and what is allowed', () => {
    const p = problemsOf(() => loadRepoConfig('default_model: opus\nmodel: opus\nnetwork:\n  allowlist_enabled: true\n', {}));
    assert.deepEqual(p, [
      'model: unknown key (allowed here: default_model, timeout, max_budget_usd, network, container_env)',
      'network.allowlist_enabled: unknown key (allowed here: sandbox_enabled)',
    ]);
  });

  it('reports every bad type at once', () => {
    const p = problemsOf(() =>
      loadRepoConfig(
        'default_model: 42\ntimeout: "600"\nnetwork:\n  sandbox_enabled: "true"\ncontainer_env:\n  1BAD: x\n  LIST: [a, b]\n',
        {},
      ),
    );
    assert.deepEqual(p.sort(), [
      'container_env.1BAD: is not a valid environment variable name (letters, digits and _, not starting with a digit)',
      'container_env.LIST: must be a string, a number, true/false, !secret NAME or !secret? NAME',
      'default_model: must be a model name such as opus, sonnet, haiku or claude-sonnet-4-5 (letters, digits, . _ : - [ ])',
      'network.sandbox_enabled: must be true or false',
      'timeout: must be an integer from 10 to 86400 (seconds)',
    ]);
  });

  it('checks the timeout range', () => {
    for (const t of ['5', '86401', '12.5', '-1']) {
      assert.deepEqual(problemsOf(() => loadRepoConfig(`timeout: ${t}\n`, {})), [
        'timeout: must be an integer from 10 to 86400 (seconds)',
      ]);
    }
    assert.equal(loadRepoConfig('timeout: 10\n', {}).timeoutSeconds, 10);
    assert.equal(loadRepoConfig('timeout: 86400\n', {}).timeoutSeconds, 86400);
  });

  it('rejects a file that is not a mapping, and YAML syntax errors with a line number', () => {
    assert.deepEqual(problemsOf(() => loadRepoConfig('- a\n- b\n', {})), ['(top level): must be a mapping of settings, not a list']);
    assert.deepEqual(problemsOf(() => loadRepoConfig('just text\n', {})), ['(top level): must be a mapping of settings (key: value)']);
    const p = problemsOf(() => loadRepoConfig('timeout: 60\ncontainer_env: [a\n', {}));
    assert.match(p[0] ?? '', /^line \d+, column \d+: /);
    const dup = problemsOf(() => loadRepoConfig('timeout: 60\ntimeout: 70\n', {}));
    assert.match(dup[0] ?? '', /^line 2, column 1: .*unique/);
  });

  it('resolves !secret from the given pool', () => {
    const c = loadRepoConfig('container_env:\n  GH_TOKEN: !secret GH_TOKEN_API\n  OPT: !secret? PRESENT\n', {
      GH_TOKEN_API: 'ghp_api',
      PRESENT: 'here',
    });
    assert.deepEqual({ ...c.containerEnv }, { GH_TOKEN: 'ghp_api', OPT: 'here' });
  });

  it('names the field and the secret when a required secret is missing, without leaking values', () => {
    let message = '';
    const p = problemsOf(() => {
      try {
        return loadRepoConfig('timeout: 5\ncontainer_env:\n  GH_TOKEN: !secret GH_TOKEN\n  DB: !secret DB_PASSWORD\n', {
          OTHER: 'other-secret-value',
        });
      } catch (e) {
        message = (e as Error).message;
        throw e;
      }
    });
    assert.equal(p.length, 3, 'the bad timeout and both secrets, in one error');
    assert.ok(p.some((x) => x.startsWith('container_env.GH_TOKEN: secret GH_TOKEN ')));
    assert.ok(p.some((x) => x.startsWith('container_env.DB: secret DB_PASSWORD ')));
    assert.doesNotMatch(message, /other-secret-value/);
  });

  it('refuses a multi-line value (inline or secret) that the container env file cannot carry, without quoting it', () => {
    const p = problemsOf(() =>
      loadRepoConfig('container_env:\n  PEM: |\n    line one\n    line two\n  KEY: !secret MULTI\n  OK: fine\n', { MULTI: 'ab\nsecret-line' }),
    );
    assert.equal(p.length, 2);
    assert.ok(p.some((x) => /^container_env\.PEM: cannot be passed to the container: the value spans more than one line/.test(x)));
    assert.ok(p.some((x) => /^container_env\.KEY: secret MULTI cannot be passed to the container: the value spans more than one line/.test(x)));
    assert.ok(!p.join('\n').includes('secret-line') && !p.join('\n').includes('line one'));
  });

  it('omits a missing optional !secret? entry', () => {
    const c = loadRepoConfig('container_env:\n  A: !secret? NOT_THERE\n  B: inline\n', {});
    assert.deepEqual({ ...c.containerEnv }, { B: 'inline' });
  });

  it("never sees another repository's secrets or inherited properties", () => {
    const poolApi = { GH_TOKEN: 'token-api' };
    const poolWeb = { WEB_ONLY: 'token-web' };
    const yaml = 'container_env:\n  GH_TOKEN: !secret GH_TOKEN\n  X: !secret WEB_ONLY\n';
    const p = problemsOf(() => loadRepoConfig(yaml, poolApi));
    assert.equal(p.length, 1);
    assert.match(p[0] ?? '', /^container_env\.X: secret WEB_ONLY /);
    assert.deepEqual({ ...loadRepoConfig('container_env:\n  X: !secret WEB_ONLY\n', poolWeb).containerEnv }, { X: 'token-web' });
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(problemsOf(() => loadRepoConfig(`container_env:\n  A: !secret ${name}\n`, poolApi)).length, 1, name);
    }
  });

  it('refuses !env, misplaced !secret, unknown tags and empty secret names', () => {
    const p = problemsOf(() => loadRepoConfig('container_env:\n  HOME_DIR: !env HOME\n', {}));
    assert.match(p[0] ?? '', /^container_env\.HOME_DIR: !env is not allowed/);
    const q = problemsOf(() => loadRepoConfig('default_model: !secret MODEL\n', { MODEL: 'opus' }));
    assert.ok(q.includes('default_model: !secret can only be used for values under container_env'));
    const r = problemsOf(() => loadRepoConfig('container_env:\n  A: !include other.yaml\n', {}));
    assert.match(r[0] ?? '', /unknown YAML tag !include/);
    const s = problemsOf(() => loadRepoConfig('container_env:\n  A: !secret\n', { '': 'x' }));
    assert.match(s[0] ?? '', /^container_env\.A: !secret needs the name of a secret/);
    const t = problemsOf(() => loadRepoConfig('container_env:\n  A: !secret {x: 1}\n', {}));
    assert.match(t[0] ?? '', /!secret must be followed by a name/);
  });

  it('keeps a variable named __proto__ a plain entry', () => {
    const c = loadRepoConfig('container_env:\n  __proto__: x\n', {});
    assert.equal(Object.getPrototypeOf(c.containerEnv), Object.prototype);
    assert.deepEqual(Object.keys(c.containerEnv), ['__proto__']);
  });

  it('reads the file through a mirror (missing file → defaults, bad UTF-8 → error)', async () => {
    const files = new Map<string, Buffer>([[REPO_CONFIG_PATH, Buffer.from('timeout: 60\n')]]);
    const mirror = { readFile: async (p: string) => files.get(p) ?? null };
    assert.equal((await loadRepoConfigFromMirror(mirror, {})).timeoutSeconds, 60);
    files.clear();
    assert.equal((await loadRepoConfigFromMirror(mirror, {})).timeoutSeconds, 300);
    files.set(REPO_CONFIG_PATH, Buffer.from([0x74, 0xff, 0xfe]));
    await assert.rejects(loadRepoConfigFromMirror(mirror, {}), (e: RepoConfigError) => e.code === 'REPO_CONFIG_INVALID' && /UTF-8/.test(e.message));
  });
});
