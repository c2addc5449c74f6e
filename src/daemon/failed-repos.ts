/**
 * Repositories a resilient start (`--resilient`) left out because their part of the configuration
 * is invalid: how they show on /health, and how a reload loads the file so a fix starts them.
 */
import { ConfigError } from '../errors.ts';
import { loadServerConfigPartial, type FailedRepo, type PartialConfig } from '../config/partial-load.ts';
import type { ServerConfig } from '../config/types.ts';

export type { FailedRepo } from '../config/partial-load.ts';

/** One line per problem, as the log and /health show them. */
export function problemLines(failed: FailedRepo): string[] {
  return failed.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
}

/** Each failed repository as a /health problem (health is degraded while any is listed). */
export function failedRepoHealth(failed: readonly FailedRepo[]): Array<{ component: string; message: string }> {
  return failed.map((f) => ({
    component: `repo:${f.id}`,
    message: `repository ${f.id} failed to start: ${problemLines(f).join('; ')}; fix the configuration (or the .env beside it), then reload`,
  }));
}

/**
 * Loads the file for a reload. Strict unless `resilient` (`--resilient`) or the new file sets
 * `execution.resilient_start`; even then, a repository that runs now
 * and became invalid refuses the whole file (a reload never stops a working repository because
 * of a mistake in the file), so only repositories that are not running may stay failed.
 */
export function loadForReload(file: string, env: NodeJS.ProcessEnv, resilient: boolean, running: ServerConfig): PartialConfig {
  const loaded = loadServerConfigPartial(file, env);
  // The key in the new file counts: setting it and fixing nothing else is a valid reload.
  if (loaded.error && !resilient && !loaded.config.global.resilientStart) throw loaded.error;
  const broken = loaded.failed.filter((f) => Object.hasOwn(running.repos, f.id));
  if (broken.length > 0) throw new ConfigError(broken.flatMap((f) => f.problems), file);
  return loaded;
}
