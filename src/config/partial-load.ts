/**
 * Resilient start (`--resilient`): a configuration whose only problems lie inside some
 * `repos.<id>` is loaded without those repositories, which are kept aside with their problems,
 * so the others can run. A problem outside every `repos.<id>` still refuses the whole file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { loadServerConfig, parseServerConfig } from './load.ts';
import { repoIdOfPath } from './repo-path.ts';
import type { ServerConfig } from './types.ts';


/** A repository left out of a resilient start, with why. */
export interface FailedRepo {
  readonly id: string;
  readonly problems: readonly ConfigProblem[];
}

export interface PartialConfig {
  readonly config: ServerConfig;
  readonly failed: readonly FailedRepo[];
  /** The error of the whole file when `failed` is not empty: what a strict start reports. */
  readonly error: ConfigError | null;
}

/** Whether repositories may be left out: `--resilient` on the command line, or `execution.resilient_start: true` in the file. */
export function isResilient(argv: readonly string[], config: ServerConfig): boolean {
  return argv.includes('--resilient') || config.global.resilientStart;
}

/** Splits problems into those of no repository (they refuse the file) and those of each repository. */
export function splitRepoProblems(problems: readonly ConfigProblem[]): { global: ConfigProblem[]; byRepo: Map<string, ConfigProblem[]> } {
  const global: ConfigProblem[] = [];
  const byRepo = new Map<string, ConfigProblem[]>();
  for (const p of problems) {
    const id = repoIdOfPath(p.path);
    if (id === undefined) global.push(p);
    else byRepo.set(id, [...(byRepo.get(id) ?? []), p]);
  }
  return { global, byRepo };
}

/**
 * Loads `configPath`, leaving out the repositories with problems. Dropping a repository can
 * settle a problem another one had with it (two repositories on one inbox: the second is
 * reported), so the file is checked again until it passes; at most once per repository.
 * Throws the ConfigError of the whole file when a problem lies outside `repos.<id>` (or no
 * repository is left), so the operator sees every problem, as without the flag.
 */
export function loadServerConfigPartial(configPath: string, env: NodeJS.ProcessEnv = process.env): PartialConfig {
  try {
    return { config: loadServerConfig(configPath, env), failed: [], error: null };
  } catch (err) {
    if (!(err instanceof ConfigError) || !onlyRepoProblems(err.problems)) throw err;
    const source = path.resolve(configPath);
    // The file was just read: a read failure now is a race with an edit, refused as the whole file.
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch {
      throw err;
    }
    return loadWithout(text, source, env, err);
  }
}

function onlyRepoProblems(problems: readonly ConfigProblem[]): boolean {
  const { global, byRepo } = splitRepoProblems(problems);
  return global.length === 0 && byRepo.size > 0;
}

function loadWithout(text: string, source: string, env: NodeJS.ProcessEnv, whole: ConfigError): PartialConfig {
  const failed = new Map<string, ConfigProblem[]>();
  let problems = whole.problems;
  for (;;) {
    if (!onlyRepoProblems(problems)) throw whole;
    const { byRepo } = splitRepoProblems(problems);
    for (const [id, list] of byRepo) failed.set(id, [...(failed.get(id) ?? []), ...list]);
    try {
      const config = parseServerConfig(text, source, env, { leaveOut: new Set(failed.keys()) });
      return { config, failed: [...failed].map(([id, list]) => ({ id, problems: list })), error: whole };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
  }
}
