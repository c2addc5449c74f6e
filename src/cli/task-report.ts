/**
 * What `airut submit` and `airut logs` print while they watch a task, as text or as JSON lines,
 * and the exit codes they share (docs/api.md, "Command line" lists them).
 */
import type { ApiClient } from './api-client.ts';
import { ApiUnreachableError } from './api-client.ts';
import type { ApiTaskDetail, ApiTaskEvent } from './api-types.ts';
import type { CliIo } from './command.ts';
import { formatEvent, formatTaskEnd } from './task-format.ts';

/** The task ended in another state than completed (the state is printed). */
export const EXIT_TASK_NOT_COMPLETED = 3;
/** The dashboard could not be reached: worth trying again later, unlike a refusal (1). */
export const EXIT_UNREACHABLE = 4;

export interface TaskReport {
  /** Pass to the watchers (task-watch.ts). */
  readonly onEvents: (events: readonly ApiTaskEvent[]) => void;
  /** Prints the end of a finished task; returns the exit code its status means. */
  end(detail: ApiTaskDetail): number;
}

export function exitCodeOf(status: string): number {
  return status === 'completed' ? 0 : EXIT_TASK_NOT_COMPLETED;
}

/** Text: each event as formatTaskEnd lays it out. JSON: one line per event, then one for the task. */
export function taskReport(io: CliIo, client: ApiClient, json: boolean): TaskReport {
  let resultShown = false;
  return {
    onEvents(events) {
      for (const e of events) {
        if (json) io.stdout.write(JSON.stringify({ event: e }) + '\n');
        else io.stdout.write(formatEvent(e));
        if (e.kind === 'result') resultShown = true;
      }
    },
    end(detail) {
      if (json) io.stdout.write(JSON.stringify({ task: detail.task, result: detail.result ?? null, files: detail.files ?? [] }) + '\n');
      else io.stdout.write(formatTaskEnd(detail, resultShown, (p) => client.url(p)));
      return exitCodeOf(detail.task.status);
    },
  };
}

/** Runs a command's body; an unreachable dashboard is exit 4 (the other errors go to main.ts: 1 or 2). */
export async function exitOnUnreachable(io: CliIo, name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (!(err instanceof ApiUnreachableError)) throw err;
    io.stderr.write(`airut ${name}: ${err.message}\n`);
    return EXIT_UNREACHABLE;
  }
}
