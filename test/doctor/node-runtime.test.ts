import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assessNodeVersion, nodeRuntimeCheck } from '../../src/doctor/node-runtime.ts';

const day = (iso: string) => new Date(`${iso}T12:00:00Z`);

describe('assessNodeVersion', () => {
  it('Node 24 and 22 within their support are ok, with the end of their security fixes', () => {
    assert.deepEqual(assessNodeVersion('v24.22.3', day('2026-12-03')), { check: 'node', status: 'ok', detail: 'v24.22.3, security fixes until 2028-04-30', fix: '' });
    assert.equal(assessNodeVersion('v22.23.5', day('2026-12-03')).status, 'ok');
  });

  it('an end-of-life Node is a warning when still supported, naming the date', () => {
    const r = assessNodeVersion('v22.23.5', day('2027-05-01'));
    assert.equal(r.status, 'warn');
    assert.match(r.detail, /end of life since 2027-04-30/);
    assert.match(r.fix, /node-setup\.sh/);
  });

  it('Node 20 (end of life, below what the project needs) is a failure that says how to install 24', () => {
    const r = assessNodeVersion('v20.20.2', day('2026-12-03'));
    assert.equal(r.status, 'FAIL');
    assert.match(r.detail, /v20\.20\.2, end of life since 2026-04-30; airut-ts needs Node 22 or 24/);
    assert.match(r.fix, /Node 24/);
  });

  it('an odd or untested major is a warning; an unreadable version too', () => {
    assert.match(assessNodeVersion('v25.1.0', day('2026-01-10')).detail, /odd release/);
    assert.match(assessNodeVersion('v26.12.1', day('2026-12-03')).detail, /not yet tested/);
    assert.equal(assessNodeVersion('v25.1.0', day('2026-07-01')).status, 'warn');
    assert.equal(assessNodeVersion('banana', day('2026-12-03')).status, 'warn');
  });

  it('the doctor check reports the running Node', async () => {
    const r = await nodeRuntimeCheck().run({ timeoutMs: 1000, signal: new AbortController().signal });
    assert.ok(!Array.isArray(r));
    assert.equal((r as { detail: string }).detail.split(',')[0], process.version);
  });
});
