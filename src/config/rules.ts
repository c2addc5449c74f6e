/**
 * Rules the JSON schema cannot express: relations between repositories (no shared inbox, no
 * shared storage), and the meaning of individual values (repository ids, sender patterns,
 * addresses, secret names, when plain-text mail connections are allowed).
 *
 * These run even when the schema found problems, so that one run reports everything. They therefore
 * read the data defensively: a value of the wrong type is skipped here, since the schema has
 * already reported it.
 */
import type { ConfigProblem } from '../errors.ts';
import { parseFromHeader, senderPatternProblem } from './address.ts';
import { normalizeBaseUrl } from './dashboard-url.ts';
import { DEFAULTS } from './defaults.ts';
import { expandPath, isSameOrInside } from './fs-path.ts';
import { defaultSecurityForPort, isHost, isLoopbackHost } from './network.ts';
import { childPath, isRecord } from './object-path.ts';
import { checkKubernetesRules } from './rules-kubernetes.ts';
import { checkCompanions } from './rules-companions.ts';
import { checkMailLogin } from './rules-mail-login.ts';
import { checkSchedules } from './rules-schedule.ts';
import { checkDashboardHosts } from './rules-dashboard-hosts.ts';
import { checkWebhook } from './rules-webhook.ts';

/** Safe as a directory name, a container name part and a label value, with no escaping. */
export const REPO_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** Secret names become environment variables inside the container. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;
/**
 * The dashboard token guards every task, every mail and the stop button, and is presented over
 * the network: 32 characters of `openssl rand -hex 32` are 128 bits, out of reach of guessing.
 */
export const MIN_AUTH_TOKEN_LENGTH = 32;
/** A model name is written into an email sub-address (`bot+name@…`), so it must be one word. */
const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const int = (value: unknown): number | undefined => (Number.isInteger(value) ? (value as number) : undefined);

export function checkRules(data: unknown, configDir: string): ConfigProblem[] {
  if (!isRecord(data)) return [];
  const problems: ConfigProblem[] = [];
  checkDashboard(data.dashboard, problems);
  checkDashboardHosts(data.dashboard, data.repos, problems);
  checkClaude(data.claude, problems);
  checkKubernetesRules(data, problems);

  const repos = data.repos;
  if (repos === undefined || repos === null || (isRecord(repos) && Object.keys(repos).length === 0)) {
    problems.push({ path: 'repos', message: 'must define at least one repository' });
    return problems;
  }
  if (!isRecord(repos)) return problems;

  for (const [id, repo] of Object.entries(repos)) {
    const path = childPath('repos', id);
    if (!REPO_ID_PATTERN.test(id)) {
      problems.push({
        path,
        message:
          `repository id ${JSON.stringify(id)} is not allowed: use 1 to 40 lowercase letters, digits, - and _, ` +
          'starting with a letter or digit (the id is used in paths, container names and labels)',
      });
    }
    if (isRecord(repo)) checkRepo(repo, path, problems);
  }
  checkCompanions(repos, problems);
  checkInboxesAreUnique(repos, problems);
  checkStorageDirsAreSeparate(repos, configDir, problems);
  return problems;
}

function checkHost(value: unknown, path: string, portKey: string, problems: ConfigProblem[]): void {
  const host = str(value);
  if (host === undefined || host === '' || isHost(host)) return;
  problems.push({ path, message: `must be a host name or IP address only, without scheme, port or path (the port goes in ${portKey})` });
}

function checkDashboard(dashboard: unknown, problems: ConfigProblem[]): void {
  if (!isRecord(dashboard)) return;
  checkHost(dashboard.host, 'dashboard.host', 'dashboard.port', problems);
  const baseUrl = str(dashboard.base_url);
  if (baseUrl !== undefined && baseUrl !== '' && normalizeBaseUrl(baseUrl) === null) {
    problems.push({ path: 'dashboard.base_url', message: 'must be an http(s) URL or a host name, like https://dashboard.example.com' });
  }
  const token = str(dashboard.auth_token);
  // Never quote the value: this message is printed and logged.
  if (token !== undefined && token !== '' && token.length < MIN_AUTH_TOKEN_LENGTH) {
    problems.push({
      path: 'dashboard.auth_token',
      message:
        `is ${token.length} characters long; it must have at least ${MIN_AUTH_TOKEN_LENGTH}, as it is all that stands between ` +
        'the network and every task. Make one with `openssl rand -hex 32` and pass it with !env',
    });
  }
}

function checkClaude(claude: unknown, problems: ConfigProblem[]): void {
  if (!isRecord(claude) || !Array.isArray(claude.allowed_models)) return;
  claude.allowed_models.forEach((model, i) => {
    if (typeof model === 'string' && model !== '' && !MODEL_NAME_PATTERN.test(model)) {
      problems.push({
        path: childPath('claude.allowed_models', i),
        message: 'must be a model name of letters, digits, ".", "-" and "_" (it is selected by an email sub-address)',
      });
    }
  });
}

/** A directory inside the repository: the schema keeps to plain characters; `..` segments would leave it. */
function checkContainerPath(value: unknown, where: string, problems: ConfigProblem[]): void {
  const dir = str(value);
  if (dir === undefined) return;
  if (dir.split('/').some((segment) => segment === '..' || segment === '.') || dir.includes('//')) {
    problems.push({ path: where, message: `${JSON.stringify(dir)} must be a directory inside the repository, such as .airut/container or .devcontainer, without . or .. segments` });
  }
}

function checkRepo(repo: Record<string, unknown>, path: string, problems: ConfigProblem[]): void {
  const email = repo.email;
  if (isRecord(email)) {
    const emailPath = childPath(path, 'email');
    const from = str(email.from);
    if (from !== undefined && from !== '') {
      const parsed = parseFromHeader(from);
      if ('problem' in parsed) problems.push({ path: childPath(emailPath, 'from'), message: parsed.problem });
    }
    checkHost(email.imap_server, childPath(emailPath, 'imap_server'), 'imap_port', problems);
    checkHost(email.smtp_server, childPath(emailPath, 'smtp_server'), 'smtp_port', problems);
    checkSecurity(email, emailPath, 'imap', DEFAULTS.imapPort, problems);
    checkSecurity(email, emailPath, 'smtp', DEFAULTS.smtpPort, problems);
    checkMailLogin(email, emailPath, problems);
  }

  if (Array.isArray(repo.authorized_senders)) {
    repo.authorized_senders.forEach((entry, i) => {
      if (typeof entry !== 'string' || entry === '') return;
      const problem = senderPatternProblem(entry);
      if (problem) problems.push({ path: childPath(childPath(path, 'authorized_senders'), i), message: problem });
    });
  }

  const authserv = str(repo.trusted_authserv_id);
  if (authserv !== undefined && authserv !== '' && /\s/.test(authserv)) {
    problems.push({
      path: childPath(path, 'trusted_authserv_id'),
      message: 'must be a single word, the authserv-id your mail server writes first in Authentication-Results (often its host name)',
    });
  }

  checkSecretNames(repo, path, problems);
  checkSchedules(repo, path, problems);
  checkWebhook(repo, path, problems);
  checkContainerPath(repo.container_path, childPath(path, 'container_path'), problems);
}

function checkSecurity(
  email: Record<string, unknown>,
  emailPath: string,
  protocol: 'imap' | 'smtp',
  defaultPort: number,
  problems: ConfigProblem[],
): void {
  const host = str(email[`${protocol}_server`]);
  const port = int(email[`${protocol}_port`]) ?? defaultPort;
  const security = str(email[`${protocol}_security`]) ?? defaultSecurityForPort(port);
  if (security !== 'none' || host === undefined || host === '' || isLoopbackHost(host)) return;
  problems.push({
    path: childPath(emailPath, `${protocol}_security`),
    message:
      `none (no encryption) is only allowed when ${protocol}_server is a loopback address ` +
      `(127.0.0.0/8, ::1 or localhost), and ${host} is not; the password and every message would cross ` +
      'the network in plain text. Use tls or starttls',
  });
}

/**
 * Every name that becomes an environment variable in the container must look like one. A name in
 * two entries is not an error: Airut's pool precedence picks the winner, and `--check` warns
 * (credential-pools.ts).
 */
function checkSecretNames(repo: Record<string, unknown>, path: string, problems: ConfigProblem[]): void {
  const rule = 'must be an environment variable name: capital letters, digits and _, not starting with a digit';
  const nameProblem = (name: string, where: string): void => {
    if (!SECRET_NAME_PATTERN.test(name)) problems.push({ path: where, message: `${JSON.stringify(name)} ${rule}` });
  };

  for (const section of ['secrets', 'masked_secrets', 'github_app_credentials'] as const) {
    const map = repo[section];
    if (!isRecord(map)) continue;
    for (const name of Object.keys(map)) nameProblem(name, childPath(childPath(path, section), name));
  }
  const signing = repo.signing_credentials;
  if (!isRecord(signing)) return;
  for (const [label, credential] of Object.entries(signing)) {
    const credPath = childPath(childPath(path, 'signing_credentials'), label);
    // The label only names the credential; the container sees the inner `name`s.
    nameProblem(label, credPath);
    if (!isRecord(credential)) continue;
    for (const part of ['access_key_id', 'secret_access_key', 'session_token'] as const) {
      const entry = credential[part];
      const name = isRecord(entry) ? str(entry.name) : undefined;
      if (name !== undefined && name !== '') nameProblem(name, childPath(childPath(credPath, part), 'name'));
    }
  }
}

/**
 * Two repos reading one inbox would share a task queue, and each would act on the other's mail.
 * Host names are case-insensitive by definition; usernames are compared case-insensitively too,
 * because mail servers almost always treat logins that way, and a near-duplicate is far more
 * likely to be a mistake than two distinct accounts differing only in case.
 */
function checkInboxesAreUnique(repos: Record<string, unknown>, problems: ConfigProblem[]): void {
  const owners = new Map<string, string>();
  for (const [id, repo] of Object.entries(repos)) {
    if (!isRecord(repo) || !isRecord(repo.email)) continue;
    const host = str(repo.email.imap_server);
    const user = str(repo.email.username);
    if (!host || !user) continue;
    const key = `${host.trim().toLowerCase()}\u0000${user.trim().toLowerCase()}`;
    const first = owners.get(key);
    if (first === undefined) {
      owners.set(key, id);
      continue;
    }
    problems.push({
      path: childPath(childPath('repos', id), 'email'),
      message:
        `uses the same inbox as ${childPath('repos', first)} (username ${JSON.stringify(user)} on ${host}); ` +
        'each repository needs its own inbox, or both would take each other\'s tasks',
    });
  }
}

/** Storage holds a repo's mirror, workspaces and Claude sessions; sharing it breaks isolation. */
function checkStorageDirsAreSeparate(repos: Record<string, unknown>, configDir: string, problems: ConfigProblem[]): void {
  const dirs: { id: string; dir: string }[] = [];
  for (const [id, repo] of Object.entries(repos)) {
    const value = isRecord(repo) ? str(repo.storage_dir) : undefined;
    if (!value) continue;
    const dir = expandPath(value, configDir);
    const other = dirs.find((d) => isSameOrInside(dir, d.dir) || isSameOrInside(d.dir, dir));
    if (other) {
      const otherPath = childPath(childPath('repos', other.id), 'storage_dir');
      const how =
        dir === other.dir
          ? `is the same directory as ${otherPath} (${dir})`
          : isSameOrInside(dir, other.dir)
            ? `(${dir}) lies inside ${otherPath} (${other.dir})`
            : `(${dir}) contains ${otherPath} (${other.dir})`;
      problems.push({ path: childPath(childPath('repos', id), 'storage_dir'), message: `${how}; each repository needs a directory of its own` });
    }
    dirs.push({ id, dir });
  }
}
