/**
 * Follows an agent container's output: stdout lines become events (bounded, so a hostile line cannot
 * exhaust memory), stderr and unparseable lines keep a tail for the failure message, and the session
 * id, the result and the texts the reply is chosen from (reply-text.ts) are remembered for the outcome.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../log/logger.ts';
import { BoundedLineReader } from './line-reader.ts';
import { REPLY_WINDOW } from './reply-text.ts';
import type { AgentInput } from './agent-input.ts';
import { parseStreamLine, truncatedLineEvent, type AgentEvent, type ResultEvent } from './stream-json.ts';

const STDERR_TAIL_BYTES = 16 * 1024;

/** What the outcome is decided from, filled in as output arrives. */
export interface AgentOutput {
  sessionId: string | null;
  result: ResultEvent | null;
  lastAssistantText: string;
  /** The last REPLY_WINDOW assistant texts, oldest first. */
  assistantTexts: string[];
  /** The text of every result event (one per turn). */
  resultTexts: string[];
  stderrTail: string;
}

export interface FollowedOutput {
  readonly output: AgentOutput;
  /** Resolves when stdout has closed and its last line was delivered. */
  readonly done: Promise<void>;
}

/** Reads `stdout` and `stderr` to their end, calling `onEvent` for each event as its line arrives. */
export function followAgentOutput(
  streams: { readonly stdout: Readable; readonly stderr: Readable },
  maxLineBytes: number,
  onEvent: (event: AgentEvent) => void,
  log: Logger,
  input?: Pick<AgentInput, 'echoed' | 'resultSeen'>,
): FollowedOutput {
  const output: AgentOutput = { sessionId: null, result: null, lastAssistantText: '', assistantTexts: [], resultTexts: [], stderrTail: '' };
  const keepTail = (text: string): void => {
    output.stderrTail = (output.stderrTail + text).slice(-STDERR_TAIL_BYTES);
  };
  streams.stderr.setEncoding('utf8');
  streams.stderr.on('data', (chunk: string) => keepTail(chunk));

  const onLine = (line: string, droppedBytes: number, keptBytes: number): void => {
    // A cut line is not JSON any more; parsing its head would only produce a misleading raw event.
    const events = droppedBytes > 0 ? [truncatedLineEvent(line, keptBytes, droppedBytes)] : parseStreamLine(line);
    for (const event of events) {
      // Echoes of what was written to stdin are the input's bookkeeping, not the agent's output:
      // the handler learns which messages a turn took, and must not store them as output.
      if (event.type === 'input_echo') input?.echoed(event.messages);
      else remember(output, event, keepTail);
      try {
        onEvent(event);
      } catch (err) {
        log.warn({ err: String(err), event: event.type }, 'agent event handler failed');
      }
      // After the handler: it has seen the turn's result before the input may close.
      if (event.type === 'result') input?.resultSeen();
    }
  };
  const lines = new BoundedLineReader(maxLineBytes, onLine);
  const done = new Promise<void>((resolve) => {
    streams.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
    streams.stdout.once('close', () => {
      lines.end();
      resolve();
    });
  });
  return { output, done };
}

function remember(output: AgentOutput, event: AgentEvent, keepTail: (text: string) => void): void {
  if (event.type === 'system_init' && event.sessionId) output.sessionId = event.sessionId;
  else if (event.type === 'result') {
    output.result = event;
    output.resultTexts.push(event.result);
    if (event.sessionId) output.sessionId = event.sessionId;
  } else if (event.type === 'assistant_text') {
    output.lastAssistantText = event.text;
    output.assistantTexts.push(event.text);
    if (output.assistantTexts.length > REPLY_WINDOW) output.assistantTexts.shift();
  } else if (event.type === 'raw') keepTail(`${event.text}\n`);
}
