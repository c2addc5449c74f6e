/**
 * `repos.<id>.companions`: each key must name another repository of this configuration (a task's
 * companion is cloned from that repository's own mirror and authorized by its own senders), never
 * the repository itself (it is the primary, at /workspace already). The values (`read`/`write`)
 * are the schema's to check.
 */
import type { ConfigProblem } from '../errors.ts';
import { childPath, isRecord } from './object-path.ts';
import { closestKey } from './suggest.ts';

export function checkCompanions(repos: Record<string, unknown>, problems: ConfigProblem[]): void {
  const ids = Object.keys(repos);
  for (const [id, repo] of Object.entries(repos)) {
    if (!isRecord(repo) || !isRecord(repo.companions)) continue;
    const path = childPath(childPath('repos', id), 'companions');
    for (const name of Object.keys(repo.companions)) {
      if (name === id) {
        problems.push({ path: childPath(path, name), message: `a repository cannot be its own companion: ${id} is the primary of its tasks, at /workspace` });
      } else if (!Object.hasOwn(repos, name)) {
        const hint = closestKey(name, ids.filter((other) => other !== id));
        problems.push({
          path: childPath(path, name),
          message: `is not a repository of this configuration (companions must be other entries under repos:)${hint ? `; did you mean ${hint}?` : ''}`,
        });
      }
    }
  }
}
