import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineLogger } from '../../src/log/line-logger.ts';
import { forgetSecretValues, registerSecretValues } from '../../src/log/secret-values.ts';

function capture(level = 'info'): { lines: Array<Record<string, unknown>>; raw: string[]; write: (line: string) => void; level: string } {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    raw,
    level,
    write: (line) => {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

test('a line is the JSON of the main logger: level label, ISO time, bindings, fields, msg; one per line', () => {
  const out = capture();
  const log = createLineLogger({ repo: 'alpha', thread: 'listener' }, out).child({ component: 'imap' });
  log.info({ uid: 7 }, 'IMAP connected');
  log.warn('server does not advertise IDLE');
  assert.equal(out.raw.length, 2);
  assert.ok(out.raw.every((l) => l.endsWith('}\n') && l.indexOf('\n') === l.length - 1));
  const [first, second] = out.lines;
  assert.deepEqual(Object.keys(first!), ['level', 'time', 'repo', 'thread', 'component', 'uid', 'msg']);
  assert.equal(first!.level, 'info');
  assert.match(String(first!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual({ ...first, time: 0 }, { level: 'info', time: 0, repo: 'alpha', thread: 'listener', component: 'imap', uid: 7, msg: 'IMAP connected' });
  assert.equal(second!.level, 'warn');
  assert.equal(second!.msg, 'server does not advertise IDLE');
});

test('levels below the threshold are dropped; silent drops everything', () => {
  const out = capture();
  const log = createLineLogger({}, { ...out, level: 'warn' });
  log.debug('no');
  log.info('no');
  log.warn('yes');
  log.error({ err: 'x' }, 'yes');
  assert.deepEqual(out.lines.map((l) => l.level), ['warn', 'error']);
  const silent = capture();
  createLineLogger({}, { ...silent, level: 'silent' }).fatal('no');
  assert.equal(silent.raw.length, 0);
});

test('credential-named fields are redacted at any depth, and registered secret values anywhere in the line', () => {
  const out = capture();
  registerSecretValues(['hunter2-imap-password', 'tok"en-with-quote']);
  try {
    const log = createLineLogger({ repo: 'alpha' }, out);
    log.warn(
      {
        password: 'p1',
        login: { token: 't1', nested: { secret: 's1', deeper: { apiKey: 'k1' } } },
        err: 'login failed for hunter2-imap-password',
        quoted: 'x tok"en-with-quote y',
      },
      'IMAP connection error with hunter2-imap-password',
    );
    const line = out.raw[0]!;
    for (const secret of ['p1', 't1', 's1', 'k1', 'hunter2-imap-password', 'tok\\"en-with-quote']) assert.ok(!line.includes(secret), `${secret} is not in ${line}`);
    const rec = out.lines[0] as { password: string; login: { token: string; nested: { secret: string; deeper: { apiKey: string } } }; msg: string };
    assert.equal(rec.password, '[REDACTED]');
    assert.equal(rec.login.token, '[REDACTED]');
    assert.equal(rec.login.nested.secret, '[REDACTED]');
    assert.equal(rec.login.nested.deeper.apiKey, '[REDACTED]');
    assert.equal(rec.msg, 'IMAP connection error with [REDACTED]');
  } finally {
    forgetSecretValues(['hunter2-imap-password', 'tok"en-with-quote']);
  }
});

test('an Error is written with its type, message and stack; a field JSON cannot write drops the fields, not the event', () => {
  const out = capture();
  const loop: Record<string, unknown> = { name: 'loop' };
  loop.self = loop;
  const log = createLineLogger({}, out);
  log.error({ err: new TypeError('bad input') }, 'failed');
  const err = (out.lines[0] as { err: { type: string; message: string; stack: string } }).err;
  assert.equal(err.type, 'TypeError');
  assert.equal(err.message, 'bad input');
  assert.match(err.stack, /TypeError: bad input/);
  log.info({ loop, big: 1n }, 'cycle');
  assert.equal(out.raw.length, 2, 'the event is logged all the same');
  const dropped = out.lines[1] as { msg: string; logFieldsDropped: string; loop?: unknown };
  assert.equal(dropped.msg, 'cycle');
  assert.match(dropped.logFieldsDropped, /circular|BigInt/i);
  assert.equal(dropped.loop, undefined);
});
