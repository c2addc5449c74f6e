/**
 * A repository's network allowlist from its mirror's default branch: the primary's, and each
 * companion's (their union is the task's). A missing or broken file stops the task with an
 * explanation for the sender.
 */
import { ALLOWLIST_PATH, parseAllowlist, type Allowlist } from '../proxy/allowlist.ts';
import type { RepoMirror } from './task-context.ts';
import { UserFacingError } from './user-facing-error.ts';

/** `which`: a companion repository's name, for the sender's reply ("The repository backend has no …"). */
export async function readAllowlist(mirror: RepoMirror, which?: string): Promise<Allowlist> {
  const bytes = await mirror.readFile(ALLOWLIST_PATH);
  const repository = which === undefined ? 'The repository' : `The repository ${which}`;
  if (bytes === null) {
    throw new UserFacingError(
      'ALLOWLIST_MISSING',
      `${repository} has no \`${ALLOWLIST_PATH}\` on its default branch. With the network sandbox on, that would leave the task unable to reach anything, not even the Claude API, so it did not run. Add the file (see docs/repository-setup.md), or turn the sandbox off with \`network: {sandbox_enabled: false}\` in \`.airut/airut.yaml\`.`,
    );
  }
  try {
    return parseAllowlist(bytes.toString('utf8'));
  } catch (err) {
    throw new UserFacingError('ALLOWLIST_INVALID', `${which === undefined ? 'The' : `${which}'s`} network allowlist on the default branch is invalid, so the task did not run: ${(err as Error).message}`, { cause: err });
  }
}
