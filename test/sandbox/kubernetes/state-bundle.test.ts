/**
 * The conversation state carried to a pod and back: a faithful round trip, and every hostile tar a
 * pod could return refused with the host directories left byte for byte as they were.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';
import { packStateIn, unpackStateOut, type StateDirs } from '../../../src/sandbox/kubernetes/state-bundle.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

const LIMITS = { maxFileBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024, maxEntries: 1000 };

async function makeDirs(root: string): Promise<StateDirs> {
  const dirs = {
    workspace: path.join(root, 'workspace'),
    claudeState: path.join(root, 'claude-state'),
    inbox: path.join(root, 'inbox'),
    outbox: path.join(root, 'outbox'),
    storage: path.join(root, 'storage'),
  };
  for (const d of Object.values(dirs)) await fs.mkdir(d, { recursive: true });
  await fs.writeFile(path.join(dirs.workspace, 'README.md'), 'hello\n');
  await fs.mkdir(path.join(dirs.workspace, 'src', 'empty'), { recursive: true });
  await fs.writeFile(path.join(dirs.workspace, 'src', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await fs.symlink('../README.md', path.join(dirs.workspace, 'src', 'readme-link'));
  await fs.writeFile(path.join(dirs.claudeState, 'settings.json'), '{}');
  await fs.writeFile(path.join(dirs.inbox, 'mail.txt'), 'attachment');
  await fs.writeFile(path.join(dirs.storage, 'notes'), 'kept');
  return dirs;
}

/** Every path under `root` with its kind, mode and content hash: "unchanged" means this is equal. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const r = path.join(rel, name);
      const abs = path.join(root, r);
      const st = await fs.lstat(abs);
      if (st.isSymbolicLink()) out[r] = `link ${await fs.readlink(abs)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        await walk(r);
      } else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(await fs.readFile(abs)).digest('hex')}`;
    }
  };
  await walk('');
  return out;
}

interface RawEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  content?: string;
  size?: number;
  linkname?: string;
  mode?: number;
}

const TOPS: RawEntry[] = ['workspace/', 'claude/', 'outbox/', 'storage/'].map((name) => ({ name, type: 'directory' }));

/** A tar made by hand with tar-stream, as a hostile pod could send it. */
async function rawTar(file: string, entries: RawEntry[]): Promise<string> {
  const tar = tarPack();
  const done = pipeline(tar, createWriteStream(file));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: e.linkname, size: body?.length ?? 0 };
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body) tar.entry(header, body, cb);
      else tar.entry(header, cb);
    });
  }
  tar.finalize();
  await done;
  return file;
}

async function setup(): Promise<{ root: string; dirs: StateDirs }> {
  const root = exitTempDir('airut-state-');
  return { root, dirs: await makeDirs(path.join(root, 'conv')) };
}

describe('packStateIn → unpackStateOut', () => {
  it('carries files, empty directories, symlinks and modes there and back', async () => {
    const { root, dirs } = await setup();
    const before = await snapshot(path.join(root, 'conv'));
    const tarFile = path.join(root, 'in.tar');
    const { bytes } = await packStateIn(dirs, { inputJsonl: '{"type":"user"}\n', args: ['--model', 'opus', 'two words'] }, tarFile);
    assert.equal(bytes, (await fs.stat(tarFile)).size);
    // The pod would unpack this and send back its four trees: emulate by repacking the same tar minus inbox/ and airut/.
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const ex = extract();
    const feed = pipeline((await import('node:fs')).createReadStream(tarFile), ex);
    const back = tarPack();
    const outFile = path.join(root, 'out.tar');
    const written = pipeline(back, createWriteStream(outFile));
    for await (const entry of ex) {
      names.push(entry.header.name);
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.name.startsWith('inbox/') || entry.header.name.startsWith('airut/')) continue;
      await new Promise<void>((resolve, reject) => back.entry(entry.header, Buffer.concat(chunks), (e) => (e ? reject(e) : resolve())));
    }
    await feed;
    back.finalize();
    await written;
    assert.ok(names.includes('airut/input.jsonl') && names.includes('airut/args') && names.includes('inbox/mail.txt'));
    assert.ok(names.includes('workspace/src/empty/'));
    // Change the host dirs, then the returned state must restore them exactly.
    await fs.writeFile(path.join(dirs.workspace, 'README.md'), 'changed');
    await fs.writeFile(path.join(dirs.outbox, 'stray'), 'x');
    const counts = await unpackStateOut(outFile, dirs, LIMITS);
    assert.equal(counts.files, 4); // inbox/ stays on the host: the pod does not return it
    assert.deepEqual(await snapshot(path.join(root, 'conv')), before);
    assert.equal(await fs.readlink(path.join(dirs.workspace, 'src', 'readme-link')), '../README.md');
    assert.deepEqual((await fs.readdir(path.join(root, 'conv'))).sort(), ['claude-state', 'inbox', 'outbox', 'storage', 'workspace']);
  });

  it('writes the arguments one a line and refuses an argument with a line break', async () => {
    const { root, dirs } = await setup();
    await assert.rejects(packStateIn(dirs, { inputJsonl: '', args: ['ok', 'two\nlines'] }, path.join(root, 'x.tar')), { code: 'SANDBOX_SPEC_INVALID', message: /argument 2/ });
    await assert.rejects(fs.stat(path.join(root, 'x.tar')), { code: 'ENOENT' });
  });

  it('streams a big sparse file instead of holding it in memory', async () => {
    const { root, dirs } = await setup();
    const big = path.join(dirs.workspace, 'big.bin');
    const size = 256 * 1024 * 1024;
    await fs.truncate(await fs.writeFile(big, '').then(() => big), size);
    const rssBefore = process.memoryUsage().rss;
    const tarFile = path.join(root, 'big.tar');
    await packStateIn(dirs, { inputJsonl: '', args: [] }, tarFile);
    assert.ok((await fs.stat(tarFile)).size > size);
    assert.ok(process.memoryUsage().rss - rssBefore < size / 2, 'packing must not load the file into memory');
  });
});

describe('unpackStateOut refuses hostile tars and leaves the host dirs unchanged', () => {
  const cases: Array<{ title: string; entries?: RawEntry[]; bytes?: Buffer; why: RegExp; limits?: typeof LIMITS }> = [
    { title: '../x', entries: [...TOPS, { name: '../x', content: 'x' }], why: /"\.\." segment/ },
    { title: '/etc/x', entries: [...TOPS, { name: '/etc/x', content: 'x' }], why: /absolute path/ },
    { title: 'workspace/../../x', entries: [...TOPS, { name: 'workspace/../../x', content: 'x' }], why: /"\.\." segment/ },
    {
      title: 'a symlink escaping, then a file written through it',
      entries: [...TOPS, { name: 'workspace/esc', type: 'symlink', linkname: '../../..' }, { name: 'workspace/esc/pwned', content: 'x' }],
      why: /written through a symlink/,
    },
    { title: 'a symlink escaping its tree', entries: [...TOPS, { name: 'claude/l', type: 'symlink', linkname: '../workspace/x' }], why: /leaves its directory/ },
    {
      title: 'a symlink escaping through another symlink',
      entries: [...TOPS, { name: 'workspace/a/b/up', type: 'symlink', linkname: '../..' }, { name: 'workspace/a/b/t', type: 'symlink', linkname: 'up/..' }],
      why: /leaves its directory/,
    },
    { title: 'an absolute symlink', entries: [...TOPS, { name: 'workspace/l', type: 'symlink', linkname: '/etc/passwd' }], why: /absolute/ },
    { title: 'a hard link', entries: [...TOPS, { name: 'workspace/f', content: 'x' }, { name: 'workspace/h', type: 'link', linkname: 'workspace/f' }], why: /type link/ },
    { title: 'a character device', entries: [...TOPS, { name: 'workspace/null', type: 'character-device' }], why: /type character-device/ },
    { title: 'a fifo', entries: [...TOPS, { name: 'workspace/p', type: 'fifo' }], why: /type fifo/ },
    { title: 'an inbox/ tree', entries: [...TOPS, { name: 'inbox/x', content: 'x' }], why: /outside workspace\// },
    { title: 'a missing tree', entries: TOPS.slice(0, 3), why: /no storage\/ directory/ },
    { title: 'a file over the per-file cap', entries: [...TOPS, { name: 'workspace/f', content: 'x'.repeat(200) }], why: /a file over 100 bytes/, limits: { ...LIMITS, maxFileBytes: 100 } },
    {
      title: 'more than the total cap',
      entries: [...TOPS, { name: 'workspace/a', content: 'x'.repeat(80) }, { name: 'workspace/b', content: 'x'.repeat(80) }],
      why: /more than 100 bytes in all/,
      limits: { ...LIMITS, maxTotalBytes: 100 },
    },
    { title: 'too many entries', entries: [...TOPS, ...Array.from({ length: 20 }, (_, i) => ({ name: `workspace/f${i}`, content: '' }))], why: /more than 10 entries/, limits: { ...LIMITS, maxEntries: 10 } },
    { title: 'a duplicate entry', entries: [...TOPS, { name: 'workspace/f', content: 'a' }, { name: 'workspace/f', content: 'b' }], why: /duplicate entry/ },
    { title: 'non-tar bytes', bytes: Buffer.from('this is not a tar file at all\n'.repeat(40)), why: /unreadable tar/ },
    { title: 'an empty file', bytes: Buffer.alloc(0), why: /no workspace\/ directory/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.title}`, async () => {
      const { root, dirs } = await setup();
      const before = await snapshot(root);
      const file = path.join(root, 'out.tar');
      if (c.bytes) await fs.writeFile(file, c.bytes);
      else await rawTar(file, c.entries ?? []);
      const afterTar = await snapshot(root);
      await assert.rejects(unpackStateOut(file, dirs, c.limits ?? LIMITS), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'KUBE_STATE_REJECTED');
        assert.match(e.message, c.why);
        assert.match(e.message, /in the state the pod returned/);
        return true;
      });
      assert.deepEqual(await snapshot(root), afterTar);
      assert.deepEqual(Object.keys(before).filter((k) => !(k in afterTar)), []);
      assert.ok(!(await fs.readFile(path.join(dirs.workspace, 'README.md'), 'utf8')).includes('x'));
    });
  }

  it('refuses a truncated tar', async () => {
    const { root, dirs } = await setup();
    const file = await rawTar(path.join(root, 'out.tar'), [...TOPS, { name: 'workspace/f', content: 'y'.repeat(5000) }]);
    const full = await fs.readFile(file);
    await fs.writeFile(file, full.subarray(0, 3000));
    const before = await snapshot(root);
    await assert.rejects(unpackStateOut(file, dirs, LIMITS), { code: 'KUBE_STATE_REJECTED', message: /unreadable tar/ });
    assert.deepEqual(await snapshot(root), before);
  });

  it('refuses a huge declared size before reading any of it', async () => {
    const { root, dirs } = await setup();
    const file = await rawTar(path.join(root, 'out.tar'), [...TOPS, { name: 'workspace/f', content: 'z' }]);
    // Patch the size field of the fifth header (offset 124, 12 octal bytes) to 8 GiB.
    const buf = await fs.readFile(file);
    const header = 4 * 512;
    buf.write('100000000000', header + 124, 'latin1');
    let sum = 0;
    buf.fill(' ', header + 148, header + 156);
    for (let i = header; i < header + 512; i++) sum += buf[i] as number;
    buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, header + 148, 'latin1');
    await fs.writeFile(file, buf);
    const before = await snapshot(root);
    await assert.rejects(unpackStateOut(file, dirs, LIMITS), { code: 'KUBE_STATE_REJECTED', message: /a file over 1048576 bytes in the state the pod returned: "workspace\/f"/ });
    assert.deepEqual(await snapshot(root), before);
  });

  it('refuses a NUL in a name (a pax path) with the name escaped', async () => {
    const { root, dirs } = await setup();
    const tar = tarPack();
    const file = path.join(root, 'out.tar');
    const done = pipeline(tar, createWriteStream(file));
    for (const t of TOPS) tar.entry({ name: t.name, type: 'directory' });
    tar.entry({ name: 'workspace/a', type: 'file', pax: { path: 'workspace/a\0b' } } as never, 'x');
    tar.finalize();
    await done;
    await assert.rejects(unpackStateOut(file, dirs, LIMITS), { code: 'KUBE_STATE_REJECTED' });
  });

  it('masks a setuid mode and keeps the owner able to read and write', async () => {
    const { root, dirs } = await setup();
    const file = await rawTar(path.join(root, 'out.tar'), [...TOPS, { name: 'workspace/suid', content: 'x', mode: 0o4755 }, { name: 'workspace/ro', content: 'y', mode: 0o400 }]);
    await unpackStateOut(file, dirs, LIMITS);
    assert.equal((await fs.stat(path.join(dirs.workspace, 'suid'))).mode & 0o7777, 0o755);
    assert.equal((await fs.stat(path.join(dirs.workspace, 'ro'))).mode & 0o7777, 0o600);
    await assert.rejects(fs.stat(path.join(dirs.workspace, 'README.md')), { code: 'ENOENT' });
  });
});
