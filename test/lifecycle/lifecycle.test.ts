import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirutError } from '../../src/errors.ts';
import { LIFECYCLE_STATES, Lifecycle, LifecycleError, canTransition, transition, type LifecycleState } from '../../src/lifecycle/lifecycle.ts';

// The table the daemon's parts rely on, written out again so a change to it is a deliberate one.
const ALLOWED = new Set([
  'created→starting',
  'created→stopping',
  'starting→running',
  'starting→stopping',
  'starting→failed',
  'running→stopping',
  'running→failed',
  'stopping→stopped',
  'stopping→failed',
  'failed→starting',
  'failed→stopping',
]);

const PAIRS: Array<[LifecycleState, LifecycleState]> = LIFECYCLE_STATES.flatMap((from) => LIFECYCLE_STATES.map((to) => [from, to] as [LifecycleState, LifecycleState]));

describe('lifecycle transitions', () => {
  for (const [from, to] of PAIRS.filter(([f, t]) => ALLOWED.has(`${f}→${t}`))) {
    it(`allows ${from} → ${to}`, () => {
      assert.equal(canTransition(from, to), true);
      assert.equal(transition('part', from, to), to);
    });
  }

  for (const [from, to] of PAIRS.filter(([f, t]) => !ALLOWED.has(`${f}→${t}`))) {
    it(`refuses ${from} → ${to} with a typed error`, () => {
      assert.equal(canTransition(from, to), false);
      assert.throws(
        () => transition('dispatcher', from, to),
        (err: unknown) => {
          assert.ok(err instanceof LifecycleError);
          assert.ok(err instanceof AirutError);
          assert.equal(err.code, 'LIFECYCLE_TRANSITION_REFUSED');
          assert.equal(err.part, 'dispatcher');
          assert.equal(err.from, from);
          assert.equal(err.to, to);
          assert.match(err.message, new RegExp(`^dispatcher cannot go from ${from} to ${to}; `));
          return true;
        },
      );
    });
  }

  it('stopped is final, and the message says so', () => {
    assert.throws(() => transition('daemon', 'stopped', 'starting'), /from stopped it can only go to nothing \(it is final\)/);
  });
});

describe('Lifecycle', () => {
  it('starts created, follows allowed transitions, and keeps its state when one is refused', () => {
    const life = new Lifecycle('repo listener alpha');
    assert.equal(life.state, 'created');
    life.to('starting');
    life.to('running');
    assert.ok(life.is('starting', 'running'));
    assert.throws(() => life.to('created'), LifecycleError);
    assert.equal(life.state, 'running');
    life.to('failed');
    life.to('starting'); // a restart
    life.to('stopping');
    life.to('stopped');
    assert.ok(life.is('stopped'));
    assert.ok(!life.is('running', 'stopping'));
  });

  it('can begin elsewhere than created', () => {
    assert.equal(new Lifecycle('x', 'running').state, 'running');
  });
});
