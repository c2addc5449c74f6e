/**
 * The scheduler against a real SQLite file and the real accept path, with an injected clock:
 * a slot runs once, missed slots collapse into one at start-up, and neither a restart between
 * record and advance nor two schedulers at once run a slot twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { RepoServerConfig, ScheduleConfig } from '../../src/config/types.ts';
import { DEFAULT_REJECTED_MAIL_POLICY } from '../../src/store/accept.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { getTaskRawMessage, listTasks } from '../../src/store/task-queries.ts';
import { recordScheduledRun } from '../../src/schedule/record-run.ts';
import { Scheduler } from '../../src/schedule/scheduler.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const at = (iso: string) => new Date(iso).getTime();

function schedule(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return {
    name: 'nightly',
    cron: '30 2 * * *',
    timezone: 'Europe/Helsinki',
    prompt: 'Look at last night\'s failures.',
    triggerCommand: null,
    triggerTimeoutSeconds: 300,
    outputLimitBytes: 102_400,
    subject: 'Nightly failures',
    model: 'opus',
    effort: 'high',
    enabled: true,
    deliverTo: 'Ops@Example.com',
    ...overrides,
  };
}

function repos(s: ScheduleConfig = schedule()): Record<string, RepoServerConfig> {
  return { api: testRepoServerConfig('api', { schedules: { [s.name]: s } }) };
}

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-sched-'));
  const file = path.join(dir, 'airut.db');
  const clock = { now: at('2026-05-04T12:00:00Z') };
  const open = () => openDatabase(file, { migrate: true });
  const scheduler = (db: Db) =>
    new Scheduler({
      db,
      log: pino({ level: 'silent' }),
      now: () => clock.now,
      record: async (repo, s, slot) => {
        await recordScheduledRun(db, repo, s, slot, DEFAULT_REJECTED_MAIL_POLICY, clock.now);
      },
    });
  /** A started scheduler that has made its first pass. */
  const begin = async (db: Db, r = repos()) => {
    const s = scheduler(db);
    s.start(r);
    await s.kick();
    return s;
  };
  return { dir, open, scheduler, begin, clock };
}

function scheduledTasks(db: Db) {
  return listTasks(db).filter((t) => t.messageId?.startsWith('<airut-schedule.'));
}

test('a new schedule starts from now; each slot then runs once, as an ordinary queued task', async () => {
  const { open, begin, clock } = setup();
  const db = open();
  const s = await begin(db);
  assert.equal(scheduledTasks(db).length, 0, 'slots before the schedule was first seen are not run');

  clock.now = at('2026-05-04T23:31:00Z'); // 02:31 in Helsinki (EEST, +3)
  await s.kick();
  await s.kick();
  const tasks = scheduledTasks(db);
  assert.equal(tasks.length, 1);
  const t = tasks[0]!;
  assert.equal(t.status, 'queued');
  assert.equal(t.sender, 'ops@example.com');
  assert.equal(t.subject, 'Nightly failures');
  assert.equal(t.modelHint, 'opus');
  assert.equal(t.messageId, `<airut-schedule.api.nightly.${at('2026-05-04T23:30:00Z')}@repo.example>`);
  const row = db.prepare(`SELECT schedule, effort, thread_refs FROM tasks WHERE id = ?`).get(t.id) as Record<string, unknown>;
  assert.deepEqual(row, { schedule: 'nightly', effort: 'high', thread_refs: '[]' });
  const raw = getTaskRawMessage(db, t.id)!.toString('utf8');
  assert.match(raw, /Look at last night's failures\./);
  assert.match(raw, /^From: ops@example\.com\r?$/im);

  clock.now = at('2026-05-05T23:31:00Z');
  await s.kick();
  assert.equal(scheduledTasks(db).length, 2, 'the next night runs again');
  await s.stop();
  db.close();
});

test('slots missed while stopped run once at start-up, for the newest slot', async () => {
  const { open, begin, clock } = setup();
  let db = open();
  let s = await begin(db);
  await s.stop();
  db.close();

  clock.now = at('2026-05-09T08:00:00Z'); // five nights missed
  db = open();
  s = await begin(db);
  const tasks = scheduledTasks(db);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.messageId, `<airut-schedule.api.nightly.${at('2026-05-08T23:30:00Z')}@repo.example>`);
  await s.stop();
  db.close();
});

test('a restart between the record and the slot advance does not run the slot twice', async () => {
  const { open, begin, clock } = setup();
  let db = open();
  let s = await begin(db);
  await s.stop();
  // The previous process recorded the 02:30 run, then died before moving the slot.
  clock.now = at('2026-05-04T23:30:30Z');
  await recordScheduledRun(db, repos().api!, schedule(), at('2026-05-04T23:30:00Z'), DEFAULT_REJECTED_MAIL_POLICY, clock.now);
  db.close();

  db = open();
  s = await begin(db);
  assert.equal(scheduledTasks(db).length, 1);
  const slot = db.prepare(`SELECT last_slot FROM schedule_slots WHERE repo_id = 'api' AND schedule = 'nightly'`).get() as { last_slot: number };
  assert.equal(slot.last_slot, at('2026-05-04T23:30:00Z'), 'the slot moved on after finding the earlier record');
  await s.stop();
  db.close();
});

test('two schedulers on one database run a slot once', async () => {
  const { open, scheduler, clock } = setup();
  const db1 = open();
  const db2 = open();
  const a = scheduler(db1);
  const b = scheduler(db2);
  a.start(repos());
  b.start(repos());
  await Promise.all([a.kick(), b.kick()]);
  clock.now = at('2026-05-04T23:31:00Z');
  await Promise.all([a.kick(), b.kick()]);
  await Promise.all([a.kick(), b.kick()]);
  assert.equal(scheduledTasks(db1).length, 1);
  await Promise.all([a.stop(), b.stop()]);
  db1.close();
  db2.close();
});

test('a disabled schedule never runs, and enabling it does not run the slots it skipped', async () => {
  const { open, begin, clock } = setup();
  const db = open();
  const s = await begin(db, repos(schedule({ enabled: false })));
  clock.now = at('2026-05-06T12:00:00Z');
  await s.kick();
  assert.equal(scheduledTasks(db).length, 0);
  s.setRepos(repos(schedule({ enabled: true })));
  await s.kick();
  assert.equal(scheduledTasks(db).length, 0, 'the skipped slots stay skipped');
  clock.now = at('2026-05-06T23:31:00Z');
  await s.kick();
  assert.equal(scheduledTasks(db).length, 1);
  await s.stop();
  db.close();
});

test('a stopped scheduler records nothing', async () => {
  const { open, begin, clock } = setup();
  const db = open();
  const s = await begin(db);
  await s.stop();
  await s.stop();
  clock.now = at('2026-05-06T23:31:00Z');
  await s.kick();
  assert.equal(scheduledTasks(db).length, 0);
  db.close();
});
