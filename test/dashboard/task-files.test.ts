/** The download of kept task files and their listing in the API, against the real dashboard server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDashboard } from '../../src/dashboard/server.ts';
import { contentDisposition, DOWNLOAD_CSP } from '../../src/dashboard/file-download.ts';
import type { ServerConfig } from '../../src/config/types.ts';
import type { Db } from '../../src/store/database.ts';
import { addTaskFile, getTaskFile } from '../../src/store/task-content.ts';
import { keepTaskFile, OVER_CAP_NOTE } from '../../src/task-files/keep.ts';
import { insertTask, makeConfig, makeOptions, silentLog, tempDb } from './helpers.ts';

const CID = 'c0ffee02';

async function serve(t: { after: (fn: () => unknown) => void }, dashboard: Parameters<typeof makeConfig>[1] = {}) {
  const { db, dir, cleanup } = tempDb();
  const storageDir = path.join(dir, 'storage', 'alpha');
  const base = makeConfig(['alpha'], dashboard);
  const config: ServerConfig = { ...base, repos: { alpha: { ...base.repos.alpha!, storageDir } } };
  const dash = await startDashboard(makeOptions(db, config).options);
  t.after(async () => {
    await dash.close();
    cleanup();
  });
  const taskId = insertTask(db, { repoId: 'alpha', conversationId: CID, status: 'completed' });
  const keep = (name: string, data: Buffer | string, contentType = 'application/octet-stream', capBytes = 1 << 20, id = taskId) =>
    keepTaskFile({ db, storageDir, conversationId: CID, capBytes, log: silentLog() }, { taskId: id, direction: 'in', name, contentType, content: { kind: 'bytes', data: Buffer.from(data) } });
  return { db, dir, storageDir, url: dash.url, taskId, keep };
}

test('a kept file downloads byte-identical, as an attachment with safe headers', async (t) => {
  const s = await serve(t);
  const data = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x3c, 0x73]);
  const id = await s.keep('rapport "final"\r\nété.pdf', data, 'application/pdf');
  const res = await fetch(`${s.url}/tasks/${s.taskId}/files/${id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
  assert.equal(res.headers.get('content-type'), 'application/pdf');
  assert.equal(res.headers.get('content-length'), String(data.length));
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('content-security-policy'), DOWNLOAD_CSP);
  assert.equal(res.headers.get('content-disposition'), `attachment; filename="rapport _final__t_.pdf"; filename*=UTF-8''rapport%20%22final%22%C3%A9t%C3%A9.pdf`);
});

test('html and svg are never served as such; text is served as utf-8 plain text; an empty file is fine', async (t) => {
  const s = await serve(t);
  const cases: Array<[string, string, string]> = [
    ['x.html', 'text/html', 'application/octet-stream'],
    ['x.svg', 'image/svg+xml', 'application/octet-stream'],
    ['notes.txt', 'text/plain; charset=iso-8859-1', 'text/plain; charset=utf-8'],
    ['shot.png', 'image/png', 'image/png'],
  ];
  for (const [name, declared, served] of cases) {
    const id = await s.keep(name, '<script>alert(1)</script>', declared);
    const res = await fetch(`${s.url}/tasks/${s.taskId}/files/${id}`);
    assert.equal(res.headers.get('content-type'), served, name);
    await res.arrayBuffer();
  }
  const empty = await s.keep('empty.txt', '', 'text/plain');
  const res = await fetch(`${s.url}/tasks/${s.taskId}/files/${empty}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), '0');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

async function notFound(url: string, page: RegExp): Promise<void> {
  const res = await fetch(url, { headers: { accept: 'text/html' } });
  assert.equal(res.status, 404, url);
  assert.match(await res.text(), page);
  assert.notEqual(res.headers.get('content-security-policy'), DOWNLOAD_CSP, 'an error page gets the pages’ policy');
}

function row(db: Db, taskId: number, p: string | null, note: string | null = null): number {
  return addTaskFile(db, { taskId, direction: 'out', name: 'x.txt', size: 4, contentType: 'text/plain', path: p, sha256: null, note });
}

test('404 with a clear page: another task’s file, a file not kept, missing on disk, a path that escapes', async (t) => {
  const s = await serve(t);
  const other = insertTask(s.db, { repoId: 'alpha', conversationId: CID });
  const theirs = await s.keep('theirs.txt', 'x', 'text/plain', 1 << 20, other);
  await notFound(`${s.url}/tasks/${s.taskId}/files/${theirs}`, /This task has no such file\./);
  await notFound(`${s.url}/tasks/999999/files/${theirs}`, /This task has no such file\./);
  await notFound(`${s.url}/tasks/${s.taskId}/files/abc`, /This task has no such file\./);
  const over = await s.keep('big.bin', 'xx', 'application/octet-stream', 1);
  await notFound(`${s.url}/tasks/${s.taskId}/files/${over}`, new RegExp(`not kept: ${OVER_CAP_NOTE}`));
  const gone = await s.keep('gone.txt', 'x', 'text/plain');
  fs.rmSync(path.join(s.storageDir, 'conversations', CID, 'task-files'), { recursive: true });
  await notFound(`${s.url}/tasks/${s.taskId}/files/${gone}`, /missing from the disk/);

  fs.writeFileSync(path.join(s.dir, 'secret.txt'), 'secret');
  for (const bad of ['../../etc/passwd', '/etc/passwd', path.join(s.dir, 'secret.txt'), '../secret.txt']) {
    const id = row(s.db, s.taskId, bad);
    const res = await fetch(`${s.url}/tasks/${s.taskId}/files/${id}`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 404, bad);
    const text = await res.text();
    assert.match(text, /not one the dashboard serves/);
    assert.doesNotMatch(text, /root:|secret/);
  }
});

test('a symlink where a kept copy was is not followed', async (t) => {
  const s = await serve(t);
  const id = await s.keep('a.txt', 'x', 'text/plain');
  const listed = (await (await fetch(`${s.url}/api/tasks/${s.taskId}`)).json()) as { files: Array<{ path?: string }> };
  assert.equal(listed.files[0]!.path, undefined, 'the API does not show the path on disk');
  fs.writeFileSync(path.join(s.dir, 'secret.txt'), 'secret');
  const full = path.join(s.storageDir, getTaskFile(s.db, s.taskId, id)!.path!);
  fs.rmSync(full);
  fs.symlinkSync(path.join(s.dir, 'secret.txt'), full);
  await notFound(`${s.url}/tasks/${s.taskId}/files/${id}`, /missing from the disk/);
});

test('the API lists a task’s files: a download URL when kept, else the note', async (t) => {
  const s = await serve(t);
  const kept = await s.keep('a.txt', 'abc', 'text/plain');
  const over = await s.keep('b.bin', 'too big', 'application/octet-stream', 3);
  const body = (await (await fetch(`${s.url}/api/tasks/${s.taskId}`)).json()) as { files: Array<Record<string, unknown>> };
  assert.deepEqual(
    body.files.map((f) => [f.id, f.direction, f.name, f.size, f.downloadUrl, f.note]),
    [
      [kept, 'in', 'a.txt', 3, `/tasks/${s.taskId}/files/${kept}`, null],
      [over, 'in', 'b.bin', 7, null, OVER_CAP_NOTE],
    ],
  );
});

test('downloads are behind the same login as every page', async (t) => {
  const s = await serve(t, { authToken: 'a-long-dashboard-token-0123456789' });
  const id = await s.keep('a.txt', 'abc', 'text/plain');
  const anonymous = await fetch(`${s.url}/tasks/${s.taskId}/files/${id}`, { redirect: 'manual' });
  assert.notEqual(anonymous.status, 200);
  await anonymous.arrayBuffer();
  const bearer = await fetch(`${s.url}/tasks/${s.taskId}/files/${id}`, { headers: { authorization: 'Bearer a-long-dashboard-token-0123456789' } });
  assert.equal(bearer.status, 200);
  assert.equal(await bearer.text(), 'abc');
});

test('Content-Disposition: quotes, CR/LF, backslashes, slashes and non-ASCII never break the header', () => {
  assert.equal(contentDisposition('a"b\\c/d\r\ne.txt'), `attachment; filename="a_b_c_de.txt"; filename*=UTF-8''a%22b_c_de.txt`);
  assert.equal(contentDisposition('\r\n'), `attachment; filename="file"; filename*=UTF-8''file`);
  assert.equal(contentDisposition("it's (1)*.txt"), `attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`);
  assert.equal(contentDisposition('日本.txt'), `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`);
});
