import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routeRunnerMessage } from '../../src/daemon/runner-messages.ts';
import { LiveFeed } from '../../src/feed/live-feed.ts';
import type { StorageFaultInfo } from '../../src/health/storage-faults.ts';

function targets() {
  const feed = new LiveFeed();
  const seen: unknown[] = [];
  feed.subscribe('task', (id) => seen.push(['task', id]));
  feed.subscribe('task-event', (e) => seen.push(['task-event', e]));
  feed.subscribe('network', (e) => seen.push(['network', e]));
  const faults: Array<[string, StorageFaultInfo]> = [];
  return { to: { feed, faults: { record: (repoId: string, f: StorageFaultInfo) => faults.push([repoId, f]) } }, seen, faults };
}

describe('routeRunnerMessage', () => {
  it('turns runner messages into feed changes and storage faults; a stage start is a change of its task', () => {
    const t = targets();
    const fault: StorageFaultInfo = { kind: 'disk', path: '/srv/x', code: 'ENOSPC', message: 'full' };
    routeRunnerMessage({ type: 'event', taskId: 1, eventId: 5, kind: 'assistant' }, t.to);
    routeRunnerMessage({ type: 'network', taskId: 1, repoId: 'alpha', conversationId: 'c0ffee00', lastId: 9 }, t.to);
    routeRunnerMessage({ type: 'task-changed', taskId: 1 }, t.to);
    routeRunnerMessage({ type: 'storage-fault', taskId: 1, repoId: 'alpha', fault }, t.to);
    routeRunnerMessage({ type: 'stage', taskId: 2, stage: 'image', at: 1_700_000_000_000 }, t.to);
    assert.deepEqual(t.seen, [
      ['task-event', { taskId: 1, eventId: 5 }],
      ['network', { repoId: 'alpha', conversationId: 'c0ffee00', taskId: 1, lastId: 9 }],
      ['task', 1],
      ['task', 2],
    ]);
    assert.deepEqual(t.faults, [['alpha', fault]]);
  });
});
