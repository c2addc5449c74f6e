/** Stage 1: what the task runs on, from the mail and the default branch (fakes of mirror and store). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FOLLOW_UP_MIRROR_FRESH_MS, repoInputsStage } from '../../../src/runner/stages/repo-inputs.ts';
import { UserFacingError } from '../../../src/runner/user-facing-error.ts';
import { fakeContext } from './fake-context.ts';
import { captureLog } from '../../harness/capture-log.ts';
import type { SpendingLimits } from '../../../src/config/types.ts';

async function userError(p: Promise<unknown>, code: string): Promise<UserFacingError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserFacingError, String(err));
  assert.equal(err.code, code);
  return err;
}

test('the mirror is updated and the repo config, masks and allowlist come from the default branch', async () => {
  const ctx = fakeContext();
  const inputs = await repoInputsStage(ctx);
  assert.equal(ctx.mirror.updates, 1);
  assert.equal(inputs.repoConfig.timeoutSeconds, 90);
  assert.equal(inputs.repoConfig.defaultModel, 'sonnet');
  assert.ok(inputs.allowlist, 'the sandbox is on: the allowlist is read');
  assert.deepEqual(inputs.masks, []);
});

test('a follow-up accepts a mirror fetched in the last few seconds; a new conversation always fetches (its workspace is cloned from the mirror)', async () => {
  const follow = fakeContext({ isFirstTask: false });
  await repoInputsStage(follow);
  assert.deepEqual(follow.mirror.updateOptions, [{ freshForMs: FOLLOW_UP_MIRROR_FRESH_MS }]);
  assert.ok(FOLLOW_UP_MIRROR_FRESH_MS > 0 && FOLLOW_UP_MIRROR_FRESH_MS <= 30_000, 'short: a user who pushes and replies expects the push to count');
  const first = fakeContext({ isFirstTask: true });
  await repoInputsStage(first);
  assert.deepEqual(first.mirror.updateOptions, [{}]);
});

test('with the sandbox off in the repository, no allowlist is needed', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.set('.airut/airut.yaml', 'network:\n  sandbox_enabled: false\n');
  ctx.mirror.files.delete('.airut/network-allowlist.yaml');
  assert.equal((await repoInputsStage(ctx)).allowlist, null);
});

test('with the sandbox off on the server, no allowlist is needed either', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.delete('.airut/network-allowlist.yaml');
  const off = fakeContext({ repo: { ...ctx.repo, network: { sandboxEnabled: false } }, mirror: ctx.mirror });
  assert.equal((await repoInputsStage(off)).allowlist, null);
});

test('a masked secret reaches the repo config only as a surrogate', async () => {
  const base = fakeContext();
  const ctx = fakeContext({ repo: { ...base.repo, maskedSecrets: { GH_TOKEN: { value: 'ghp_real', scopes: ['api.github.com'], headers: ['Authorization'], allowForeignCredentials: false } } } });
  ctx.mirror.files.set('.airut/airut.yaml', 'container_env:\n  GH_TOKEN: !secret GH_TOKEN\n');
  const inputs = await repoInputsStage(ctx);
  assert.equal(inputs.masks.length, 1);
  assert.notEqual(inputs.repoConfig.containerEnv.GH_TOKEN, 'ghp_real');
  assert.equal(inputs.repoConfig.containerEnv.GH_TOKEN, inputs.masks[0]!.surrogate);
});

test('signing credentials reach the repo config only as surrogates, and the rules keep the real keys for the proxy', async () => {
  const base = fakeContext();
  const signingCredentials = {
    AWS: {
      type: 'aws-sigv4' as const,
      accessKeyId: { name: 'AWS_ACCESS_KEY_ID', value: 'AKIAIOSFODNN7EXAMPLE' },
      secretAccessKey: { name: 'AWS_SECRET_ACCESS_KEY', value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      sessionToken: null,
      scopes: ['*.amazonaws.com'],
    },
  };
  const ctx = fakeContext({ repo: { ...base.repo, signingCredentials } });
  ctx.mirror.files.set('.airut/airut.yaml', 'container_env:\n  AWS_ACCESS_KEY_ID: !secret AWS_ACCESS_KEY_ID\n  AWS_SECRET_ACCESS_KEY: !secret AWS_SECRET_ACCESS_KEY\n');
  const inputs = await repoInputsStage(ctx);
  assert.equal(inputs.signing.length, 1);
  assert.match(inputs.repoConfig.containerEnv.AWS_ACCESS_KEY_ID!, /^AKIA/);
  assert.equal(inputs.repoConfig.containerEnv.AWS_ACCESS_KEY_ID, inputs.signing[0]!.accessKeyId.surrogate);
  assert.equal(inputs.repoConfig.containerEnv.AWS_SECRET_ACCESS_KEY, inputs.signing[0]!.secretAccessKey.surrogate);
  assert.notEqual(inputs.repoConfig.containerEnv.AWS_SECRET_ACCESS_KEY, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  assert.equal(inputs.signing[0]!.secretAccessKey.value, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  assert.equal(inputs.containerEnv.AWS_ACCESS_KEY_ID, inputs.signing[0]!.accessKeyId.surrogate, 'injected without container_env too');
});

test('every pool is injected under its name without container_env; container_env wins over injected values', async () => {
  const base = fakeContext();
  const ctx = fakeContext({
    repo: {
      ...base.repo,
      secrets: { PLAIN: 'plain-value', OVERRIDDEN: 'from-pool', GH_TOKEN: 'plain-shadowed' },
      maskedSecrets: { GH_TOKEN: { value: 'ghp_realRealReal1234', scopes: ['api.github.com'], headers: ['Authorization'], allowForeignCredentials: false } },
    },
  });
  ctx.mirror.files.set('.airut/airut.yaml', 'container_env:\n  OVERRIDDEN: from-repo-file\n  ALIAS: !secret GH_TOKEN\n');
  const inputs = await repoInputsStage(ctx);
  const surrogate = inputs.masks[0]!.surrogate;
  assert.equal(inputs.containerEnv.PLAIN, 'plain-value', 'injected without any container_env entry');
  assert.equal(inputs.containerEnv.GH_TOKEN, surrogate, 'masked_secrets wins over secrets');
  assert.equal(inputs.containerEnv.ALIAS, surrogate, '!secret reads the same precedence');
  assert.equal(inputs.containerEnv.OVERRIDDEN, 'from-repo-file', 'container_env wins');
  assert.ok(!Object.values(inputs.containerEnv).includes('ghp_realRealReal1234'));
  const again = await repoInputsStage(ctx);
  assert.notEqual(again.containerEnv.GH_TOKEN, surrogate, 'the next task gets a new surrogate');
});

test('an empty follow-up is refused before the mirror is touched; an empty first mail with a subject is not', async () => {
  const followUp = fakeContext({ isFirstTask: false, bodyText: '  \n' });
  const err = await userError(repoInputsStage(followUp), 'MAIL_EMPTY');
  assert.match(err.userMessage, /^Your reply had no text/);
  assert.equal(followUp.mirror.updates, 0);

  const first = fakeContext({ isFirstTask: true, bodyText: '' });
  await repoInputsStage(first);
  const nothing = fakeContext({ isFirstTask: true, bodyText: '', subject: ' ' });
  assert.match((await userError(repoInputsStage(nothing), 'MAIL_EMPTY')).userMessage, /^Your message had neither a subject nor a body/);
});

test('a failed fetch, a broken config and a missing or broken allowlist are explained to the sender', async () => {
  const fetch = fakeContext();
  fetch.mirror.updateError = new Error('could not resolve host');
  assert.match((await userError(repoInputsStage(fetch), 'GIT_FETCH_FAILED')).userMessage, /could not fetch the repository: could not resolve host/);

  const config = fakeContext();
  config.mirror.files.set('.airut/airut.yaml', 'timeout: [\n');
  assert.match((await userError(repoInputsStage(config), 'REPO_CONFIG_INVALID')).userMessage, /configuration is invalid/);

  const missing = fakeContext();
  missing.mirror.files.delete('.airut/network-allowlist.yaml');
  assert.match((await userError(repoInputsStage(missing), 'ALLOWLIST_MISSING')).userMessage, /has no `\.airut\/network-allowlist\.yaml`/);

  const broken = fakeContext();
  broken.mirror.files.set('.airut/network-allowlist.yaml', 'domains: 7\n');
  assert.match((await userError(repoInputsStage(broken), 'ALLOWLIST_INVALID')).userMessage, /allowlist on the default branch is invalid/);
});

const NO_LIMITS: SpendingLimits = { taskUsd: null, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };

test("the task's budget is the server's, lowered (never raised) by max_budget_usd, and recorded on the task", async () => {
  const cases: Array<[server: number | null, yaml: string, budget: number | null, warned: boolean]> = [
    [null, '', null, false],
    [5, '', 5, false],
    [null, 'max_budget_usd: 2\n', 2, false],
    [5, 'max_budget_usd: 2\n', 2, false],
    [5, 'max_budget_usd: 8\n', 5, true],
  ];
  for (const [server, yaml, budget, warned] of cases) {
    const base = fakeContext();
    const { log, lines } = captureLog();
    const ctx = fakeContext({ repo: { ...base.repo, budget: { ...NO_LIMITS, taskUsd: server } }, mirror: base.mirror, store: base.store, log });
    ctx.mirror.files.set('.airut/airut.yaml', yaml);
    const inputs = await repoInputsStage(ctx);
    assert.equal(inputs.budgetUsd, budget, `server ${server}, ${JSON.stringify(yaml)}`);
    assert.deepEqual(ctx.store.budgets, [budget]);
    const warning = lines.find((l) => l.includes('max_budget_usd'));
    assert.equal(warning !== undefined, warned, `warning for server ${server}, ${JSON.stringify(yaml)}`);
    if (warning) assert.match(warning, /is above the server's budget\.task_usd for repository api; the server's budget is used/);
  }
});

test("the task's timeout is the file's, within the server's resource_limits.timeout (default and ceiling); a lowered value is logged", async () => {
  const cases: Array<[server: number | null, yaml: string, timeout: number, warned: boolean]> = [
    [null, '', 300, false],
    [null, 'timeout: 6000\n', 6000, false],
    [600, '', 600, false],
    [600, 'timeout: 120\n', 120, false],
    [600, 'timeout: 6000\n', 600, true],
  ];
  for (const [server, yaml, timeout, warned] of cases) {
    const base = fakeContext();
    const { log, lines } = captureLog();
    const resourceLimits = { ...base.repo.resourceLimits, timeoutSeconds: server };
    const ctx = fakeContext({ repo: { ...base.repo, resourceLimits }, mirror: base.mirror, store: base.store, log });
    ctx.mirror.files.set('.airut/airut.yaml', yaml);
    const inputs = await repoInputsStage(ctx);
    assert.equal(inputs.timeoutSeconds, timeout, `server ${server}, ${JSON.stringify(yaml)}`);
    const warning = lines.find((l) => l.includes('resource_limits.timeout'));
    assert.equal(warning !== undefined, warned, `warning for server ${server}, ${JSON.stringify(yaml)}`);
    if (warning) assert.match(warning, /timeout in \.airut\/airut\.yaml is above the server's resource_limits\.timeout for repository api; the server's limit is used/);
  }
});

test('a bad max_budget_usd is explained to the sender as an invalid repository configuration', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.set('.airut/airut.yaml', 'max_budget_usd: -3\n');
  const err = await userError(repoInputsStage(ctx), 'REPO_CONFIG_INVALID');
  assert.match(err.message, /max_budget_usd: must be a positive number of US dollars/);
});
