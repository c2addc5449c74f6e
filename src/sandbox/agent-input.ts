/**
 * The agent's stdin with `--input-format stream-json --replay-user-messages`: the first prompt is
 * the first user message, and more may be written while the session runs. Claude Code merges the
 * messages written during a turn into one next turn, so results cannot be counted against
 * messages; with `--replay-user-messages` it echoes every batch it takes (one text block per
 * message written) before that batch's result. Close rule: at each `result`, once every message
 * written has been echoed, stdin is ended (the CLI then exits) and further sends are refused.
 * A CLI that never echoes (no replay support) has its stdin ended at the first result, as before.
 */
import type { Writable } from 'node:stream';

/** One stdin line: a user message with one text block. */
export function userMessageLine(text: string): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text }] } })}\n`;
}

/** What a run's caller gets: send one more user message (false once closed), and whether it still could. */
export interface AgentInputHandle {
  send(text: string): boolean;
  isOpen(): boolean;
}

export class AgentInput {
  #written = 0;
  #echoed = 0;
  #closed = false;

  constructor(private readonly stdin: Writable) {}

  /** Writes one user message; false once the input is closed. */
  send(text: string): boolean {
    if (this.#closed) return false;
    this.stdin.write(userMessageLine(text));
    this.#written += 1;
    return true;
  }

  /** The CLI echoed a batch of `messages` user messages it took into a turn. */
  echoed(messages: number): void {
    this.#echoed += messages;
  }

  /** A turn ended: close when everything written was taken (or the CLI never echoes). */
  resultSeen(): void {
    if (this.#echoed >= this.#written || this.#echoed === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stdin.end();
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** The caller's view: sending and asking, never closing. */
  handle(): AgentInputHandle {
    return { send: (text) => this.send(text), isOpen: () => this.open };
  }
}
