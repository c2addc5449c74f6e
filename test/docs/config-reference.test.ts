/** docs/config-reference.md is generated from the JSON Schemas and must be regenerated with them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REFERENCE_PATH, renderConfigReference, type Schema } from '../../scripts/gen-config-reference.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { PROJECT_ROOT } from '../harness/daemon-process.ts';

function schema(name: string): Schema {
  return JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'schemas', name), 'utf8')) as Schema;
}

test('the committed docs/config-reference.md is what the schemas generate (else: npm run docs:config)', () => {
  const committed = fs.readFileSync(REFERENCE_PATH, 'utf8');
  assert.ok(committed === renderConfigReference(), 'docs/config-reference.md is out of date with schemas/*.json: run npm run docs:config and commit the result');
});

test('every key of both schemas has a row with its type, default and description', () => {
  const text = renderConfigReference();
  const row = (key: string) => text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  assert.match(row('execution.shutdown_timeout')!, new RegExp(`integer, 0–86400 \\| \`${DEFAULTS.shutdownTimeoutSeconds}\` \\| Seconds running tasks`));
  assert.match(row('container_command')!, /one of `podman`, `docker` \| `podman` \|/);
  assert.match(row('repos.<id>.email.username')!, /string, \*\*required\*\*/);
  assert.match(row('repos.<id>.email.password')!, /Required unless microsoft_oauth2 or oauth2 is set/);
  assert.match(row('repos.<id>.signing_credentials.<NAME>.session_token.value')!, /string, \*\*required\*\*/);
  assert.match(row('repos.<id>.authorized_senders')!, /Addresses or \\\*@domain patterns/);
  assert.match(row('container_env.<NAME>')!, /string or number or boolean \| +\| The name must match `\^\[A-Za-z_\]\[A-Za-z0-9_\]\*\$`/);
  assert.match(row('default_model')!, /at most 100 characters/);

  // Every key path the schemas define is on the page.
  const paths = (s: Schema, node: Schema, prefix: string, out: string[]): string[] => {
    const n = node.$ref ? { ...s.definitions![node.$ref.split('/').pop()!]!, ...node } : node;
    for (const [k, child] of Object.entries(n.properties ?? {})) {
      const full = prefix ? `${prefix}.${k}` : k;
      out.push(full);
      const c = child.$ref ? { ...s.definitions![child.$ref.split('/').pop()!]!, ...child } : child;
      paths(s, c, full, out);
      if (c.additionalProperties && typeof c.additionalProperties === 'object') paths(s, c.additionalProperties, `${full}.${k === 'repos' ? '<id>' : '<NAME>'}`, out);
    }
    return out;
  };
  const server = schema('server-config.schema.json');
  const repo = schema('repo-config.schema.json');
  for (const p of [...paths(server, server, '', []), ...paths(repo, repo, '', [])]) assert.ok(row(p), `no row for ${p}`);
});

test('a change to the schema changes the page, and --check notices a stale file', () => {
  const server = schema('server-config.schema.json');
  const changed: Schema = {
    ...server,
    properties: { ...server.properties, log_level: { description: 'How much to log.', type: 'string', enum: ['info', 'debug'], default: 'info' } },
  };
  const text = renderConfigReference(changed);
  assert.notEqual(text, renderConfigReference());
  assert.match(text, /\| `log_level` \| one of `info`, `debug` \| `info` \| How much to log\. \|/);

  const ok = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-config-reference.ts', '--check'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
});
