/**
 * The credentials of one task, from every pool of the repository's server configuration (Airut's
 * spec/repo-config.md "Credential auto-injection"). Every entry reaches the container's
 * environment under its name when its value is non-empty; when one name is in several pools the
 * first wins, in this order:
 *
 *   1. signing_credentials  (the variable names of their fields; surrogates)
 *   2. github_app_credentials  (a `ghs_` surrogate; the proxy mints the real token)
 *   3. masked_secrets  (a surrogate of the value's shape)
 *   4. secrets  (the value itself)
 *
 * Surrogates are new for every task. `.airut/airut.yaml`'s container_env is applied over the
 * result by the caller (it wins), and `!secret NAME` there reads this same map.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { buildGithubAppRules } from '../proxy/github-app-tokens.ts';
import { buildMaskRules, surrogatePool, type MaskRule } from '../proxy/masked-secrets.ts';

export interface TaskCredentials {
  /** What the proxy swaps in: GitHub App credentials, then masked secrets. */
  readonly rules: readonly MaskRule[];
  /** NAME -> value for the container (surrogates for every pool but `secrets`). */
  readonly env: Readonly<Record<string, string>>;
}

/** Pools' env maps in precedence order, merged so the first pool holding a name wins; empty values are left out. */
export function mergePools(pools: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pool of pools) {
    for (const [name, value] of Object.entries(pool)) {
      if (value !== '' && !Object.hasOwn(out, name)) out[name] = value;
    }
  }
  return out;
}

/**
 * `signingEnv` is the signing pool's surrogate env (variable name -> surrogate), made by the
 * signing_credentials module, which also owns its re-signing.
 */
export function taskCredentials(repo: RepoServerConfig, signingEnv: Readonly<Record<string, string>>, log?: Logger): TaskCredentials {
  const github = buildGithubAppRules(repo.repoId, repo.githubAppCredentials, log ? { log } : {});
  const masked = buildMaskRules(repo.maskedSecrets);
  // A name a higher pool already claimed is not swapped by the lower pool's rule either: the
  // container never sees that surrogate.
  const env = mergePools([signingEnv, surrogatePool(github), surrogatePool(masked), repo.secrets]);
  const rules = [...github, ...masked].filter((r) => env[r.name] === r.surrogate);
  return { rules, env };
}
