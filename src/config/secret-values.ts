/**
 * Every secret value a loaded configuration holds (passwords, tokens, secrets, private keys), so
 * that logs and command output can remove them wherever they turn up (`registerSecretValues`).
 */
import { loginSecretValues } from '../mail-account/credentials.ts';
import type { RepoServerConfig, ServerConfig } from './types.ts';

export function secretValuesOf(config: ServerConfig): string[] {
  const values: string[] = [];
  if (config.global.dashboard.authToken) values.push(config.global.dashboard.authToken);
  for (const repo of Object.values(config.repos)) values.push(...repoSecretValues(repo));
  return values;
}

/** One repository's secret values: what a runner thread registers for the task it runs. */
export function repoSecretValues(repo: RepoServerConfig): string[] {
  const values = [...loginSecretValues(repo.email.login), ...Object.values(repo.secrets)];
  for (const m of Object.values(repo.maskedSecrets)) values.push(m.value);
  if (repo.webhook) values.push(repo.webhook.secret);
  // The whole PEM, and each base64 line of it, should one turn up alone in an error.
  for (const g of Object.values(repo.githubAppCredentials)) values.push(g.privateKey, ...pemLines(g.privateKey));
  for (const c of Object.values(repo.signingCredentials)) {
    values.push(c.accessKeyId.value, c.secretAccessKey.value);
    if (c.sessionToken) values.push(c.sessionToken.value);
  }
  return values;
}

function pemLines(pem: string): string[] {
  return pem.split(/\r?\n/).filter((l) => l.length >= 16 && !l.startsWith('-----'));
}
