/**
 * Stores a task's agent events under the `task_output.max_events` cap.
 *
 * Up to the cap every event is stored. Past it, events are counted, not stored, and a single
 * `output_truncated` marker (stored where the cut happened) says how many were cut; its count is
 * final once `finish()` ran. `result` events are the exception the outcome and the next session's
 * summary depend on: past the cap the latest one is kept in memory and stored by `finish()`, so the
 * last result is always in the log, however much came before it, and a flood of forged results
 * stores one row, not thousands. Network-log truncation (counted by the proxy's log writer) is
 * recorded as a marker of its own.
 */
import type { Db } from '../store/database.ts';
import { appendTaskEvent, recordApiRetry, updateTaskEventData } from '../store/task-events.ts';
import type { ApiRetryEvent } from './task-context.ts';
import type { AgentEvent } from '../sandbox/run-agent.ts';

export const TRUNCATED_KIND = 'output_truncated';

export class TaskEventRecorder {
  readonly #db: Db;
  readonly #taskId: number;
  readonly #max: number;
  readonly #onStored: (eventId: number, kind: string) => void;
  #stored = 0;
  #dropped = 0;
  #markerId: number | null = null;
  #pendingResult: AgentEvent | null = null;

  constructor(db: Db, taskId: number, maxEvents: number, onStored: (eventId: number, kind: string) => void) {
    this.#db = db;
    this.#taskId = taskId;
    this.#max = maxEvents;
    this.#onStored = onStored;
  }

  /** Events stored and events cut so far. */
  get counts(): { stored: number; dropped: number } {
    return { stored: this.#stored, dropped: this.#dropped };
  }

  record(e: AgentEvent): void {
    // The CLI's echo of what was written to its stdin is not output: the timeline would show the prompt as the agent's.
    if (e.type === 'input_echo') return;
    if (this.#stored < this.#max) {
      this.#store(e.type, e);
      return;
    }
    if (e.type === 'result') {
      // Only the last result matters; it is stored by finish(). One it replaces counts as cut.
      const replaced = this.#pendingResult;
      this.#pendingResult = e;
      if (!replaced) return;
    }
    this.#dropped++;
    if (this.#markerId === null) this.#markerId = this.#storeMarker(this.#eventsMarker());
  }

  /** The network log writer stopped storing rows for this task. */
  networkTruncated(t: { readonly limit: number; readonly dropped: number; readonly blocked: number }): void {
    this.#storeMarker({
      what: 'network',
      limit: t.limit,
      dropped: t.dropped,
      blocked: t.blocked,
      message: `network log truncated: ${t.dropped.toLocaleString('en-US')} further requests not stored (${t.blocked.toLocaleString('en-US')} of them blocked); the limit is ${t.limit.toLocaleString('en-US')} per task`,
    });
  }

  /** Always stored, like the markers: the dashboard shows every retry whatever the cap cut. */
  apiRetry(r: ApiRetryEvent): void {
    const message = `API retry ${r.attempt}: ${r.detail} (${r.cause}); resuming the session in ${r.delaySeconds} s`;
    const id = recordApiRetry(this.#db, this.#taskId, { ...r, message });
    this.#onStored(id, 'api_retry');
  }

  /** After the run: stores the last result held back and gives the marker its final count. */
  finish(): void {
    if (this.#pendingResult) {
      this.#store('result', this.#pendingResult);
      this.#pendingResult = null;
    }
    if (this.#markerId !== null) updateTaskEventData(this.#db, this.#markerId, this.#eventsMarker());
  }

  #eventsMarker(): Record<string, unknown> {
    return {
      what: 'events',
      limit: this.#max,
      dropped: this.#dropped,
      message: `output truncated: ${this.#dropped.toLocaleString('en-US')} further events not stored; the limit is ${this.#max.toLocaleString('en-US')} per task`,
    };
  }

  #store(kind: string, data: unknown): void {
    const id = appendTaskEvent(this.#db, this.#taskId, kind, data);
    this.#stored++;
    this.#onStored(id, kind);
  }

  #storeMarker(data: Record<string, unknown>): number {
    const id = appendTaskEvent(this.#db, this.#taskId, TRUNCATED_KIND, { type: TRUNCATED_KIND, ...data });
    this.#onStored(id, TRUNCATED_KIND);
    return id;
  }
}
