/** The parts of the dashboard API's answers that `airut submit` and `airut logs` read (see src/dashboard/openapi.ts). */

export interface ApiTask {
  readonly id: number;
  readonly repoId: string;
  readonly status: string;
  readonly subject: string | null;
  readonly conversationId: string | null;
  readonly costUsd: number | null;
  readonly error: string | null;
  readonly url: string;
}

export interface ApiTaskEvent {
  readonly id: number;
  readonly at: number;
  readonly kind: string;
  readonly data: unknown;
}

export interface ApiTaskFile {
  readonly direction: 'in' | 'out';
  readonly name: string;
  readonly downloadUrl: string | null;
  readonly note: string | null;
}

/** `GET /api/tasks/:id`. `result` arrives with the submit part of issue 22; older daemons leave it out. */
export interface ApiTaskDetail {
  readonly task: ApiTask;
  readonly events: readonly ApiTaskEvent[];
  readonly files?: readonly ApiTaskFile[];
  readonly result?: { readonly text: string; readonly isError: boolean } | null;
}

/** The 202 answer of `POST /api/tasks` and `POST /api/conversations/:repo/:id/messages`. */
export interface ApiSubmitted {
  readonly task: { readonly id: number; readonly status: string; readonly url: string };
  readonly conversation: { readonly repo: string; readonly id: string; readonly url: string };
}

/** A task in one of these states may still change; any other state is where it ended. */
export function isTaskFinal(status: string): boolean {
  return status !== 'queued' && status !== 'running';
}
