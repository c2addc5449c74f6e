/**
 * Where the kept copies of a task's files live, relative to the repository's storage directory:
 *
 *   conversations/<conversation id>/task-files/<task id>/<32 random hex digits>
 *
 * Inside the conversation's directory, so the GC that deletes the conversation deletes them too;
 * beside inbox/ and outbox/, not in them, because the conversation's root is never mounted into the
 * container (only workspace/, claude/, inbox/, outbox/, storage/ and gitconfig are): the agent can
 * neither see nor change a kept copy. The file name is random, never the name the file was sent
 * under: that one is shown, never used as a path.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** The only shape a kept path recorded in task_files can have. */
const KEPT_PATH = /^conversations\/[0-9a-f]{8}\/task-files\/[1-9][0-9]{0,15}\/[0-9a-f]{32}$/;

/** A fresh relative path for one kept file of `taskId`. */
export function newKeptPath(conversationId: string, taskId: number): string {
  return `conversations/${conversationId}/task-files/${taskId}/${randomBytes(16).toString('hex')}`;
}

/**
 * The absolute path of a recorded kept file, or null when the recorded path is not one this module
 * makes or would resolve outside the storage directory (a row edited by hand, an absolute path,
 * `../`): nothing outside it is ever served.
 */
export function resolveKeptPath(storageDir: string, relPath: string): string | null {
  if (!KEPT_PATH.test(relPath)) return null;
  const root = path.resolve(storageDir);
  const full = path.resolve(root, relPath);
  return full.startsWith(root + path.sep) ? full : null;
}
