import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RunnerFaults, runnerFaultArea, taskProvesStorage } from '../../src/health/runner-faults.ts';
import { StorageHealth, type StorageFaultInfo } from '../../src/health/storage-faults.ts';

const repos = { alpha: { storageDir: '/srv/airut/alpha' } };
const disk = (p: string): StorageFaultInfo => ({ kind: 'disk', path: p, code: 'ENOSPC', message: 'no space left on device' });
const database: StorageFaultInfo = { kind: 'database', path: '/srv/airut/db.sqlite', code: 'SQLITE_FULL', message: 'database or disk is full' };

describe('runnerFaultArea', () => {
  const cases: Array<[string, string, StorageFaultInfo, string]> = [
    ['a SQLite error counts for the database, wherever', 'alpha', database, 'database'],
    ["the repo's storage dir itself", 'alpha', disk('/srv/airut/alpha'), 'storage:alpha'],
    ["a path under the repo's storage dir", 'alpha', disk('/srv/airut/alpha/conversations/c0ffee00/x'), 'storage:alpha'],
    ['a sibling whose name only starts the same', 'alpha', disk('/srv/airut/alphabet/x'), 'disk'],
    ['a path elsewhere', 'alpha', disk('/tmp/airut-x'), 'disk'],
    ['a repository no longer configured', 'gone', disk('/srv/airut/alpha/x'), 'disk'],
  ];
  for (const [name, repoId, fault, area] of cases) {
    it(name, () => assert.equal(runnerFaultArea(repos[repoId as 'alpha'], repoId, fault), area));
  }
});

describe('RunnerFaults', () => {
  it('records under the area, and a task that got through clears only the runner faults of its repo and the database', () => {
    const health = new StorageHealth({ databasePath: '/srv/airut/db.sqlite', log: pino({ level: 'silent' }) });
    const faults = new RunnerFaults(health, repos);
    faults.record('alpha', disk('/srv/airut/alpha/x'));
    faults.record('alpha', database);
    health.record('storage:alpha', 'probe', disk('/srv/airut/alpha'));
    assert.deepEqual(health.faults().map((f) => `${f.area}/${f.source}`).sort(), ['database/runner', 'storage:alpha/probe', 'storage:alpha/runner']);

    let looked = 0;
    faults.taskFinished('failed', () => (looked++, 'alpha'));
    assert.equal(looked, 0, 'a failed task proves nothing and is not looked up');
    assert.equal(health.faults().length, 3);

    faults.taskFinished('completed', () => 'alpha');
    assert.deepEqual(health.faults().map((f) => `${f.area}/${f.source}`), ['storage:alpha/probe']);
  });

  it('which outcomes prove the storage works', () => {
    assert.deepEqual(
      ['completed', 'timeout', 'cancelled', 'failed', 'interrupted', 'rejected'].filter(taskProvesStorage),
      ['completed', 'timeout', 'cancelled'],
    );
  });
});
