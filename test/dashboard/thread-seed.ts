/** A demo-like conversation of two mails (one with a coalesced and a live follow-up), hostile text in every field. */
import { upsertConversation } from '../../src/store/conversations.ts';
import type { Db } from '../../src/store/database.ts';
import { enqueueMail, markSent } from '../../src/store/outgoing-mail.ts';
import { addTaskFile, saveTaskRequest } from '../../src/store/task-content.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { transitionTask } from '../../src/store/task-transitions.ts';
import { insertTask } from './helpers.ts';

export const CONV = 'c0ffee00';
/** Any request to this host (or any other but the dashboard) is a failure. */
export const EVIL_HOST = 'evil.example';
export const HOSTILE_MD = [
  '<script>window.__pwned = "script"</script>',
  '',
  'inline <img src="http://evil.example/i.png" onerror="window.__pwned = \'img\'"> and <iframe src="http://evil.example/f"></iframe>',
  '',
  '![pixel](http://evil.example/pixel.png) [click](javascript:window.__pwned=\'link\') [data](data:text/html,<script>alert(1)</script>)',
  '',
  '<svg onload="window.__pwned = \'svg\'"></svg>',
  '',
  '&lt;b&gt; &#60;script&#62;',
].join('\n');

export interface SeededThread {
  readonly first: number;
  readonly second: number;
  readonly coalesced: number;
  readonly live: number;
  readonly keptFile: number;
}

function reply(db: Db, taskId: number, markdown: string, at: number): void {
  const id = enqueueMail(
    db,
    { repoId: 'alpha', taskId, conversationId: CONV, kind: 'reply', messageId: `<r${taskId}@example.com>`, recipient: 'alice@example.com', subject: `Re: [ID:${CONV}] Fix the login`, raw: Buffer.from('x'), bodyMarkdown: markdown },
    at,
  );
  markSent(db, id, at);
}

function merge(db: Db, taskId: number, into: number, kind: 'live' | 'coalesced', at: number): void {
  const r = transitionTask(db, taskId, { status: 'queued', attempt: 0 }, { to: 'merged', mergedInto: into, mergeKind: kind, conversationId: CONV }, at);
  if (!r.applied) throw new Error(`could not merge #${taskId}`);
}

export function seedThread(db: Db, t0: number): SeededThread {
  upsertConversation(db, 'alpha', CONV, { subject: 'Fix the login', sender: 'alice@example.com', model: 'sonnet' }, t0);
  const base = { repoId: 'alpha', conversationId: CONV, sender: 'alice@example.com', costUsd: 0.12 } as const;
  const first = insertTask(db, { ...base, status: 'completed', subject: 'Fwd: Fix the login', createdAt: t0, startedAt: t0 + 1000, finishedAt: t0 + 60_000 });
  saveTaskRequest(db, first, { text: `FIRST-REQUEST please fix **the login**\n\n${HOSTILE_MD}`, original: 'FIRST-REQUEST please fix **the login**\n\n> quoted history ORIGINAL-ONLY' });
  const keptFile = addTaskFile(db, { taskId: first, direction: 'in', name: 'spec<script>.txt', size: 12, contentType: 'text/plain', path: `conversations/${CONV}/files/spec.txt`, sha256: 'ab', note: null }, t0);
  addTaskFile(db, { taskId: first, direction: 'in', name: 'huge.bin', size: 50_000_000, contentType: 'application/octet-stream', path: null, sha256: null, note: 'over the size cap' }, t0);
  addTaskFile(db, { taskId: first, direction: 'out', name: 'report.md', size: 300, contentType: 'text/markdown', path: `conversations/${CONV}/files/report.md`, sha256: 'cd', note: null }, t0 + 60_000);
  appendTaskEvent(db, first, 'assistant_text', { type: 'assistant_text', text: `I will **look** first.\n\n${HOSTILE_MD}` });
  appendTaskEvent(db, first, 'tool_result', { type: 'tool_result', content: `TOOL-OUTPUT\n${HOSTILE_MD}`, isError: false });
  reply(db, first, `FIRST-REPLY **fixed** it.\n\n\`\`\`ts\nconst ok = true;\n\`\`\`\n\n${HOSTILE_MD}`, t0 + 60_000);

  const second = insertTask(db, { ...base, status: 'completed', subject: `Re: [ID:${CONV}] Fix the login`, createdAt: t0 + 100_000, startedAt: t0 + 101_000, finishedAt: t0 + 200_000 });
  saveTaskRequest(db, second, { text: 'SECOND-REQUEST and the logout too', original: 'SECOND-REQUEST and the logout too' });
  const coalesced = insertTask(db, { ...base, status: 'queued', subject: `Re: [ID:${CONV}] Fix the login`, createdAt: t0 + 100_500 });
  merge(db, coalesced, second, 'coalesced', t0 + 101_000);
  saveTaskRequest(db, coalesced, { text: 'COALESCED-REQUEST also the footer', original: 'COALESCED-REQUEST also the footer' });
  db.prepare('UPDATE task_events SET at = ? WHERE task_id = ?').run(t0 + 2000, first);
  const early = appendTaskEvent(db, second, 'assistant_text', { type: 'assistant_text', text: 'BEFORE-LIVE working' });
  const live = insertTask(db, { ...base, status: 'queued', subject: `Re: [ID:${CONV}] Fix the login`, createdAt: t0 + 150_000 });
  merge(db, live, second, 'live', t0 + 150_000);
  saveTaskRequest(db, live, { text: 'LIVE-REQUEST use the new API', original: 'LIVE-REQUEST use the new API' });
  const late = appendTaskEvent(db, second, 'assistant_text', { type: 'assistant_text', text: 'AFTER-LIVE switching' });
  db.prepare('UPDATE task_events SET at = ? WHERE id = ?').run(t0 + 120_000, early);
  db.prepare('UPDATE task_events SET at = ? WHERE id = ?').run(t0 + 160_000, late);
  reply(db, second, 'SECOND-REPLY done, _all three_.', t0 + 200_000);
  return { first, second, coalesced, live, keptFile };
}
