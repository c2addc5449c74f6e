import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

function withSchedule(schedule: Tree): Tree {
  return setIn(validConfig(), ['repos', 'api', 'schedules', 'daily'], schedule);
}

const GOOD: Tree = { cron: '0 9 * * 1-5', timezone: 'Europe/Helsinki', prompt: 'Check the build.', deliver: { to: 'ops@example.com' } };
const AT = 'repos.api.schedules.daily';

test('a schedule with prompt, five-field cron, IANA zone and one address is accepted and built', () => {
  const config = parse(toYaml(withSchedule(GOOD)));
  const s = config.repos.api?.schedules.daily;
  assert.equal(s?.cron, '0 9 * * 1-5');
  assert.equal(s?.timezone, 'Europe/Helsinki');
  assert.equal(s?.deliverTo, 'ops@example.com');
  assert.equal(s?.subject, 'daily');
});

test('a trigger_command alone is accepted in place of a prompt', () => {
  assert.doesNotThrow(() => parse(toYaml(withSchedule({ ...GOOD, prompt: undefined, trigger_command: './check.sh' }))));
});

test('exactly one of prompt and trigger_command', () => {
  const both = problemsOf(toYaml(withSchedule({ ...GOOD, trigger_command: './check.sh' })));
  assert.match(messageAt(both, AT), /sets both prompt and trigger_command; keep one/);
  const none = problemsOf(toYaml(withSchedule({ ...GOOD, prompt: undefined })));
  assert.match(messageAt(none, AT), /needs prompt .* or trigger_command/);
});

test('bad cron expressions are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['* * * *', /must have five fields .*found 4/],
    ['0 0 * * * *', /must have five fields .*found 6/],
    ['61 * * * *', /is not a valid cron expression: .*minute/],
    ['0 25 * * *', /is not a valid cron expression: .*hour/],
    ['every day', /must have five fields/],
    ['0 0 31 2 *', /never matches a date/],
  ];
  for (const [cron, expected] of cases) {
    const problems = problemsOf(toYaml(withSchedule({ ...GOOD, cron })));
    assert.match(messageAt(problems, `${AT}.cron`), expected, cron);
  }
});

test('unknown time zones are refused and named', () => {
  for (const timezone of ['Mars/Olympus', 'Europe/Helsinki ', 'GMT+25']) {
    const problems = problemsOf(toYaml(withSchedule({ ...GOOD, timezone })));
    assert.match(messageAt(problems, `${AT}.timezone`), /is not a known IANA time zone; use a name like UTC/, timezone);
  }
});

test('deliver.to must be one bare address', () => {
  for (const to of ['a@example.com, b@example.com', 'Ops <ops@example.com>', 'not-an-address']) {
    const problems = problemsOf(toYaml(withSchedule({ ...GOOD, deliver: { to } })));
    assert.match(messageAt(problems, `${AT}.deliver.to`), /must be one bare address/, to);
  }
});
