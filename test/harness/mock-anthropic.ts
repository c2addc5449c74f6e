/**
 * A small mock of the Anthropic Messages API that the real Claude Code CLI accepts.
 *
 * `POST /v1/messages` (the CLI adds `?beta=true`) answers with streaming SSE when the request asks for
 * `stream: true`, and with a plain JSON message otherwise. What it answers is decided per request by
 * a `MockScript`, a function of the parsed request body. Every request is recorded so tests can assert
 * what the CLI sent (for instance that the earlier turns come back on `--resume`).
 *
 * Any other endpoint answers `{}` with 200 and is recorded too, so a new CLI version that probes
 * something new shows up in `requests` instead of failing in a confusing way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the mock answers to one request. */
export type MockReply =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'tool_use';
      readonly name: string;
      readonly input: Record<string, unknown>;
      /** Optional text block sent before the tool call. */
      readonly text?: string;
    }
  | { readonly kind: 'error'; readonly status: number; readonly type: string; readonly message: string }
  /** Never answers (the response stays open until the server closes): for timeout tests. */
  | { readonly kind: 'stall' };

export interface RecordedRequest {
  readonly method: string;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, or null when there was none / it was not JSON. */
  readonly body: MessagesRequestBody | null;
}

/** The parts of a Messages API request body the tests look at. */
export interface MessagesRequestBody {
  readonly model?: string;
  readonly stream?: boolean;
  readonly system?: unknown;
  readonly messages?: readonly ApiMessage[];
  readonly tools?: readonly { readonly name: string }[];
  readonly [key: string]: unknown;
}

export interface ApiMessage {
  readonly role: 'user' | 'assistant';
  readonly content: string | readonly ApiContentBlock[];
}

export type ApiContentBlock = { readonly type: string; readonly [key: string]: unknown };

/** Decides the answer to a `POST /v1/messages` request. `index` counts those requests from 0. */
export type MockScript = (body: MessagesRequestBody, index: number) => MockReply | Promise<MockReply>;

export interface MockAnthropic {
  /** `http://127.0.0.1:<port>`, for `ANTHROPIC_BASE_URL`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Only the `POST /v1/messages` requests. */
  messageRequests(): RecordedRequest[];
  /** Replaces the script (for multi-run tests). */
  setScript(script: MockScript): void;
  close(): Promise<void>;
}

/** Token counts reported for every answer; non-zero so the CLI computes a cost. */
const USAGE = { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

let idCounter = 0;
function newId(prefix: string): string {
  idCounter += 1;
  return `${prefix}_mock${Date.now().toString(36)}${idCounter.toString().padStart(6, '0')}`;
}

// ---- helpers for scripts ------------------------------------------------------------------------

/** The last message of the conversation, or undefined. */
export function lastMessage(body: MessagesRequestBody): ApiMessage | undefined {
  const msgs = body.messages ?? [];
  return msgs[msgs.length - 1];
}

/** The content blocks of a message, with a plain string turned into one text block. */
export function blocksOf(message: ApiMessage | undefined): readonly ApiContentBlock[] {
  if (!message) return [];
  return typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
}

/** The text of the tool_result blocks in the last (user) message; empty when it carries none. */
export function lastToolResultText(body: MessagesRequestBody): string {
  const results = blocksOf(lastMessage(body)).filter((b) => b.type === 'tool_result');
  return results.map((b) => contentText(b['content'])).join('\n');
}

/** True when the last message answers a tool call (the agent loop's second half). */
export function isToolResultTurn(body: MessagesRequestBody): boolean {
  return blocksOf(lastMessage(body)).some((b) => b.type === 'tool_result');
}

/** All text a request carries in its messages, flattened (for "did the prompt reach the API" checks). */
export function allMessageText(body: MessagesRequestBody): string {
  return (body.messages ?? []).map((m) => blocksOf(m).map((b) => blockText(b)).join('\n')).join('\n');
}

/**
 * True for the agent's own turns. The CLI also sends side requests (titles, summaries, …) with a
 * different shape; those come without the tool list.
 */
export function isAgentRequest(body: MessagesRequestBody): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

function blockText(b: ApiContentBlock): string {
  if (b.type === 'text' && typeof b['text'] === 'string') return b['text'];
  if (b.type === 'tool_result') return contentText(b['content']);
  if (b.type === 'tool_use') return JSON.stringify(b['input']);
  return '';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((c: unknown) =>
        typeof c === 'object' && c !== null && typeof (c as { text?: unknown }).text === 'string'
          ? (c as { text: string }).text
          : '',
      )
      .join('\n');
  }
  return '';
}

// ---- server -------------------------------------------------------------------------------------

/** Starts the mock on 127.0.0.1 with a random port. */
export async function startMockAnthropic(script: MockScript): Promise<MockAnthropic> {
  let current = script;
  let messageIndex = 0;
  const requests: RecordedRequest[] = [];
  const stalled = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: MessagesRequestBody | null = null;
    try {
      body = raw.length ? (JSON.parse(raw) as MessagesRequestBody) : null;
    } catch {
      body = null;
    }
    const url = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', url, headers: req.headers, body });

    const path = url.split('?')[0];
    if (req.method === 'POST' && path === '/v1/messages' && body) {
      const reply = await current(body, messageIndex++);
      answer(res, body, reply);
      return;
    }
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      json(res, 200, { input_tokens: 100 });
      return;
    }
    json(res, 200, {});
  }

  function answer(res: ServerResponse, body: MessagesRequestBody, reply: MockReply): void {
    if (reply.kind === 'stall') {
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    if (reply.kind === 'error') {
      json(res, reply.status, { type: 'error', error: { type: reply.type, message: reply.message } });
      return;
    }
    const model = body.model ?? 'claude-sonnet-4-5';
    const blocks: ApiContentBlock[] = [];
    if (reply.kind === 'text') blocks.push({ type: 'text', text: reply.text });
    else {
      if (reply.text) blocks.push({ type: 'text', text: reply.text });
      blocks.push({ type: 'tool_use', id: newId('toolu'), name: reply.name, input: reply.input });
    }
    const stopReason = reply.kind === 'tool_use' ? 'tool_use' : 'end_turn';
    const message = {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model,
      content: blocks,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: USAGE,
    };
    if (!body.stream) {
      json(res, 200, message);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...USAGE, output_tokens: 1 } },
    });
    blocks.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block['text'] } });
      } else {
        send('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: block['id'], name: block['name'], input: {} },
        });
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(block['input']) },
        });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: USAGE.output_tokens },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    messageRequests: () => requests.filter((r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages'),
    setScript(next) {
      current = next;
    },
    async close() {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
