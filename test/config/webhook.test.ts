import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDiff, planReload } from '../../src/config/config-diff.ts';
import { secretValuesOf } from '../../src/config/secret-values.ts';
import { formatConfigSummary } from '../../src/config/summary.ts';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

const SECRET = 'whsec-0123456789abcdef';

function withWebhook(webhook: unknown): Tree {
  return setIn(validConfig(), ['repos', 'api', 'webhook'], webhook);
}

test('a webhook is read with its events defaulting to all, and without one a repository has none', () => {
  const cfg = parse(toYaml(withWebhook({ url: ' https://ci.example.com/hooks/airut?token=abc ', secret: SECRET })));
  assert.deepEqual(cfg.repos.api?.webhook, { url: 'https://ci.example.com/hooks/airut?token=abc', secret: SECRET, events: ['task.finished'] });
  assert.equal(cfg.repos.web?.webhook, null);
  const explicit = parse(toYaml(withWebhook({ url: 'http://127.0.0.1:8080/x', secret: SECRET, events: ['task.finished'] })));
  assert.deepEqual(explicit.repos.api?.webhook?.events, ['task.finished']);
});

test('the secret comes from !env, is redacted from logs, and the summary shows the origin only', () => {
  const text = toYaml(withWebhook({ url: 'https://ci.example.com/hooks/airut?token=abc', secret: 'PLACEHOLDER' })).replace('PLACEHOLDER', '!env HOOK_SECRET');
  const cfg = parse(text, { HOOK_SECRET: SECRET });
  assert.equal(cfg.repos.api?.webhook?.secret, SECRET);
  assert.ok(secretValuesOf(cfg).includes(SECRET));
  const summary = formatConfigSummary(cfg);
  assert.match(summary, /webhook: {2}https:\/\/ci\.example\.com \(task\.finished\), secret \*\*\*/);
  assert.ok(!summary.includes(SECRET) && !summary.includes('token=abc'));
  assert.match(messageAt(problemsOf(text, {}), 'repos.api.webhook.secret'), /HOOK_SECRET/);
});

test('hostile or mistaken webhook settings are refused with a message naming the key', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ url: 'ftp://ci.example.com/x', secret: SECRET }, 'repos.api.webhook.url', /must be an http or https URL, not ftp/],
    [{ url: 'file:///etc/passwd', secret: SECRET }, 'repos.api.webhook.url', /must be an http or https URL, not file/],
    [{ url: 'ci.example.com/hook', secret: SECRET }, 'repos.api.webhook.url', /must be an absolute http or https URL/],
    [{ url: 'https://user:pw@ci.example.com/x', secret: SECRET }, 'repos.api.webhook.url', /must not contain a user name or password/],
    [{ url: 'https://ci.example.com/x', secret: 'short' }, 'repos.api.webhook.secret', /at least 16 characters/],
    [{ url: 'https://ci.example.com/x', secret: SECRET, events: ['task.started'] }, 'repos.api.webhook.events[0]', /task\.finished/],
    [{ url: 'https://ci.example.com/x' }, 'repos.api.webhook.secret', /is required/],
    [{ url: 'https://ci.example.com/x', secret: SECRET, follow_redirects: true }, 'repos.api.webhook.follow_redirects', /unknown key/],
  ];
  for (const [webhook, path, message] of cases) {
    const problems = problemsOf(toYaml(withWebhook(webhook)));
    assert.match(messageAt(problems, path), message, JSON.stringify(webhook));
  }
});

test('a reload that changes only the webhook applies for the next task, and never prints the secret', () => {
  const before = parse(toYaml(withWebhook({ url: 'https://ci.example.com/a', secret: SECRET })));
  const plan = planReload(before, parse(toYaml(withWebhook({ url: 'https://ci.example.com/b', secret: `${SECRET}-new` }))));
  assert.deepEqual(plan.diff.perTask, ['api']);
  assert.deepEqual(plan.diff.listenerRestart, []);
  assert.equal(plan.effective.repos.api?.webhook?.url, 'https://ci.example.com/b');
  assert.ok(!JSON.stringify(describeDiff(plan.diff)).includes(SECRET));
});
