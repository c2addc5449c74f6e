/**
 * The sandbox side of one repository's configuration: its credential pools (what the container
 * sees only as surrogates, and what the proxy swaps in or signs with) and its container's limits
 * and capabilities. Split from build.ts so each file builds one part of the configuration.
 */
import type { RawGithubAppCredential, RawNamedValue, RawRepo, RawResourceLimits, RawServerConfig } from './raw.ts';
import { DEFAULT_CONTAINER_LIMITS, GITHUB_API_BASE_URL } from './defaults.ts';
import type { ContainerLimits, GithubAppCredential, MaskedSecret, SigningCredential } from './types.ts';

function namedValue(v: RawNamedValue): { name: string; value: string } {
  return { name: v.name, value: v.value };
}

export function buildMaskedSecrets(raw: RawRepo): Record<string, MaskedSecret> {
  const out: Record<string, MaskedSecret> = {};
  for (const [name, m] of Object.entries(raw.masked_secrets ?? {})) {
    out[name] = { value: m.value, scopes: [...m.scopes], headers: [...m.headers], allowForeignCredentials: m.allow_foreign_credentials ?? false };
  }
  return out;
}

export function buildSigningCredentials(raw: RawRepo): Record<string, SigningCredential> {
  const out: Record<string, SigningCredential> = {};
  for (const [name, c] of Object.entries(raw.signing_credentials ?? {})) {
    out[name] = {
      type: c.type,
      accessKeyId: namedValue(c.access_key_id),
      secretAccessKey: namedValue(c.secret_access_key),
      sessionToken: c.session_token ? namedValue(c.session_token) : null,
      scopes: [...c.scopes],
    };
  }
  return out;
}

function githubApp(c: RawGithubAppCredential): GithubAppCredential {
  return {
    appId: String(c.app_id).trim(),
    privateKey: c.private_key,
    installationId: String(c.installation_id).trim(),
    scopes: [...c.scopes],
    allowForeignCredentials: c.allow_foreign_credentials ?? false,
    baseUrl: (c.base_url ?? GITHUB_API_BASE_URL).replace(/\/+$/, ''),
    permissions: c.permissions ? { ...c.permissions } : null,
    repositories: c.repositories ? [...c.repositories] : null,
  };
}

export function buildGithubAppCredentials(raw: RawRepo): Record<string, GithubAppCredential> {
  return Object.fromEntries(Object.entries(raw.github_app_credentials ?? {}).map(([name, c]) => [name, githubApp(c)]));
}

/** Key by key: the repository's value, else the top level's, else the default. */
export function buildContainerLimits(repo: RawResourceLimits | null | undefined, top: RawResourceLimits | null | undefined): ContainerLimits {
  const pick = <K extends keyof RawResourceLimits>(key: K): RawResourceLimits[K] | undefined =>
    repo?.[key] !== undefined ? repo[key] : top?.[key];
  return {
    timeoutSeconds: pick('timeout') ?? DEFAULT_CONTAINER_LIMITS.timeoutSeconds,
    memory: pick('memory') ?? DEFAULT_CONTAINER_LIMITS.memory,
    cpus: pick('cpus') ?? DEFAULT_CONTAINER_LIMITS.cpus,
    pidsLimit: pick('pids_limit') ?? DEFAULT_CONTAINER_LIMITS.pidsLimit,
  };
}

/** The repository's list replaces the top level's (a list is not merged item by item). */
export function buildCapabilities(raw: RawRepo, top: RawServerConfig): string[] {
  return [...(raw.capabilities ?? top.capabilities ?? [])];
}
