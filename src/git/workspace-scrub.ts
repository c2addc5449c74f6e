/**
 * Takes credentials out of a workspace's `.git/config` (see scrubGitConfigText).
 *
 * The workspace belongs to the agent, which may have replaced `.git` or `.git/config` by a symbolic
 * link to a host file. So git is not run there (a hostile config can make git run commands), the
 * file is opened without following links, and the new content replaces it by rename — which swaps
 * the directory entry and never writes through a link. The caller runs this between tasks, while
 * no container of the conversation runs.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { AirutError } from '../errors.ts';
import { scrubGitConfigText } from './url.ts';

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
/** A workspace config is a few KB; anything far larger is not git's and is left alone. */
const MAX_CONFIG_BYTES = 1024 * 1024;

function isErrno(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException | null)?.code ?? '');
}

/** Reads `file` if it is a regular file reached without a symlink; null otherwise. */
async function readPlainFile(dir: string, name: string): Promise<string | null> {
  const st = await fs.lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return null;
  const fh = await fs.open(path.join(dir, name), fsc.O_RDONLY | O_NOFOLLOW | (fsc.O_NONBLOCK ?? 0)).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT', 'ELOOP', 'ENOTDIR', 'EISDIR')) return null;
    throw e;
  });
  if (!fh) return null;
  try {
    const fst = await fh.stat();
    if (!fst.isFile() || fst.size > MAX_CONFIG_BYTES) return null;
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** Returns true when `<workspace>/.git/config` held a credential and was rewritten without it. */
export async function scrubWorkspaceConfig(workspace: string, secrets: readonly string[]): Promise<boolean> {
  const gitDir = path.join(workspace, '.git');
  const text = await readPlainFile(gitDir, 'config');
  if (text === null) return false;
  const clean = scrubGitConfigText(text, secrets);
  if (clean === text) return false;
  const file = path.join(gitDir, 'config');
  const tmp = path.join(gitDir, `config.airut-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o644);
    try {
      await fh.writeFile(clean);
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new AirutError('GIT_SCRUB_FAILED', `could not remove credentials from ${file}: ${(e as Error).message}`, { cause: e });
  }
  return true;
}
