/**
 * A task's events as lines for a terminal (`airut logs`, `airut submit --follow`): one headline
 * per event, the assistant's text and the result in full, tool output cut to its first line (the
 * dashboard page has the rest). Pure: data in, text out.
 */
import type { ApiTask, ApiTaskDetail, ApiTaskEvent } from './api-types.ts';

const HEADLINE_MAX = 200;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

function oneLine(text: string, max = HEADLINE_MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** What a tool call was about: the command, the file, the pattern, else its input as JSON. */
function toolHeadline(input: unknown): string {
  if (isObject(input)) {
    for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'description']) {
      if (typeof input[key] === 'string') return input[key];
    }
  }
  return str(input);
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

function money(usd: number): string {
  return `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

function resultLine(d: Record<string, unknown>): string {
  const facts = [
    typeof d.costUsd === 'number' ? money(d.costUsd) : '',
    typeof d.turns === 'number' ? `${d.turns} turns` : '',
    typeof d.durationMs === 'number' ? `${Math.round(d.durationMs / 1000)} s` : '',
  ].filter((x) => x !== '');
  const label = d.isError === true ? `result: error${d.subtype ? ` (${str(d.subtype)})` : ''}` : 'result';
  return `${label}${facts.length ? ` (${facts.join(', ')})` : ''}${d.result ? `\n${str(d.result)}` : ''}`;
}

function eventBody(e: ApiTaskEvent): string {
  const d = isObject(e.data) ? e.data : {};
  if (d.truncated === true) return `${e.kind} [truncated]: ${oneLine(str(d.preview))}`;
  switch (e.kind) {
    case 'system_init':
      return `session started (model ${str(d.model) || 'unknown'})`;
    case 'assistant_text':
      return str(d.text);
    case 'tool_use':
      return `tool ${str(d.name)}: ${oneLine(toolHeadline(d.input))}`;
    case 'tool_result':
      return `${d.isError === true ? 'tool error' : 'tool result'}: ${oneLine(str(d.content).split('\n', 1)[0] ?? '') || '(empty)'}`;
    case 'todo_list': {
      const todos = Array.isArray(d.todos) ? d.todos.filter(isObject) : [];
      return `todo list: ${todos.filter((t) => t.status === 'completed').length}/${todos.length} done`;
    }
    case 'result':
      return resultLine(d);
    case 'raw':
      return `output: ${str(d.text)}`;
    case 'api_retry':
      return `API retry ${str(d.attempt)} (${str(d.cause).replace(/_/g, ' ')}): ${oneLine(str(d.message))}`;
    case 'output_truncated':
      return `output truncated: ${oneLine(str(d.message))}`;
    default:
      return `${e.kind}: ${oneLine(str(e.data))}`;
  }
}

/** One event: its time, then its text; continuation lines indented under it. */
export function formatEvent(e: ApiTaskEvent): string {
  const [first, ...rest] = eventBody(e).replace(/\s+$/, '').split('\n');
  return [`${clock(e.at)} ${first}`, ...rest.map((l) => (l ? `         ${l}` : ''))].join('\n') + '\n';
}

export function formatTaskHeadline(t: ApiTask, url: string): string {
  return `task ${t.id} · ${t.repoId} · ${t.status}${t.subject ? ` · ${oneLine(t.subject, 80)}` : ''}\n${url}\n`;
}

/** The end of a finished task: its status, cost, error, result text (when not already shown as an event) and files. */
export function formatTaskEnd(detail: ApiTaskDetail, resultShown: boolean, absolute: (path: string) => string): string {
  const t = detail.task;
  const lines = [`task ${t.id} ${t.status}${t.costUsd !== null ? ` (${money(t.costUsd)})` : ''}${t.error ? `: ${t.error}` : ''}`];
  if (detail.result && !resultShown) lines.push(detail.result.isError ? 'result (error):' : 'result:', detail.result.text);
  for (const f of detail.files ?? []) {
    if (f.direction !== 'out') continue;
    lines.push(`file ${f.name}: ${f.downloadUrl ? absolute(f.downloadUrl) : `not kept (${f.note ?? 'no copy'})`}`);
  }
  return lines.join('\n') + '\n';
}
