/**
 * `GET /tasks/:taskId/files/:fileId`: a kept task file, downloaded (behind the same guards as every
 * page). The path comes from the database, and a row can be edited by hand: it is resolved only
 * in the shape keep.ts writes and under the repository's storage directory (kept-path.ts), and
 * opened without following a symlink; the size served is the open file's.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import type { DashboardDeps } from '../context.ts';
import { downloadHeaders } from '../file-download.ts';
import { DashboardError } from '../http-error.ts';
import { parseId } from '../params.ts';
import { requireRepo } from '../scope-guard.ts';
import { getTaskFile } from '../../store/task-content.ts';
import { getTask } from '../../store/task-queries.ts';
import { resolveKeptPath } from '../../task-files/kept-path.ts';

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;

async function download(d: DashboardDeps, c: Context): Promise<Response> {
  const taskId = parseId(c.req.param('taskId'));
  const fileId = parseId(c.req.param('fileId'));
  const task = taskId === undefined ? null : getTask(d.o.db, taskId);
  const notFound = (): DashboardError => new DashboardError(404, 'This task has no such file.');
  if (task) requireRepo(c, task.repoId, notFound);
  const file = task && fileId !== undefined ? getTaskFile(d.o.db, task.id, fileId) : null;
  if (!task || !file) throw notFound();
  if (file.path === null) throw new DashboardError(404, `This file was not kept: ${file.note ?? 'no copy was made'}.`);
  const storageDir = d.o.config.repos[task.repoId]?.storageDir;
  if (!storageDir) throw new DashboardError(404, `The repository ${task.repoId} is not configured any more, so its kept files cannot be found.`);
  const full = resolveKeptPath(storageDir, file.path);
  if (full === null) {
    d.o.log.warn({ task: task.id, file: file.id }, 'dashboard: a task_files row names a path outside the kept files; refused');
    throw new DashboardError(404, 'This file was not kept: its recorded location is not one the dashboard serves.');
  }
  const handle = await fs.open(full, fsc.O_RDONLY | O_NOFOLLOW).catch(() => null);
  const st = handle ? await handle.stat().catch(() => null) : null;
  if (!handle || !st?.isFile()) {
    await handle?.close();
    throw new DashboardError(404, 'The kept copy of this file is missing from the disk.');
  }
  if (st.size === 0) {
    await handle.close();
    return c.body(new Uint8Array(0), 200, downloadHeaders(file, 0));
  }
  // The stream closes the handle when it ends or is destroyed (the client went away).
  const body = Readable.toWeb(handle.createReadStream({ start: 0, end: st.size - 1 })) as ReadableStream<Uint8Array>;
  return c.body(body, 200, downloadHeaders(file, st.size));
}

/** Mounted at `/`. */
export function fileRoutes(d: DashboardDeps): Hono {
  return new Hono().get('/tasks/:taskId/files/:fileId', (c) => download(d, c));
}
