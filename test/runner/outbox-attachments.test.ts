/**
 * The outbox as the task runner hands it to the reply: real files in a real conversation directory
 * (a 3 GiB sparse file, a file over the cap, a symlink to a host file, a FIFO with no writer),
 * capped, opened without following or blocking, and streamed into a spool file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { ConversationStore, newConversationId } from '../../src/conversation/index.ts';
import { DEFAULT_TASK_OUTPUT_LIMITS } from '../../src/config/defaults.ts';
import { composeMailToFile } from '../../src/reply/compose.ts';
import { openOutboxAttachments } from '../../src/runner/outbox-attachments.ts';

const MiB = 1024 * 1024;

test('outbox files over the caps are left out and named; the rest are streamed into the spool file', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-outbox-att-'));
  const store = new ConversationStore(root);
  const id = newConversationId();
  await store.create(id, { repoId: 'api', model: 'sonnet' });
  const out = store.paths(id).outbox;
  const hostSecret = path.join(root, 'host-secret');
  fs.writeFileSync(hostSecret, 'do not send');
  for (const n of ['a-sparse-1.bin', 'a-sparse-2.bin', 'a-sparse-3.bin']) {
    fs.writeFileSync(path.join(out, n), '');
    fs.truncateSync(path.join(out, n), 3 * 1024 ** 3);
  }
  const small = crypto.randomBytes(200 * 1024);
  fs.writeFileSync(path.join(out, 'b-small.bin'), small);
  fs.writeFileSync(path.join(out, 'c-over.bin'), crypto.randomBytes(2 * MiB));
  fs.symlinkSync(hostSecret, path.join(out, 'd-link.txt'));
  execFileSync('mkfifo', [path.join(out, 'e-pipe')]);
  fs.writeFileSync(path.join(out, 'f-notes.md'), '# notes\n');

  const limits = { ...DEFAULT_TASK_OUTPUT_LIMITS, maxOutboxFileBytes: 1 * MiB, maxOutboxTotalBytes: 2 * MiB, maxOutboxFiles: 5 };
  const outbox = await openOutboxAttachments(store, id, limits);
  try {
    assert.deepEqual(outbox.attachments.map((a) => a.filename), ['b-small.bin', 'f-notes.md']);
    assert.deepEqual(
      outbox.notAttached.map((n) => [n.name, n.reason]),
      [
        ['a-sparse-1.bin', 'file_too_large'],
        ['a-sparse-2.bin', 'file_too_large'],
        ['a-sparse-3.bin', 'file_too_large'],
        ['c-over.bin', 'file_too_large'],
        ['d-link.txt', 'not_regular'],
        ['e-pipe', 'not_regular'],
      ],
    );
    const mail = await composeMailToFile(
      {
        repoEmail: { from: 'Bot <bot@example.com>', fromAddress: 'bot@example.com' },
        to: 'alice@example.org',
        conversationId: id,
        originalSubject: 'files',
        inReplyTo: null,
        body: { kind: 'reply', markdown: 'Done.' },
        attachments: outbox.attachments,
      },
      path.join(root, 'spool'),
      'task-1',
    );
    assert.ok(mail.raw.size < 2 * MiB * 1.4 + 64 * 1024, `the spool file is bounded by the caps (${mail.raw.size} bytes)`);
    const parsed = await simpleParser(fs.readFileSync(mail.raw.path));
    assert.deepEqual(parsed.attachments.map((a) => a.filename), ['b-small.bin', 'f-notes.md']);
    assert.ok(parsed.attachments[0]!.content.equals(small));
    assert.ok(!fs.readFileSync(mail.raw.path).includes('do not send'));
  } finally {
    await outbox.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
