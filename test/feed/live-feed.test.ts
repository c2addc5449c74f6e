import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LiveFeed, type NetworkRowsStored, type TaskEventAppended } from '../../src/feed/live-feed.ts';

describe('LiveFeed', () => {
  it('delivers each kind of change to the subscribers of that kind only', () => {
    const feed = new LiveFeed();
    const tasks: number[] = [];
    const events: TaskEventAppended[] = [];
    const network: NetworkRowsStored[] = [];
    feed.subscribe('task', (id) => tasks.push(id));
    feed.subscribe('task-event', (e) => events.push(e));
    feed.subscribe('network', (e) => network.push(e));
    feed.taskChanged(7);
    feed.taskEvent({ taskId: 7, eventId: 3 });
    feed.network({ repoId: 'alpha', conversationId: 'c0ffee00', taskId: 7, lastId: 12 });
    assert.deepEqual(tasks, [7]);
    assert.deepEqual(events, [{ taskId: 7, eventId: 3 }]);
    assert.deepEqual(network, [{ repoId: 'alpha', conversationId: 'c0ffee00', taskId: 7, lastId: 12 }]);
  });

  it('counts subscribers and forgets one when it unsubscribes (twice is harmless)', () => {
    const feed = new LiveFeed();
    const seen: number[] = [];
    const fn = (id: number) => seen.push(id);
    const a = feed.subscribe('task', fn);
    const b = feed.subscribe('task', fn);
    assert.equal(feed.listenerCount('task'), 2);
    assert.equal(feed.listenerCount('network'), 0);
    feed.taskChanged(1);
    a();
    a();
    assert.equal(feed.listenerCount('task'), 1);
    feed.taskChanged(2);
    b();
    assert.equal(feed.listenerCount('task'), 0);
    feed.taskChanged(3);
    assert.deepEqual(seen, [1, 1, 2]);
  });

  it('lets a subscriber unsubscribe while a change is delivered', () => {
    const feed = new LiveFeed();
    const seen: string[] = [];
    const off = feed.subscribe('task', () => {
      seen.push('first');
      off();
    });
    feed.subscribe('task', () => seen.push('second'));
    feed.taskChanged(1);
    feed.taskChanged(2);
    assert.deepEqual(seen, ['first', 'second', 'second']);
  });

  it('has no limit on subscribers (one per open dashboard stream)', () => {
    const feed = new LiveFeed();
    for (let i = 0; i < 100; i++) feed.subscribe('task', () => {});
    assert.equal(feed.listenerCount('task'), 100);
  });
});
