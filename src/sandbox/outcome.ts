/**
 * How one agent run ended, judged from the exit code and the CLI's final `result` event. Pure.
 *
 * `is_error` and the exit code decide; `subtype` does not (the CLI reports `subtype: "success"` with
 * `is_error: true` when the API call failed).
 */
import type { ResultEvent } from './stream-json.ts';
import { transientFailure, type TransientFailure } from './transient.ts';

export type { TransientFailure, TransientKind } from './transient.ts';

export type AgentOutcome =
  | {
      readonly kind: 'success';
      readonly result: string;
      readonly sessionId: string;
      readonly costUsd: number;
      readonly turns: number;
      readonly durationMs: number;
    }
  | {
      readonly kind: 'failed';
      /** What went wrong, for the reply and the dashboard (never contains env values we passed). */
      readonly error: string;
      readonly sessionId: string | null;
      readonly exitCode: number | null;
      readonly costUsd: number;
      /**
       * The conversation no longer fits the model's context (or the session is unusable): the caller
       * should retry once in a fresh session with a summary.
       */
      readonly promptTooLong: boolean;
      /** Set when the API was overloaded, rate limiting, failing (5xx) or unreachable: worth retrying. */
      readonly transient: TransientFailure | null;
    }
  /** Claude Code stopped at `--max-budget-usd`; the session and workspace are kept. */
  | {
      readonly kind: 'budget_exceeded';
      readonly sessionId: string | null;
      /** What the session had spent when it stopped (a little over the budget: the last call counts whole). */
      readonly costUsd: number;
      readonly turns: number;
      readonly durationMs: number;
    }
  /** The time limit passed; the container was stopped, the workspace is kept. */
  | { readonly kind: 'timeout'; readonly sessionId: string | null }
  /** Stopped on request (shutdown, user cancel). */
  | { readonly kind: 'cancelled'; readonly sessionId: string | null };

const PROMPT_TOO_LONG = [
  /prompt is too long/i,
  /context[ _-]?(length|window)[^\n]{0,80}exceed/i,
  /exceed[^\n]{0,80}context[ _-]?(length|window)/i,
  /input is too long/i,
  /invalid_request_error[^\n]{0,200}(too long|context)/i,
];

/** True when an error text says the prompt does not fit the model's context. */
export function isPromptTooLong(text: string): boolean {
  return PROMPT_TOO_LONG.some((re) => re.test(text));
}

export interface RunObservation {
  readonly exitCode: number | null;
  /** The CLI's final `result` event, if it got that far. */
  readonly result: ResultEvent | null;
  /** The latest session id seen (init or result). */
  readonly sessionId: string | null;
  /** Last lines of the container's stderr and of non-JSON stdout. */
  readonly stderrTail: string;
  /** Assistant texts seen (API errors are reported as assistant text before the result). */
  readonly lastAssistantText: string;
  /** The reply chosen from the run's texts as Airut chooses it (reply-text.ts); default the result's text. */
  readonly replyText?: string;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

export function classifyOutcome(o: RunObservation): AgentOutcome {
  const sessionId = o.result?.sessionId ?? o.sessionId;
  if (o.cancelled) return { kind: 'cancelled', sessionId };
  if (o.timedOut) return { kind: 'timeout', sessionId };
  const r = o.result;
  if (r && !r.isError && o.exitCode === 0 && sessionId) {
    return { kind: 'success', result: o.replyText ?? r.result, sessionId, costUsd: r.costUsd, turns: r.turns, durationMs: r.durationMs };
  }
  if (r?.subtype === 'error_max_budget_usd' || r?.terminalReason === 'budget_exhausted') {
    return { kind: 'budget_exceeded', sessionId, costUsd: r.costUsd, turns: r.turns, durationMs: r.durationMs };
  }
  const parts: string[] = [];
  if (r?.isError) {
    parts.push(r.result || `Claude Code reported an error (${r.subtype || 'no detail'}, exit code ${o.exitCode ?? 'unknown'})`);
  } else if (r) {
    parts.push(`Claude Code exited with code ${o.exitCode ?? 'unknown'} after reporting a result`);
  } else {
    parts.push(`Claude Code ended without a result (exit code ${o.exitCode ?? 'unknown'})`);
  }
  // stderr is where a crash or a runtime error (image missing, bad mount) explains itself.
  if (!(r?.isError && r.result) && o.stderrTail.trim()) parts.push(o.stderrTail.trim());
  const error = parts.join('\n');
  return {
    kind: 'failed',
    error,
    sessionId,
    exitCode: o.exitCode,
    costUsd: r?.costUsd ?? 0,
    promptTooLong: isPromptTooLong(`${error}\n${o.lastAssistantText}`),
    transient: transientFailure(r, [o.lastAssistantText, o.stderrTail]),
  };
}
