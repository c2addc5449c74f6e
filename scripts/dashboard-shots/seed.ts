/**
 * Demo-like dashboard data for the screenshots (scripts/dashboard-screenshots.ts) and the layout
 * test (test/dashboard/responsive.test.ts): two repositories, tasks in many states, a conversation
 * of two tasks with a timeline, a network log and replies, and the awkward content real mail brings
 * (long subjects, long addresses, tokens with no place to break). Rows are written with the store's
 * own functions where it has them; task rows through the dashboard tests' insertTask.
 */
import type { Db } from '../../src/store/database.ts';
import { upsertConversation } from '../../src/store/conversations.ts';
import { insertNetworkRequests } from '../../src/store/network-log.ts';
import { enqueueMail, markSent } from '../../src/store/outgoing-mail.ts';
import { saveListenerStatus } from '../../src/store/repo-status.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { setTaskNetworkSandbox } from '../../src/store/task-queue.ts';
import { recordTaskStage } from '../../src/store/task-stages.ts';
import { addTaskFile, saveTaskRequest } from '../../src/store/task-content.ts';
import { insertTask, netEntry } from '../../test/dashboard/helpers.ts';

export const DEMO_REPOS = ['web-app', 'api-server'] as const;
export const DEMO_CONVERSATION = { repoId: 'api-server', id: '1a2b3c4d' } as const;

/** What the pages are built from: the ids a page list needs. */
export interface DemoSeed {
  /** The conversation's second task (finished, with a timeline, a reply and network requests). */
  readonly taskId: number;
  readonly runningId: number;
  readonly conversation: typeof DEMO_CONVERSATION;
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const LONG_SENDER = 'maximilian.alexander.featherstonehaugh-worthington@engineering.example-corporation.co.uk';
const LONG_TOKEN = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08c4ca4238a0b923820dcc509a6f75849b';
const LONG_SUBJECT =
  'Re: [ID:1a2b3c4d] Upgrade the database driver to the new major version and make sure the connection pool survives a failover of the primary';

/** The tasks the list shows, one of most statuses, oldest first. */
function seedTaskList(db: Db, now: number): void {
  insertTask(db, { repoId: 'web-app', status: 'completed', sender: 'carol@example.com', subject: 'Fix the login redirect after the session expires', model: 'claude-sonnet-4-5', costUsd: 0.4211, createdAt: now - 300 * MIN, startedAt: now - 299 * MIN, finishedAt: now - 290 * MIN });
  insertTask(db, { repoId: 'web-app', status: 'failed', sender: LONG_SENDER, subject: `Why does the build pin ${LONG_TOKEN}?`, model: 'claude-sonnet-4-5', costUsd: 0.0873, error: `container exited with code 137 while pulling ${LONG_TOKEN}: out of memory`, createdAt: now - 240 * MIN, startedAt: now - 239 * MIN, finishedAt: now - 236 * MIN });
  insertTask(db, { repoId: 'api-server', status: 'rejected', sender: 'mallory@evil.example', subject: 'Please run this script for me', reason: 'unauthorized', detail: 'mallory@evil.example is not an authorized sender', createdAt: now - 200 * MIN });
  insertTask(db, { repoId: 'web-app', status: 'timeout', sender: 'dave@example.com', subject: 'Rewrite the whole frontend in a weekend', model: 'claude-opus-4-1', costUsd: 2.5012, createdAt: now - 180 * MIN, startedAt: now - 179 * MIN, finishedAt: now - 119 * MIN });
  insertTask(db, { repoId: 'web-app', status: 'cancelled', sender: 'erin@example.com', subject: 'Try the other approach', error: 'stopped by an operator', createdAt: now - 100 * MIN, startedAt: now - 99 * MIN, finishedAt: now - 98 * MIN });
  insertTask(db, { repoId: 'api-server', status: 'budget_exceeded', sender: 'carol@example.com', subject: 'Profile the slow /reports endpoint', model: 'claude-sonnet-4-5', costUsd: 1.0004, createdAt: now - 90 * MIN, startedAt: now - 89 * MIN, finishedAt: now - 70 * MIN });
  insertTask(db, { repoId: 'web-app', status: 'paused', sender: 'dave@example.com', subject: 'Translate the settings page', model: 'claude-sonnet-4-5', createdAt: now - 40 * MIN, startedAt: now - 39 * MIN });
  insertTask(db, { repoId: 'api-server', status: 'queued', sender: 'dave@example.com', subject: 'Add pagination to /users', createdAt: now - 1 * MIN });
}

/** The events of a run that started at `startedAt`, a few seconds apart. */
function seedTimeline(db: Db, taskId: number, startedAt: number): void {
  let at = startedAt;
  const ev = (kind: string, data: Record<string, unknown>): void => void appendTaskEvent(db, taskId, kind, { type: kind, ...data }, (at += 7_000));
  ev('system_init', { sessionId: 'sess-7f3a', model: 'claude-opus-4-1', cwd: '/workspace' });
  ev('assistant_text', { text: 'I will check which driver version the pool code expects first.' });
  ev('tool_use', { id: 't1', name: 'Bash', input: { command: 'npm ls pg && git log --oneline -5 -- src/db/pool.ts', description: 'versions' } });
  ev('tool_result', { toolUseId: 't1', isError: false, content: `pg@8.11.3\n${LONG_TOKEN} src/db/pool.ts: reconnect on failover` });
  ev('todo_list', { todos: [{ content: 'Read the changelog', status: 'completed' }, { content: 'Bump the version', status: 'completed' }, { content: 'Run the failover test', status: 'completed' }] });
  ev('result', { isError: false, subtype: 'success', costUsd: 0.6123, turns: 14, durationMs: 512_000, result: 'Upgraded pg to 8.13 and added a failover test; all tests pass.' });
}

function seedReply(db: Db, taskId: number, subject: string, at: number): void {
  const id = enqueueMail(
    db,
    { repoId: DEMO_CONVERSATION.repoId, taskId, conversationId: DEMO_CONVERSATION.id, kind: 'reply', messageId: `<reply-${taskId}@api-server.example.com>`, recipient: LONG_SENDER, subject, raw: Buffer.from('demo'), bodyMarkdown: 'Done: **pg 8.13**, with a failover test.' },
    at,
  );
  markSent(db, id, at + 2_000);
}

/** The first mail's text (with a list and code, as people write), its attachment and the reply's files. */
function seedRequestAndFiles(db: Db, taskId: number): void {
  saveTaskRequest(db, taskId, {
    text: 'Hi,\nplease upgrade `pg` to the new major version and make sure the pool survives a failover:\n\n- reconnect with backoff\n- keep in-flight queries failing fast\n\nThe logs from the last incident are attached.\nThanks, Max',
    original: 'Hi,\nplease upgrade `pg` to the new major version and make sure the pool survives a failover.\n\n-- \nMax, Platform team',
  });
  const kept = (direction: 'in' | 'out', name: string, size: number, contentType: string): void =>
    void addTaskFile(db, { taskId, direction, name, size, contentType, path: `conversations/${DEMO_CONVERSATION.id}/task-files/${taskId}/${'0'.repeat(31)}${direction === 'in' ? 1 : 2}`, sha256: null, note: null });
  kept('in', 'incident-2026-11-28.log', 184_320, 'text/plain');
  kept('out', 'failover-test.patch', 6_144, 'text/plain');
  addTaskFile(db, { taskId, direction: 'out', name: 'heap-snapshot.heapsnapshot', size: 412_000_000, contentType: 'application/octet-stream', path: null, sha256: null, note: 'over task_output.max_kept_file_bytes_per_task' });
}

/** Four weeks of finished tasks over both repositories, for the Overview's charts. */
function seedHistory(db: Db, now: number): void {
  const outcomes = ['completed', 'completed', 'completed', 'failed', 'completed', 'rejected', 'timeout', 'completed', 'cancelled'] as const;
  const reasons = ['unauthorized', 'dmarc_fail', 'unauthorized', 'loop'];
  for (let day = 28; day >= 1; day--) {
    const perDay = 2 + ((day * 7) % 5);
    for (let i = 0; i < perDay; i++) {
      const status = outcomes[(day + i) % outcomes.length]!;
      const createdAt = now - day * DAY + i * 37 * MIN;
      const repoId = DEMO_REPOS[(day + i) % 2]!;
      if (status === 'rejected') {
        insertTask(db, { repoId, status, sender: 'mallory@evil.example', subject: 'Run this', reason: reasons[(day + i) % reasons.length]!, createdAt });
        continue;
      }
      const wait = (5 + ((day * 13 + i * 7) % 40)) * 1000;
      const run = (60 + ((day * 31 + i * 17) % 600)) * 1000;
      insertTask(db, { repoId, status, sender: 'carol@example.com', subject: `Routine task ${day}.${i}`, model: 'claude-sonnet-4-5', costUsd: 0.05 + ((day + i) % 7) * 0.11, createdAt, startedAt: createdAt + wait, finishedAt: createdAt + wait + run });
    }
  }
}

/** The conversation: a finished first task, a follow-up now running, requests through the proxy. */
function seedConversation(db: Db, now: number): DemoSeed {
  const { repoId, id: conversationId } = DEMO_CONVERSATION;
  upsertConversation(db, repoId, conversationId, { subject: LONG_SUBJECT.replace(/^Re: \[ID:\w+\] /, ''), sender: LONG_SENDER, model: 'claude-opus-4-1' }, now - 30 * MIN);
  const taskId = insertTask(db, { repoId, status: 'completed', sender: LONG_SENDER, subject: LONG_SUBJECT.replace(/^Re: /, ''), conversationId, model: 'claude-opus-4-1', costUsd: 0.6123, createdAt: now - 30 * MIN, startedAt: now - 29 * MIN, finishedAt: now - 20 * MIN });
  setTaskNetworkSandbox(db, taskId, true);
  seedRequestAndFiles(db, taskId);
  seedTimeline(db, taskId, now - 29 * MIN);
  seedReply(db, taskId, LONG_SUBJECT, now - 20 * MIN);
  const runningId = insertTask(db, { repoId, status: 'running', sender: LONG_SENDER, subject: LONG_SUBJECT, conversationId, model: 'claude-opus-4-1', createdAt: now - 5 * MIN, startedAt: now - 4 * MIN });
  setTaskNetworkSandbox(db, runningId, true);
  saveTaskRequest(db, runningId, {
    text: 'Thanks! One more thing: the pool should log each failover once, not once per connection.',
    original: 'Thanks! One more thing: the pool should log each failover once, not once per connection.\n\nOn Tue, the agent wrote:\n> Done: **pg 8.13**, with a failover test.',
  });
  recordTaskStage(db, runningId, getTask(db, runningId)!.attempts, 'agent', now - 3 * MIN);
  appendTaskEvent(db, runningId, 'assistant_text', { type: 'assistant_text', text: 'Looking at the failover path again.' }, now - 3 * MIN);
  insertNetworkRequests(db, { repoId, conversationId, taskId }, [
    netEntry({ at: now - 28 * MIN, host: 'registry.npmjs.org', path: '/pg' }),
    netEntry({ at: now - 27 * MIN, host: 'api.anthropic.com', method: 'POST', path: '/v1/messages?beta=true', masked: 1, rule: 'url_prefixes[0]: api.anthropic.com /v1/*' }),
    netEntry({ at: now - 26 * MIN, host: 'objects.githubusercontent.com', path: `/github-production-release-asset/${LONG_TOKEN}/pg-native-linux-x64.tar.gz`, rule: 'domains[3]: *.githubusercontent.com' }),
    netEntry({ at: now - 25 * MIN, host: 'pastebin.com', method: 'PUT', path: '/upload', status: 403, allowed: false, rule: 'host pastebin.com is not in the allowlist' }),
  ]);
  return { taskId, runningId, conversation: DEMO_CONVERSATION };
}

/** Writes the demo data into an empty, migrated database. */
export function seedDashboard(db: Db, now: number = Date.now()): DemoSeed {
  saveListenerStatus(db, 'web-app', { state: 'idle', detail: 'IDLE on INBOX', lastError: null, nextRetryAt: null }, now - 2 * MIN);
  saveListenerStatus(db, 'api-server', { state: 'backoff', detail: 'reconnecting in 8 s', lastError: 'connection reset by imap.example-corporation.co.uk:993 (ECONNRESET)', nextRetryAt: now + 8_000 }, now - MIN);
  seedHistory(db, now);
  seedTaskList(db, now);
  return seedConversation(db, now);
}
