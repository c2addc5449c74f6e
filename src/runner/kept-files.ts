/**
 * A run's files kept for the dashboard (src/task-files/keep.ts): the attachments of each mail it
 * handles, under the id of the task whose mail carried them (a coalesced or live follow-up's under
 * its own), and the outbox files its reply actually attached, under the task that replied.
 */
import { hasTaskFiles } from '../store/task-content.ts';
import { typeForName } from '../task-files/content-type.ts';
import { keepTaskFile, type KeepTarget } from '../task-files/keep.ts';
import type { SavedAttachment } from './attachments.ts';
import type { SentOutboxFile } from './outbox-attachments.ts';

/** Neither method throws: keeping is for the dashboard, a failure is logged and the run goes on. */
export interface TaskFiles {
  /** Keeps a mail's attachments under `taskId`, once: a re-run after a crash saves them again, but keeps nothing twice. */
  keepMailFiles(taskId: number, saved: readonly SavedAttachment[]): Promise<void>;
  /** Keeps the outbox files a reply of `taskId` attached, from their open handles. */
  keepSentFiles(taskId: number, sent: readonly SentOutboxFile[]): Promise<void>;
}

export function taskFiles(target: KeepTarget): TaskFiles {
  const quietly = async (taskId: number, keep: () => Promise<void>): Promise<void> => {
    try {
      await keep();
    } catch (err) {
      target.log.warn({ task: taskId, err: (err as Error).message }, 'could not record the files kept for the dashboard');
    }
  };
  return {
    keepMailFiles: (taskId, saved) =>
      quietly(taskId, async () => {
        if (saved.length === 0 || hasTaskFiles(target.db, taskId, 'in')) return;
        for (const s of saved) {
          const content = { kind: 'bytes', data: s.content } as const;
          await keepTaskFile(target, { taskId, direction: 'in', name: s.sentName || s.savedName, contentType: s.contentType, content });
        }
      }),
    keepSentFiles: (taskId, sent) =>
      quietly(taskId, async () => {
        for (const f of sent) {
          const content = { kind: 'handle', handle: f.handle, size: f.size } as const;
          await keepTaskFile(target, { taskId, direction: 'out', name: f.name, contentType: typeForName(f.name), content });
        }
      }),
  };
}
