import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShotArgs, ShotArgsError } from '../../../scripts/dashboard-shots/args.ts';
import { DASHBOARD_PAGES } from '../../../scripts/dashboard-shots/pages.ts';

const ROOT = '/project';

function refused(argv: string[], code: string, message: RegExp): void {
  assert.throws(
    () => parseShotArgs(argv, ROOT),
    (err: unknown) => err instanceof ShotArgsError && err.code === code && message.test(err.message) && /usage: npm run screenshots/.test(err.message),
    argv.join(' '),
  );
}

describe('npm run screenshots: its command line', () => {
  it('writes every page into docs/images/ by default', () => {
    assert.deepEqual(parseShotArgs([], ROOT), { outDir: '/project/docs/images', pages: DASHBOARD_PAGES });
  });

  it('takes an output directory (relative to the project) and a choice of pages', () => {
    const args = parseShotArgs(['--out', 'tmp/shots', '--page', 'repos', '--page', 'login'], ROOT)!;
    assert.equal(args.outDir, '/project/tmp/shots');
    assert.deepEqual(args.pages.map((p) => p.name), ['repos', 'login']);
    assert.equal(parseShotArgs(['--out', '/abs/dir'], ROOT)!.outDir, '/abs/dir');
  });

  it('answers --help with null (the script prints its usage)', () => {
    assert.equal(parseShotArgs(['--help'], ROOT), null);
    assert.equal(parseShotArgs(['-h'], ROOT), null);
  });

  it('refuses what it cannot act on, naming the problem and showing the usage', () => {
    refused(['--bogus'], 'UNKNOWN_ARGUMENT', /unknown argument --bogus/);
    refused(['docs/images'], 'UNKNOWN_ARGUMENT', /unknown argument docs\/images/);
    refused(['--out'], 'MISSING_VALUE', /--out needs a value/);
    refused(['--out', ''], 'MISSING_VALUE', /--out needs a value/);
    refused(['--page', '--out', 'x'], 'MISSING_VALUE', /--page needs a value/);
    refused(['--page', 'overview-of-everything'], 'UNKNOWN_PAGE', /there is no page "overview-of-everything"/);
  });
});
