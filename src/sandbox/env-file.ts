/**
 * How a task's variables reach its container: an env file (`--env-file`), not the environment of
 * the container CLI. The CLI reads its own environment (`LISTEN_FDS`, `CONTAINERS_CONF`,
 * `_CONTAINERS_USERNS_CONFIGURED`, `SSL_CERT_DIR`, `GOTRACEBACK`, … — a list no deny-list keeps up
 * with), and the names come from a repository's `.airut/airut.yaml`. Through a file, any name
 * reaches the container and nothing but the container.
 *
 * The file holds secrets: it is created with mode 0600 in a fresh 0700 directory of the daemon's,
 * never overwritten or followed through a link, and removed as soon as the container runs (and in
 * any case when the run ends). Its path on the command line says nothing.
 *
 * Format: one `NAME=value` per line, read literally by podman and docker. Neither can carry a line
 * break inside a value, and both read a line into a 64 KiB buffer, so such values are refused with
 * a message naming the variable (never its value).
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { AirutError } from '../errors.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Below the 64 KiB line buffer of the CLIs' env-file readers, with room for the name. */
export const MAX_ENV_VALUE_BYTES = 60 * 1024;

function invalid(message: string): AirutError {
  return new AirutError('SANDBOX_SPEC_INVALID', message);
}

/** Why `value` cannot go through an env file, or null when it can. Never quotes the value. */
export function envValueProblem(value: string): string | null {
  if (/[\r\n]/.test(value)) return 'the value spans more than one line, which an env file cannot carry';
  if (value.includes('\0')) return 'the value contains a NUL character';
  if (Buffer.byteLength(value) > MAX_ENV_VALUE_BYTES) return `the value is longer than ${MAX_ENV_VALUE_BYTES / 1024} KiB`;
  return null;
}

/** The env file's text for `env`; throws SANDBOX_SPEC_INVALID for a name or value it cannot hold. */
export function formatEnvFile(env: Readonly<Record<string, string>>): string {
  let text = '';
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw invalid(`environment variable name "${name}" is not valid`);
    const problem = envValueProblem(value);
    if (problem) throw invalid(`environment variable ${name}: ${problem}`);
    text += `${name}=${value}\n`;
  }
  return text;
}

export interface EnvFile {
  readonly path: string;
  /** Removes the file and its directory; safe to call more than once. */
  remove(): Promise<void>;
}

/**
 * `parentDir` must be ours alone: in a shared place such as /tmp another user could have made it
 * first, and one who can rename entries in it could swap our directory for a link to theirs.
 */
async function checkPrivateDir(parentDir: string): Promise<void> {
  const st = await fs.lstat(parentDir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    throw new AirutError(
      'SANDBOX_ENV_DIR_UNSAFE',
      `${parentDir} must be a directory owned by the daemon's user and writable by nobody else (it holds short-lived env files with secrets); remove it or fix its owner and mode (chmod 700)`,
    );
  }
}

/** Writes `text` to a new file in a new private directory under `parentDir` (created 0700 if missing). */
export async function writeEnvFile(parentDir: string, text: string): Promise<EnvFile> {
  await fs.mkdir(parentDir, { recursive: true, mode: 0o700 });
  await checkPrivateDir(parentDir);
  const dir = await fs.mkdtemp(path.join(parentDir, 'run-'));
  const file = path.join(dir, 'env');
  let removed: Promise<void> | null = null;
  const remove = () => (removed ??= fs.rm(dir, { recursive: true, force: true }));
  try {
    // mkdtemp makes the directory 0700; the explicit chmod guards against an unusual umask or ACL default.
    await fs.chmod(dir, 0o700);
    const fh = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600);
    try {
      await fh.writeFile(text);
    } finally {
      await fh.close();
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { path: file, remove };
}
