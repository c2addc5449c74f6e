import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigSummary } from '../../src/config/summary.ts';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig } from './fixtures/configs.ts';

const withCompanions = (companions: unknown) => toYaml(setIn(validConfig(), ['repos', 'api', 'companions'], companions));

test('companions naming other repositories are accepted and built; none is an empty map', () => {
  const config = parse(withCompanions({ web: 'read' }));
  assert.deepEqual(config.repos.api?.companions, { web: 'read' });
  assert.deepEqual(config.repos.web?.companions, {});
});

test('a companion that is not a configured repository is refused, with the near miss named', () => {
  const problems = problemsOf(withCompanions({ wbe: 'write' }));
  assert.match(messageAt(problems, 'repos.api.companions.wbe'), /is not a repository of this configuration.*did you mean web\?/);
});

test('a repository cannot be its own companion', () => {
  const problems = problemsOf(withCompanions({ api: 'read' }));
  assert.match(messageAt(problems, 'repos.api.companions.api'), /cannot be its own companion/);
});

test('an access other than read or write is refused by the schema', () => {
  const problems = problemsOf(withCompanions({ web: 'admin' }));
  assert.ok(problems.some((p) => p.path.startsWith('repos.api.companions')), JSON.stringify(problems));
});

test('path tricks as a companion name are not repositories', () => {
  const problems = problemsOf(withCompanions({ '../web': 'read' }));
  assert.ok(problems.some((p) => /is not a repository of this configuration/.test(p.message)), JSON.stringify(problems));
});

test("--check lists a repository's companions in its summary, and nothing for one without", () => {
  const summary = formatConfigSummary(parse(withCompanions({ web: 'read' })));
  assert.match(summary, /^ {4}companions: web \(read\)$/m);
  assert.equal(summary.match(/companions:/g)?.length, 1);
});
