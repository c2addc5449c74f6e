import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirutError } from '../../src/errors.ts';
import { ConversationStore, countedBytes, isConversationId, newConversationId, safeFileName } from '../../src/conversation/index.ts';
import { execFileSync } from 'node:child_process';

describe('conversation IDs', () => {
  it('are 8 lowercase hex characters, random', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newConversationId()));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}$/);
  });
  it('are recognised strictly', () => {
    assert.ok(isConversationId('abc12345'));
    for (const bad of ['ABC12345', 'abc1234', 'abc123456', '../../x1', 'abc1234g', '', null, 12345678]) {
      assert.equal(isConversationId(bad), false, String(bad));
    }
  });
});

describe('safeFileName', () => {
  const cases: Array<[string, string]> = [
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['a/b.txt', 'b.txt'],
    ['..\\..\\win.ini', 'win.ini'],
    ['', 'attachment'],
    ['..', 'attachment'],
    ['/', 'attachment'],
    ['   ', 'attachment'],
    ['.bashrc', 'bashrc'],
    ['...hidden.txt', 'hidden.txt'],
    ['dir/', 'dir'],
    ['\u202Egnp.exe', 'gnp.exe'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['a\u2066b\u2069c.txt', 'abc.txt'],
    ['bad\u0000name\u0007\u001b[31m.txt', 'badname[31m.txt'],
    ['tab\there\n.txt', 'tabhere.txt'],
    ['x..y.txt', 'x.y.txt'],
    ['Grüße.txt', 'Grüße.txt'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['COM1', '_COM1'],
    ['aux.c', '_aux.c'],
    ['LPT1 ', '_LPT1'],
    ['console.log', 'console.log'],
    ['CONTRIBUTING.md', 'CONTRIBUTING.md'],
    ['a/b/../PRN.pdf', '_PRN.pdf'],
    ['evil\u0000.sh.txt', 'evil.sh.txt'],
    ['/etc/shadow', 'shadow'],
    ['\ufeffre\u200bport\u200d.pdf', 'report.pdf'],
    ['file.txt...   ', 'file.txt'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(safeFileName(input), expected));
  }
  it('limits names to 200 bytes of UTF-8 and keeps the extension', () => {
    const long = safeFileName('x'.repeat(300) + '.pdf');
    assert.equal(Buffer.byteLength(long), 200);
    assert.ok(long.endsWith('.pdf'));
    const wide = safeFileName('€'.repeat(150) + '.tar'); // 3 bytes each
    assert.ok(Buffer.byteLength(wide) <= 200);
    assert.ok(wide.endsWith('.tar'));
    assert.doesNotMatch(wide, /\uFFFD/); // never cut inside a character
  });
});

describe('ConversationStore', () => {
  let root: string;
  let store: ConversationStore;
  let id: string;

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'airut-conv-'));
    store = new ConversationStore(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(async () => {
    id = newConversationId();
    await store.create(id, { repoId: 'api', model: 'sonnet', subject: 'Fix the build', sender: 'a@example.com' });
  });

  it('creates the storage layout of the specification', async () => {
    const p = store.paths(id);
    assert.equal(p.root, path.join(root, 'conversations', id));
    for (const d of [p.workspace, p.claude, p.inbox, p.outbox, p.storage]) assert.ok((await fs.stat(d)).isDirectory(), d);
    assert.ok(await store.exists(id));
    assert.equal(await store.exists('00000000'), false);
    assert.equal(await store.exists('../../etc'), false);
    await assert.rejects(store.create(id, { repoId: 'api', model: 'x' }), (e: AirutError) => e.code === 'CONVERSATION_EXISTS');
    assert.throws(() => store.paths('../escape'), (e: AirutError) => e.code === 'CONVERSATION_ID_INVALID');
  });

  it('round-trips context.json, written atomically', async () => {
    const c = await store.readContext(id);
    assert.equal(c.conversationId, id);
    assert.equal(c.repoId, 'api');
    assert.equal(c.model, 'sonnet');
    assert.equal(c.sessionId, null);
    assert.deepEqual(c.replies, []);
    assert.equal(c.subject, 'Fix the build');
    assert.ok(!Number.isNaN(Date.parse(c.createdAt)));

    await new Promise((r) => setTimeout(r, 5));
    const next = await store.updateContext(id, (x) => ({
      ...x,
      sessionId: 'sess-1',
      replies: [...x.replies, { messageId: '<airut.x@example.com>' }],
    }));
    assert.ok(next.updatedAt > c.updatedAt);
    assert.deepEqual(await store.readContext(id), next);
    const names = await fs.readdir(store.paths(id).root);
    assert.deepEqual(names.filter((n) => n.includes('.tmp-')), [], 'no temp files left');
  });

  it('reports a missing or corrupt context clearly', async () => {
    await assert.rejects(store.readContext('0badc0de'), (e: AirutError) => e.code === 'CONVERSATION_NOT_FOUND');
    await fs.writeFile(store.paths(id).context, '{"conversationId": ');
    await assert.rejects(store.readContext(id), (e: AirutError) => e.code === 'CONVERSATION_CONTEXT_INVALID' && /context\.json/.test(e.message));
  });

  it('writes a gitconfig that git reads', async () => {
    await store.writeGitconfig(id, { name: 'Airut "bot"', email: 'bot@example.com' });
    const text = await fs.readFile(store.paths(id).gitconfig, 'utf8');
    assert.match(text, /\[safe\]\n\tdirectory = \*/);
    const { execFileSync } = await import('node:child_process');
    const get = (k: string) => execFileSync('git', ['config', '--file', store.paths(id).gitconfig, k], { encoding: 'utf8' }).trim();
    assert.equal(get('user.name'), 'Airut "bot"');
    assert.equal(get('user.email'), 'bot@example.com');

    // an included image gitconfig keeps its credential helper, our identity wins
    const imageConfig = path.join(root, 'image-gitconfig');
    await fs.writeFile(imageConfig, '[user]\n\tname = Image\n[credential]\n\thelper = !gh auth git-credential\n');
    await store.writeGitconfig(id, { name: 'Bot', email: 'bot@example.com' }, { include: [imageConfig, '/nonexistent/x'] });
    const getInc = (k: string) =>
      execFileSync('git', ['config', '--includes', '--file', store.paths(id).gitconfig, '--get', k], { encoding: 'utf8' }).trim();
    assert.equal(getInc('user.name'), 'Bot');
    assert.equal(getInc('credential.helper'), '!gh auth git-credential');
  });

  it('saves attachments under safe, unique names', async () => {
    const inbox = store.paths(id).inbox;
    assert.equal(await store.saveAttachment(id, '../../etc/passwd', 'x'), 'passwd');
    assert.equal(await store.saveAttachment(id, 'a/b.txt', 'one'), 'b.txt');
    assert.equal(await store.saveAttachment(id, 'b.txt', 'two'), 'b-1.txt');
    assert.equal(await store.saveAttachment(id, 'c/b.txt', 'three'), 'b-2.txt');
    assert.equal(await store.saveAttachment(id, '..\\..\\win.ini', 'w'), 'win.ini');
    assert.equal(await store.saveAttachment(id, '', Buffer.from([1, 2])), 'attachment');
    assert.equal(await store.saveAttachment(id, '', 'again'), 'attachment-1');
    assert.equal(await store.saveAttachment(id, '\u202Egnp.exe', 'x'), 'gnp.exe');
    assert.equal(await store.saveAttachment(id, 'ctl\u0001\u001f\u007f.txt', 'x'), 'ctl.txt');
    const long = await store.saveAttachment(id, 'y'.repeat(300) + '.docx', 'x');
    const long2 = await store.saveAttachment(id, 'y'.repeat(300) + '.docx', 'x');
    assert.equal(Buffer.byteLength(long), 200);
    assert.ok(long2.endsWith('-1.docx') && Buffer.byteLength(long2) <= 200);
    assert.equal(await fs.readFile(path.join(inbox, 'b.txt'), 'utf8'), 'one');
    assert.equal(await fs.readFile(path.join(inbox, 'b-1.txt'), 'utf8'), 'two');
    // nothing escaped the inbox
    await assert.rejects(fs.access(path.join(store.paths(id).root, 'passwd')));
  });

  it('never follows a symlink planted in the inbox', async () => {
    const inbox = store.paths(id).inbox;
    const victim = path.join(root, 'victim.txt');
    await fs.writeFile(victim, 'original');
    await fs.symlink(victim, path.join(inbox, 'notes.txt'));
    await fs.symlink(path.join(root, 'does-not-exist-yet'), path.join(inbox, 'dangling.txt'));
    assert.equal(await store.saveAttachment(id, 'notes.txt', 'attacker data'), 'notes-1.txt');
    assert.equal(await store.saveAttachment(id, 'dangling.txt', 'attacker data'), 'dangling-1.txt');
    assert.equal(await fs.readFile(victim, 'utf8'), 'original');
    await assert.rejects(fs.access(path.join(root, 'does-not-exist-yet')));
    assert.equal(await fs.readFile(path.join(inbox, 'notes-1.txt'), 'utf8'), 'attacker data');
  });

  it('refuses an inbox that was replaced by a symlink', async () => {
    const p = store.paths(id);
    const elsewhere = path.join(root, 'elsewhere');
    await fs.mkdir(elsewhere, { recursive: true });
    await fs.rm(p.inbox, { recursive: true });
    await fs.symlink(elsewhere, p.inbox);
    await assert.rejects(store.saveAttachment(id, 'a.txt', 'x'), (e: AirutError) => e.code === 'CONVERSATION_UNSAFE_PATH');
    assert.deepEqual(await fs.readdir(elsewhere), []);
  });

  it('scans the outbox without following anything, opens only regular files, then clears it', async () => {
    const out = store.paths(id).outbox;
    const secret = path.join(root, 'host-secret.txt');
    await fs.writeFile(secret, 'host secret');
    await fs.writeFile(path.join(out, 'result.csv'), 'a,b\n');
    await fs.writeFile(path.join(out, 'chart.png'), Buffer.alloc(10));
    await fs.mkdir(path.join(out, 'subdir'));
    await fs.writeFile(path.join(out, 'subdir', 'nested.txt'), 'nested');
    await fs.symlink(secret, path.join(out, 'leak.txt'));
    await fs.symlink(path.join(out, 'subdir'), path.join(out, 'dirlink'));
    execFileSync('mkfifo', [path.join(out, 'pipe')]);
    const { entries, unexamined } = await store.scanOutbox(id, 100);
    assert.equal(unexamined, 0);
    assert.deepEqual(
      entries.map((e) => [e.name, e.kind]).sort(),
      [
        ['chart.png', 'file'],
        ['dirlink', 'symlink'],
        ['leak.txt', 'symlink'],
        ['pipe', 'fifo'],
        ['result.csv', 'file'],
        ['subdir', 'directory'],
      ],
    );
    const opened = await store.openOutboxFile(id, 'result.csv');
    try {
      assert.equal(opened.size, 4);
      assert.equal((await opened.handle.readFile()).toString(), 'a,b\n');
    } finally {
      await opened.handle.close();
    }
    await assert.rejects(store.openOutboxFile(id, 'leak.txt'), (e: AirutError) => e.code === 'CONVERSATION_UNSAFE_PATH');
    await assert.rejects(store.openOutboxFile(id, '../context.json'), (e: AirutError) => e.code === 'CONVERSATION_UNSAFE_PATH');
    // A FIFO with no writer would block a plain open forever; O_NONBLOCK opens it at once and it is refused.
    await assert.rejects(store.openOutboxFile(id, 'pipe'), (e: AirutError) => e.code === 'CONVERSATION_UNSAFE_PATH');

    await store.clearOutbox(id);
    assert.deepEqual(await fs.readdir(out), []);
    assert.equal(await fs.readFile(secret, 'utf8'), 'host secret', 'symlink target untouched');
    assert.deepEqual((await store.scanOutbox(id, 100)).entries, []);
  });

  it('counts sparse and preallocated outbox files by the larger of apparent and allocated size', async () => {
    const out = store.paths(id).outbox;
    // 3 GiB that take no disk: reading it would mean 3 GiB of zeros.
    await fs.writeFile(path.join(out, 'sparse.bin'), '');
    await fs.truncate(path.join(out, 'sparse.bin'), 3 * 1024 ** 3);
    // 2 MiB of disk behind a file that says it is empty.
    await fs.writeFile(path.join(out, 'prealloc.bin'), '');
    execFileSync('fallocate', ['--keep-size', '-l', '2M', path.join(out, 'prealloc.bin')]);
    const { entries } = await store.scanOutbox(id, 100);
    const byName = Object.fromEntries(entries.map((e) => [e.name, countedBytes(e.size, e.blocks)]));
    assert.equal(byName['sparse.bin'], 3 * 1024 ** 3);
    assert.ok(byName['prealloc.bin']! >= 2 * 1024 ** 2, `preallocated file counted as ${byName['prealloc.bin']}`);
    const opened = await store.openOutboxFile(id, 'prealloc.bin');
    await opened.handle.close();
    assert.equal(opened.size, 0);
    assert.ok(opened.bytes >= 2 * 1024 ** 2);
    await store.clearOutbox(id);
  });

  it('examines at most the given number of outbox entries and counts the rest', async () => {
    const out = store.paths(id).outbox;
    for (let i = 0; i < 30; i++) await fs.writeFile(path.join(out, `f${i}`), 'x');
    const { entries, unexamined } = await store.scanOutbox(id, 10);
    assert.equal(entries.length, 10);
    assert.equal(unexamined, 20);
    await store.clearOutbox(id);
  });

  it('lists, ages and deletes conversations', async () => {
    const other = newConversationId();
    await store.create(other, { repoId: 'api', model: 'opus' });
    await fs.mkdir(path.join(store.conversationsDir, 'not-an-id'));
    const ids = await store.listConversations();
    assert.ok(ids.includes(id) && ids.includes(other));
    assert.ok(!ids.includes('not-an-id'));

    const t = await store.lastActivity(other);
    assert.ok(t && Math.abs(t.getTime() - Date.now()) < 5000);
    const old = new Date(Date.now() - 10 * 86_400_000);
    await store.writeContext(other, { ...(await store.readContext(other)), updatedAt: old.toISOString() });
    await fs.utimes(store.paths(other).context, old, old);
    assert.equal((await store.lastActivity(other))?.getTime(), old.getTime());
    assert.equal(await store.lastActivity('0000dead'), null);

    await store.delete(other);
    assert.equal(await store.exists(other), false);
    assert.ok(!(await store.listConversations()).includes(other));
    await store.delete(other); // idempotent
    assert.deepEqual(await new ConversationStore(path.join(root, 'empty')).listConversations(), []);
  });
});
