/**
 * Airut's credential pools and their precedence (spec/repo-config.md "Credential auto-injection"):
 * every entry becomes a container variable under its name, and when several entries share a name
 * the first in this order wins. A shared name is allowed (it lets an operator move a credential
 * from `secrets` to `masked_secrets` without deleting the old entry first); `--check` warns which
 * entry wins.
 */
import type { RepoServerConfig } from './types.ts';

export const POOL_ORDER = ['signing_credentials', 'github_app_credentials', 'masked_secrets', 'secrets'] as const;

/** Every variable name a repository's pools define, with the config path defining it, in precedence order. */
export function poolEntries(repo: RepoServerConfig): { name: string; path: string }[] {
  const at = `repos.${repo.repoId}`;
  const out: { name: string; path: string }[] = [];
  for (const [label, c] of Object.entries(repo.signingCredentials)) {
    const parts = [['access_key_id', c.accessKeyId], ['secret_access_key', c.secretAccessKey], ['session_token', c.sessionToken]] as const;
    for (const [part, entry] of parts) if (entry) out.push({ name: entry.name, path: `${at}.signing_credentials.${label}.${part}.name` });
  }
  for (const name of Object.keys(repo.githubAppCredentials)) out.push({ name, path: `${at}.github_app_credentials.${name}` });
  for (const name of Object.keys(repo.maskedSecrets)) out.push({ name, path: `${at}.masked_secrets.${name}` });
  for (const name of Object.keys(repo.secrets)) out.push({ name, path: `${at}.secrets.${name}` });
  return out;
}

/** One warning per entry another entry of the same name shadows, naming the winner. */
export function poolShadowWarnings(repo: RepoServerConfig): string[] {
  const winners = new Map<string, string>();
  const out: string[] = [];
  for (const { name, path } of poolEntries(repo)) {
    const winner = winners.get(name);
    if (winner === undefined) winners.set(name, path);
    else out.push(`${path} is not used: ${winner} defines ${name} too and wins (order: ${POOL_ORDER.join(' > ')}); remove one of them`);
  }
  return out;
}
