/**
 * `airut token create|list|revoke`: the API tokens that scope what a script or a team sees on the
 * dashboard (docs/dashboard.md, "API tokens"). Writes the daemon's own SQLite file directly, so it
 * works whether the daemon runs or not (WAL: the daemon reads the new row on the next request).
 */
import { AirutError } from '../errors.ts';
import { createApiToken, listApiTokens, revokeApiToken, TOKEN_RIGHTS, type ApiToken, type TokenRights } from '../store/api-tokens.ts';
import { openDatabase, type Db } from '../store/database.ts';
import type { ServerConfig } from '../config/types.ts';
import { CliUsageError, type ParsedArgs } from './args.ts';
import type { CliIo, Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, loadConfigOf } from './config-arg.ts';

const USAGE = `usage: airut token create --name NAME --repos ID[,ID…] --rights read|submit [--config PATH]
       airut token list [--config PATH]
       airut token revoke NAME [--config PATH]

API tokens for the dashboard and its JSON API (Authorization: Bearer <token>). A token sees only
the repositories it was created for; "read" may look, "submit" may also create tasks, continue
conversations and stop tasks. The token is printed once, by create, and never again: only its
SHA-256 is stored. A revoked token is refused at once, also by a running daemon.

  --name NAME     a name for the token (letters, digits, . _ -), unique, shown in logs
  --repos IDS     comma-separated repository ids from the configuration
  --rights R      read or submit
${CONFIG_HELP}`;

/** Names appear in logs and in `token list`: keep them plain. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function openStore(config: ServerConfig): Db {
  return openDatabase(config.global.databasePath, { migrate: true, ownPaths: Object.values(config.repos).map((r) => r.storageDir) });
}

function withStore<T>(config: ServerConfig, fn: (db: Db) => T): T {
  const db = openStore(config);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function stringOption(args: ParsedArgs, name: string): string {
  const v = args.values[name];
  if (typeof v !== 'string') throw new CliUsageError(`token create needs --${name}`, USAGE);
  return v;
}

/** The create options, checked against the configuration; every mistake says what would be right. */
function readCreateSpec(args: ParsedArgs, config: ServerConfig): { name: string; repos: string[]; rights: TokenRights } {
  const name = stringOption(args, 'name');
  if (!NAME_PATTERN.test(name)) {
    throw new AirutError('API_TOKEN_INVALID', `--name must be 1 to 64 letters, digits, ".", "_" or "-" (starting with a letter or digit), not "${name}"`);
  }
  const rights = stringOption(args, 'rights');
  if (!TOKEN_RIGHTS.includes(rights as TokenRights)) {
    throw new AirutError('API_TOKEN_INVALID', `--rights must be read or submit, not "${rights}"`);
  }
  const repos = [...new Set(stringOption(args, 'repos').split(',').map((r) => r.trim()).filter(Boolean))];
  const known = Object.keys(config.repos);
  const unknown = repos.filter((r) => !known.includes(r));
  if (repos.length === 0 || unknown.length) {
    const what = repos.length === 0 ? '--repos names no repository' : `unknown repositor${unknown.length === 1 ? 'y' : 'ies'}: ${unknown.join(', ')}`;
    throw new AirutError('API_TOKEN_INVALID', `${what}; the configuration has: ${known.join(', ') || '(none)'}`);
  }
  return { name, repos, rights: rights as TokenRights };
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatTokenList(tokens: readonly ApiToken[]): string {
  if (tokens.length === 0) return 'no API tokens; create one with `airut token create`\n';
  const rows = [['NAME', 'REPOS', 'RIGHTS', 'CREATED', 'LAST USED', 'REVOKED']].concat(
    tokens.map((t) => [t.name, t.repos.join(','), t.rights, when(t.createdAt), when(t.lastUsedAt), when(t.revokedAt)]),
  );
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function create(args: ParsedArgs, io: CliIo, config: ServerConfig): number {
  const spec = readCreateSpec(args, config);
  const { token } = withStore(config, (db) => createApiToken(db, spec, Date.now()));
  io.stdout.write(
    `${token}\n` +
      `created token "${spec.name}" (${spec.rights}) for ${spec.repos.join(', ')}.\n` +
      'Keep it now: it is not shown again (only its hash is stored). Revoke it with `airut token revoke ' + spec.name + '`.\n',
  );
  return 0;
}

function run(args: ParsedArgs, io: CliIo): number {
  const [action, name] = args.positionals;
  const expects = action === 'revoke' ? 1 : 0;
  if (action === undefined || !['create', 'list', 'revoke'].includes(action)) {
    throw new CliUsageError(action === undefined ? 'token needs create, list or revoke' : `unknown token action "${action}"`, USAGE);
  }
  if (args.positionals.length - 1 !== expects) {
    throw new CliUsageError(expects ? 'token revoke needs the token\'s name' : `unexpected argument: ${name}`, USAGE);
  }
  if (action !== 'create') {
    for (const o of ['name', 'repos', 'rights']) if (args.values[o] !== undefined) throw new CliUsageError(`--${o} is only for token create`, USAGE);
  }
  const config = loadConfigOf(args.values, io);
  if (action === 'create') return create(args, io, config);
  if (action === 'list') {
    io.stdout.write(formatTokenList(withStore(config, listApiTokens)));
    return 0;
  }
  const revoked = withStore(config, (db) => revokeApiToken(db, name!, Date.now()));
  io.stdout.write(`token "${revoked.name}" is revoked (since ${when(revoked.revokedAt)}); requests presenting it are refused\n`);
  return 0;
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'create, list or revoke API tokens scoped to repositories',
  usage: USAGE,
  options: { ...CONFIG_OPTION, name: { type: 'string' }, repos: { type: 'string' }, rights: { type: 'string' } },
  maxPositionals: 2,
  run: async (args, io) => run(args, io),
};
