/**
 * Claude Code's `--output-format stream-json` output, one JSON object per line, turned into a small
 * union of events the rest of the daemon stores and shows. Pure: no I/O.
 */

export interface TodoItem {
  readonly content: string;
  readonly status: string;
  readonly activeForm?: string;
}

export interface ResultEvent {
  readonly type: 'result';
  /** As the CLI reports it; do not judge success by it (`success` comes with `is_error: true`). */
  readonly subtype: string;
  readonly isError: boolean;
  /** The final answer text (or the error text when `isError`). */
  readonly result: string;
  readonly sessionId: string | null;
  /** Accumulated over the whole session, resumes included. */
  readonly costUsd: number;
  readonly turns: number;
  readonly durationMs: number;
  /** Why the run ended (`completed`, `api_error`, `budget_exhausted`, …); null when not reported. */
  readonly terminalReason: string | null;
  /** HTTP status of the API error that ended the run (429, 529, 500…), when there was one. */
  readonly apiErrorStatus: number | null;
  /** The API's error type (`overloaded_error`, `rate_limit_error`…), when reported. */
  readonly apiErrorType: string | null;
  /** The CLI's name for a failure to reach the API (`connection_failed`…), when reported. */
  readonly apiError: string | null;
}

export type AgentEvent =
  | { readonly type: 'system_init'; readonly sessionId: string; readonly model: string; readonly cwd: string | null }
  | { readonly type: 'assistant_text'; readonly text: string }
  | { readonly type: 'tool_use'; readonly id: string; readonly name: string; readonly input: unknown }
  | { readonly type: 'todo_list'; readonly todos: readonly TodoItem[] }
  | { readonly type: 'tool_result'; readonly toolUseId: string; readonly content: string; readonly isError: boolean }
  | ResultEvent
  /** A line that is not JSON (a warning, a crash message): kept, never fatal. */
  | { readonly type: 'raw'; readonly text: string }
  /**
   * `--replay-user-messages`: the CLI took `messages` user messages written to stdin into one turn.
   * Input bookkeeping (agent-input.ts): it tells the caller which messages a turn took; it is not
   * the agent's output and is not stored as an event.
   */
  | { readonly type: 'input_echo'; readonly messages: number }
  /** A line longer than the limit: its start is kept as a preview, the rest was never buffered. */
  | OutputTruncatedEvent;

export interface OutputTruncatedEvent {
  readonly type: 'output_truncated';
  readonly what: 'line';
  readonly message: string;
  readonly keptBytes: number;
  readonly droppedBytes: number;
  readonly preview: string;
}

const PREVIEW_CHARS = 200;

/** The event for a line cut at `keptBytes` (see sandbox/line-reader.ts); the line is not parsed. */
export function truncatedLineEvent(kept: string, keptBytes: number, droppedBytes: number): OutputTruncatedEvent {
  return {
    type: 'output_truncated',
    what: 'line',
    message: `output truncated: a line of ${keptBytes + droppedBytes} bytes was cut to its first ${keptBytes}; ${droppedBytes} bytes were not stored`,
    keptBytes,
    droppedBytes,
    preview: kept.slice(0, PREVIEW_CHARS),
  };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function strOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Text of a tool_result `content`, which is a string or a list of blocks. */
function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((c: unknown) => (isObject(c) && c['type'] === 'text' ? str(c['text']) : isObject(c) ? `[${str(c['type'])}]` : ''))
      .filter((t) => t !== '')
      .join('\n');
  }
  return '';
}

function todosOf(input: unknown): TodoItem[] | null {
  if (!isObject(input) || !Array.isArray(input['todos'])) return null;
  return input['todos'].filter(isObject).map((t) => {
    const item: { content: string; status: string; activeForm?: string } = {
      content: str(t['content']),
      status: str(t['status'], 'pending'),
    };
    if (typeof t['activeForm'] === 'string') item.activeForm = t['activeForm'];
    return item;
  });
}

/** One echoed batch: one text block per message written (a bare string is one message). */
function inputEcho(message: unknown): AgentEvent {
  const content = isObject(message) ? message['content'] : null;
  const messages = Array.isArray(content) ? content.filter((b) => isObject(b) && b['type'] === 'text').length : typeof content === 'string' ? 1 : 0;
  return { type: 'input_echo', messages };
}

/**
 * The events one line of output carries: none for a blank line or a message type nobody needs,
 * several for an assistant message with text and tool calls.
 */
export function parseStreamLine(line: string): AgentEvent[] {
  const trimmed = line.trim();
  if (trimmed === '') return [];
  let msg: unknown;
  try {
    msg = JSON.parse(trimmed);
  } catch {
    return [{ type: 'raw', text: line }];
  }
  if (!isObject(msg)) return [{ type: 'raw', text: line }];

  switch (msg['type']) {
    case 'system':
      if (msg['subtype'] === 'init') {
        return [
          {
            type: 'system_init',
            sessionId: str(msg['session_id']),
            model: str(msg['model']),
            cwd: typeof msg['cwd'] === 'string' ? msg['cwd'] : null,
          },
        ];
      }
      return [];
    case 'assistant':
    case 'user': {
      if (msg['type'] === 'user' && msg['isReplay'] === true) return [inputEcho(msg['message'])];
      const message = msg['message'];
      if (!isObject(message)) return [];
      const content = message['content'];
      if (typeof content === 'string') {
        return msg['type'] === 'assistant' && content !== '' ? [{ type: 'assistant_text', text: content }] : [];
      }
      if (!Array.isArray(content)) return [];
      const events: AgentEvent[] = [];
      for (const block of content) {
        if (!isObject(block)) continue;
        if (msg['type'] === 'assistant' && block['type'] === 'text' && str(block['text']) !== '') {
          events.push({ type: 'assistant_text', text: str(block['text']) });
        } else if (msg['type'] === 'assistant' && block['type'] === 'tool_use') {
          const name = str(block['name']);
          const todos = name === 'TodoWrite' ? todosOf(block['input']) : null;
          if (todos) events.push({ type: 'todo_list', todos });
          else events.push({ type: 'tool_use', id: str(block['id']), name, input: block['input'] ?? null });
        } else if (block['type'] === 'tool_result') {
          events.push({
            type: 'tool_result',
            toolUseId: str(block['tool_use_id']),
            content: toolResultText(block['content']),
            isError: block['is_error'] === true,
          });
        }
      }
      return events;
    }
    case 'result':
      return [
        {
          type: 'result',
          subtype: str(msg['subtype']),
          isError: msg['is_error'] === true,
          result: str(msg['result']) || (Array.isArray(msg['errors']) ? msg['errors'].map(String).join('\n') : ''),
          sessionId: typeof msg['session_id'] === 'string' ? msg['session_id'] : null,
          costUsd: num(msg['total_cost_usd']),
          turns: num(msg['num_turns']),
          durationMs: num(msg['duration_ms']),
          terminalReason: strOrNull(msg['terminal_reason']),
          apiErrorStatus: typeof msg['api_error_status'] === 'number' ? msg['api_error_status'] : null,
          apiErrorType: strOrNull(msg['api_error_type']),
          apiError: strOrNull(msg['api_error']),
        },
      ];
    default:
      return [];
  }
}
