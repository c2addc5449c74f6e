/** Searching tasks on a real SQLite store: words (FTS5), hostile input, every filter, the cursor, the query plans. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../../src/store/database.ts';
import { saveTaskRequest } from '../../src/store/task-content.ts';
import {
  ftsQuery,
  MAX_SEARCH_CHARS,
  searchSql,
  searchTaskPage,
  searchWords,
  TaskSearchError,
  type TaskSearchQuery,
} from '../../src/store/task-search.ts';
import { insertTask, tempDb } from '../dashboard/helpers.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10);

function ids(db: Db, q: Partial<TaskSearchQuery> & { text?: string }): number[] {
  const { text, ...rest } = q;
  return searchTaskPage(db, { ...(text !== undefined ? { words: searchWords(text) } : {}), limit: 200, ...rest }).tasks.map((t) => t.id);
}

function searchCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TaskSearchError, `a TaskSearchError, not ${String(err)}`);
    assert.ok(err.message.length > 10, 'a message a person can act on');
    return err.code;
  }
  return 'no error';
}

describe('task search', () => {
  let db: Db;
  let cleanup: () => void;
  let parser: number;
  let cafe: number;
  let redirect: number;
  let noRequest: number;
  let rejected: number;

  before(() => {
    ({ db, cleanup } = tempDb());
    parser = insertTask(db, { repoId: 'alpha', status: 'completed', sender: 'Alice@Example.com', subject: 'Re: [ID:ab12cd34] Parser', createdAt: T0 });
    saveTaskRequest(db, parser, { text: 'please fix the flaky parser in the widget module', original: 'please fix the flaky parser\n> quoted zanzibar' });
    cafe = insertTask(db, { repoId: 'beta', status: 'failed', sender: 'bob@example.org', subject: 'Menu of the café', createdAt: T0 + DAY });
    saveTaskRequest(db, cafe, { text: 'Übersetze die Speisekarte, naïve résumé', original: '' });
    redirect = insertTask(db, { repoId: 'alpha', status: 'completed', sender: 'carol@example.com', subject: 'Fix the login redirect', createdAt: T0 + 2 * DAY });
    saveTaskRequest(db, redirect, { text: 'the login page sends people to /home; subject matter experts agree', original: '' });
    // Its request was never recorded: only its subject is searchable.
    noRequest = insertTask(db, { repoId: 'beta', status: 'queued', sender: 'dave@example.com', subject: 'Quarterly report', createdAt: T0 + 3 * DAY });
    rejected = insertTask(db, { repoId: 'alpha', status: 'rejected', sender: 'mallory@evil.example', subject: 'run this', createdAt: T0 + 3 * DAY + 1 });
  });

  after(() => cleanup());

  it('finds a task by a word of its subject or of its request text, every word required', () => {
    assert.deepEqual(ids(db, { text: 'parser' }), [parser], 'subject and body');
    assert.deepEqual(ids(db, { text: 'widget' }), [parser], 'a word of the body only');
    assert.deepEqual(ids(db, { text: 'login people' }), [redirect], 'words from subject and body together');
    assert.deepEqual(ids(db, { text: 'login widget' }), [], 'all words must occur');
    assert.deepEqual(ids(db, { text: 'zanzibar' }), [], 'the quoted original is not indexed, only the text the agent received');
    assert.deepEqual(ids(db, { text: 'QUARTERLY' }), [noRequest], 'case-insensitive; a task without a recorded request is found by its subject');
    assert.deepEqual(ids(db, { text: 'ab12cd34' }), [parser], 'the conversation tag is a word of the subject');
  });

  it('matches word prefixes and ignores diacritics both ways', () => {
    assert.deepEqual(ids(db, { text: 'redir' }), [redirect]);
    assert.deepEqual(ids(db, { text: 'fla pars' }), [parser]);
    assert.deepEqual(ids(db, { text: 'cafe' }), [cafe]);
    assert.deepEqual(ids(db, { text: 'café' }), [cafe]);
    assert.deepEqual(ids(db, { text: 'ubersetze naive resume' }), [cafe]);
    assert.deepEqual(ids(db, { text: 'ser' }), [], 'a prefix of a word, not a substring inside one');
  });

  it('treats FTS5 syntax in the input as plain words or separators, never as operators', () => {
    // Each of these would be an operator, a column filter or a syntax error if passed to MATCH as is.
    assert.deepEqual(ids(db, { text: 'fix OR zzz' }), [], 'OR is a word to find, not a union');
    assert.deepEqual(ids(db, { text: 'parser NOT widget' }), [], 'NOT is a word');
    assert.deepEqual(ids(db, { text: 'NEAR(login redirect)' }), [], 'NEAR( is the word near');
    assert.deepEqual(ids(db, { text: 'login -redirect' }), [redirect], '- separates; it does not exclude');
    assert.deepEqual(ids(db, { text: 'subject:widget' }), [], 'no column filter: subject and widget are both required words');
    assert.deepEqual(ids(db, { text: 'subject:login' }), [redirect], '"subject" occurs in that body');
    assert.deepEqual(ids(db, { text: '"parser' }), [parser], 'an unbalanced quote');
    assert.deepEqual(ids(db, { text: 'pars* "flaky parser"' }), [parser]);
    assert.deepEqual(ids(db, { text: '{}: ^fix + (parser)' }), [parser]);
    assert.deepEqual(ids(db, { text: 'AND' }), [], 'a lone operator keyword is a word');
    // Odd Unicode: a lone combining mark, private use, CJK, an emoji between words; each runs, none throws.
    for (const odd of ['\u0301', '\uE000', '日本語', 'ß', 'parser 🐛 fix']) assert.doesNotThrow(() => ids(db, { text: odd }), JSON.stringify(odd));
    assert.deepEqual(ids(db, { text: 'parser 🐛 fix' }), [parser]);
    for (const only of ['"', '*', '-', ':', '"" * ( ) : ^ + -', '\u0000\u0001']) {
      assert.equal(searchCode(() => searchWords(only)), 'SEARCH_NO_WORDS', JSON.stringify(only));
    }
  });

  it('refuses a search that is too long or has too many words, with a clear error', () => {
    assert.equal(searchCode(() => searchWords('x'.repeat(10_240))), 'SEARCH_TOO_LONG');
    assert.equal(searchCode(() => searchWords('"'.repeat(10_240))), 'SEARCH_TOO_LONG');
    assert.equal(searchWords('y'.repeat(MAX_SEARCH_CHARS)).length, 1, 'the limit itself is accepted');
    assert.equal(searchCode(() => searchWords(Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '))), 'SEARCH_TOO_MANY_WORDS');
  });

  it('builds each word as a quoted prefix term', () => {
    assert.deepEqual(searchWords('  Fix: the "login"-page '), ['Fix', 'the', 'login', 'page']);
    assert.equal(ftsQuery(['fix', 'a"b']), '"fix"* "a""b"*');
  });

  it('filters by sender (a substring, any case), repository, status and creation date', () => {
    assert.deepEqual(ids(db, { sender: 'alice@example.com' }), [parser], 'the whole address, whatever its case');
    assert.deepEqual(ids(db, { sender: 'EXAMPLE.COM' }), [noRequest, redirect, parser]);
    assert.deepEqual(ids(db, { sender: '%' }), [], 'LIKE wildcards are plain characters');
    assert.deepEqual(ids(db, { sender: 'example', repoId: 'beta' }), [noRequest, cafe]);
    assert.deepEqual(ids(db, { sender: 'example', status: 'failed' }), [cafe]);
    assert.deepEqual(ids(db, { fromMs: T0 + DAY, untilMs: T0 + 3 * DAY }), [redirect, cafe], 'from inclusive, until exclusive');
    assert.deepEqual(ids(db, { fromMs: T0 + 3 * DAY }), [rejected, noRequest]);
    assert.deepEqual(ids(db, { untilMs: T0 + 1 }), [parser]);
    assert.deepEqual(ids(db, { text: 'fix', repoId: 'alpha', status: 'completed', sender: 'carol', fromMs: T0 + DAY, untilMs: T0 + 4 * DAY }), [redirect]);
    assert.deepEqual(ids(db, { text: 'fix', repoId: 'beta' }), []);
  });

  it('pages newest first with a stable cursor, also while new matching tasks arrive', () => {
    const { db: d, cleanup: c } = tempDb();
    try {
      const made: number[] = [];
      for (let i = 0; i < 7; i++) {
        const id = insertTask(d, { subject: `deploy number ${i}`, sender: i % 2 ? 'odd@example.com' : 'even@example.com' });
        made.push(id);
        insertTask(d, { subject: 'unrelated' });
      }
      const q = { words: searchWords('deploy'), limit: 3 };
      const p1 = searchTaskPage(d, q);
      assert.deepEqual(p1.tasks.map((t) => t.id), made.slice(4).reverse());
      assert.equal(p1.nextBefore, made[4]);
      // New matches arrive between pages: the next pages do not shift.
      for (let i = 0; i < 3; i++) insertTask(d, { subject: 'deploy again' });
      const p2 = searchTaskPage(d, { ...q, beforeId: p1.nextBefore! });
      assert.deepEqual(p2.tasks.map((t) => t.id), made.slice(1, 4).reverse());
      const p3 = searchTaskPage(d, { ...q, beforeId: p2.nextBefore! });
      assert.deepEqual(p3.tasks.map((t) => t.id), [made[0]]);
      assert.equal(p3.nextBefore, null, 'the last page says so');
      // The same with a filter-only search (no words).
      const s1 = searchTaskPage(d, { sender: 'odd@', limit: 2 });
      assert.deepEqual(s1.tasks.map((t) => t.id), [made[5], made[3]]);
      insertTask(d, { subject: 'later', sender: 'odd@example.com' });
      assert.deepEqual(searchTaskPage(d, { sender: 'odd@', limit: 2, beforeId: s1.nextBefore! }).tasks.map((t) => t.id), [made[1]]);
    } finally {
      c();
    }
  });

  it('lets the index drive a word search and walks tasks in id order otherwise: no sort of all matches', () => {
    const plan = (q: TaskSearchQuery): string[] => {
      const { sql, args } = searchSql(q);
      return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail);
    };
    const words = plan({ words: ['fix'], repoId: 'alpha', status: 'completed', sender: 'x', fromMs: 1, untilMs: 2, beforeId: 10, limit: 50 });
    assert.match(words[0]!, /^SCAN s VIRTUAL TABLE INDEX/, words.join(' | '));
    assert.match(words[1]!, /^SEARCH t USING INTEGER PRIMARY KEY/, words.join(' | '));
    assert.ok(!words.some((d) => /TEMP B-TREE/.test(d)), words.join(' | '));
    for (const q of [{ sender: 'x', limit: 50 }, { fromMs: 1, untilMs: 2, beforeId: 10, limit: 50 }, { sender: 'x', repoId: 'alpha', limit: 50 }]) {
      const p = plan(q);
      assert.ok(!p.some((d) => /TEMP B-TREE|VIRTUAL TABLE/.test(d)), p.join(' | '));
    }
  });
});
