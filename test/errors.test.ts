import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AirutError, ERROR_CODES, RemoteError, isErrorCode, type ErrorCode } from '../src/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

// src/errors.ts included: ConfigError and ThreadCallError throw from there (the table's own
// `CODE: '…'` entries do not look like throw sites).
const sources = [...sourceFiles('src'), ...sourceFiles('workers')]
  .map((f) => ({ file: path.relative(ROOT, f), text: fs.readFileSync(f, 'utf8') }));

// A code literal where an error is made: `new AirutError('X'`, `new UserFacingError(\n 'X'`,
// `super('X'` in a subclass, `new ThreadCallError('X'`, and the mirror's `this.fail('X'`.
const THROW_SITE = /(?:new\s+(?:AirutError|UserFacingError|ThreadCallError)|super|this\.fail)\(\s*'([A-Z][A-Z0-9_]*)'/g;

function thrownCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const { file, text } of sources) {
    for (const m of text.matchAll(THROW_SITE)) found.set(m[1]!, [...(found.get(m[1]!) ?? []), file]);
  }
  return found;
}

describe('error codes', () => {
  it('every code thrown in src/ and workers/ is in ERROR_CODES', () => {
    const thrown = thrownCodes();
    assert.ok(thrown.size >= 30, `the scan found only ${thrown.size} codes; has the way errors are thrown changed?`);
    const unknown = [...thrown].filter(([code]) => !isErrorCode(code)).map(([code, files]) => `${code} (${files.join(', ')})`);
    assert.deepEqual(unknown, []);
  });

  it('every code in ERROR_CODES is thrown somewhere: the table keeps no stale entries', () => {
    const thrown = thrownCodes();
    const stale = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => !thrown.has(code));
    assert.deepEqual(stale, []);
  });

  it('every code is documented with a sentence a person can act on', () => {
    for (const [code, doc] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^[A-Z][A-Z0-9_]*$/, code);
      assert.ok(doc.length >= 30, `${code}: "${doc}" says too little`);
    }
  });

  it('errors carry their code and cause, and no retry advice', () => {
    const cause = new Error('underneath');
    const err = new AirutError('GIT_FETCH_FAILED', 'git fetch of x failed', { cause });
    assert.equal(err.code, 'GIT_FETCH_FAILED');
    assert.equal(err.name, 'AirutError');
    assert.equal(err.cause, cause);
    assert.ok(!('retry' in err));
  });

  it('isErrorCode tells our codes from foreign ones', () => {
    assert.equal(isErrorCode('THREAD_GONE'), true);
    assert.equal(isErrorCode('SQLITE_BUSY'), false);
    assert.equal(isErrorCode('toString'), false, 'inherited names are not codes');
    assert.equal(isErrorCode(undefined), false);
  });

  it('a RemoteError keeps a foreign code, or says REMOTE_ERROR', () => {
    assert.equal(new RemoteError('SQLITE_BUSY', 'database is locked').code, 'SQLITE_BUSY');
    assert.equal(new RemoteError(undefined, 'x').code, 'REMOTE_ERROR');
    assert.ok(!(new RemoteError('SQLITE_BUSY', 'x') instanceof AirutError));
  });
});
