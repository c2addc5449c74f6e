/**
 * Where `airut submit` and `airut logs` send their requests, and with which token.
 *
 * The address: `--url`, else `$AIRUT_URL`, else the configuration's dashboard host and port (the
 * way `airut status` reaches it). The token: `--token-file`, else `$AIRUT_TOKEN`, else, when the
 * configuration was read for the address, its dashboard.auth_token. Never a command-line value:
 * every user of the machine can read another's arguments in `ps`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliUsageError, type ParsedArgs } from './args.ts';
import type { CliIo } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, loadConfigOf } from './config-arg.ts';
import { dashboardUrl } from './status-sources.ts';
import type { ApiTarget } from './api-client.ts';

export const TARGET_OPTIONS = { ...CONFIG_OPTION, url: { type: 'string' }, 'token-file': { type: 'string' } } as const;

export const TARGET_HELP = `  --url URL        the dashboard (default: $AIRUT_URL, else the configuration's dashboard host and port)
  --token-file F   read the token from this file (default: $AIRUT_TOKEN, else the configuration's
                   dashboard.auth_token when the address came from it). Never give it as an argument.
${CONFIG_HELP}`;

function parseBaseUrl(raw: string, from: string, usage: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliUsageError(`${from} is not a URL: ${JSON.stringify(raw)} (e.g. http://127.0.0.1:5200)`, usage);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliUsageError(`${from} must be an http:// or https:// URL`, usage);
  if (u.username || u.password) throw new CliUsageError(`${from} must not carry a user or password; the token goes in AIRUT_TOKEN`, usage);
  return (u.origin + u.pathname).replace(/\/+$/, '');
}

function readTokenFile(file: string, io: CliIo, usage: string): string {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new CliUsageError(`--token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, usage);
  }
  const token = text.trim();
  if (!token || /\s/.test(token)) throw new CliUsageError(`--token-file ${file} must hold the token alone, on one line`, usage);
  return token;
}

export function resolveApiTarget(values: ParsedArgs['values'], io: CliIo, usage: string): ApiTarget {
  const explicit = typeof values.url === 'string' ? { raw: values.url, from: '--url' } : io.env.AIRUT_URL ? { raw: io.env.AIRUT_URL, from: 'AIRUT_URL' } : null;
  let configToken: string | null = null;
  let baseUrl: string;
  if (explicit) {
    baseUrl = parseBaseUrl(explicit.raw, explicit.from, usage);
  } else {
    const config = loadConfigOf(values, io);
    if (!config.global.dashboard.enabled) {
      throw new CliUsageError('the configuration has the dashboard off (dashboard.enabled: false); pass --url or set AIRUT_URL', usage);
    }
    baseUrl = dashboardUrl(config);
    configToken = config.global.dashboard.authToken;
  }
  const token =
    typeof values['token-file'] === 'string' ? readTokenFile(values['token-file'], io, usage) : io.env.AIRUT_TOKEN?.trim() || configToken;
  return { baseUrl, token };
}
