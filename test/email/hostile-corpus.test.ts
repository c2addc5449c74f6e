/**
 * The hostile corpus (test/fixtures/hostile/corpus.ts) through the real intake path of a listener
 * thread — parse, screen, limits — and, for what is accepted, through attachment saving and
 * reply composition: each mail gets the verdict it should, nothing throws, attachments land only
 * inside inbox/ under safe names, and no reply carries a header the sender smuggled in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { hostileCorpus, AUTHSERV, AUTHORIZED_SENDERS, REPO_ADDRESS, type HostileMail } from '../fixtures/hostile/corpus.ts';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { intakeMessage } from '../../src/listener/intake.ts';
import { listenerConfig } from '../../src/protocol/listener.ts';
import type { IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { ConversationStore, newConversationId } from '../../src/conversation/index.ts';
import { MAX_FILENAME_BYTES } from '../../src/conversation/filename.ts';
import { saveAttachments } from '../../src/runner/attachments.ts';
import { composeMail } from '../../src/reply/compose.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { readHeaderLines } from '../../src/email/headers.ts';

const repo: RepoServerConfig = testRepoServerConfig('hostile', {
  storageDir: '/nonexistent',
  email: { username: 'hostile-bot', from: `Bot <${REPO_ADDRESS}>`, fromAddress: REPO_ADDRESS },
  authorizedSenders: AUTHORIZED_SENDERS,
  trustedAuthservId: AUTHSERV,
});
const log = pino({ level: 'silent' });

/** What the listener would hand the supervisor. */
async function intake(m: HostileMail): Promise<IncomingMail> {
  let handed: IncomingMail | null = null;
  const recorded = await intakeMessage(m.raw, 1, listenerConfig(repo), async ([mail]) => {
    handed = mail!;
    return [{ kind: mail!.verdict.action === 'accept' ? 'queued' : 'rejected', taskId: 1 }];
  }, log);
  assert.equal(recorded, true);
  assert.ok(handed, 'the mail was handed over for recording');
  return handed;
}

const EXPECTED_REPLY_HEADERS = new Set([
  'from', 'to', 'subject', 'message-id', 'date', 'in-reply-to', 'references', 'auto-submitted', 'x-auto-response-suppress',
  'x-airut-conversation', 'x-airut-kind', 'mime-version', 'content-type',
]);

const corpus = hostileCorpus();

describe('hostile corpus', () => {
  let root: string;
  let store: ConversationStore;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-hostile-'));
    store = new ConversationStore(root);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('has at least 50 distinct messages', () => {
    assert.ok(corpus.length >= 50, `${corpus.length}`);
    assert.equal(new Set(corpus.map((m) => m.raw.toString('base64'))).size, corpus.length);
  });

  for (const m of corpus) {
    it(`${m.id}: ${m.about} → ${m.expect.status === 'accepted' ? 'accepted' : `rejected (${m.expect.reason})`}`, async () => {
      const mail = await intake(m);
      assert.deepEqual(structuredClone(mail), mail, 'crosses the thread boundary intact');
      assert.doesNotMatch(mail.subject, /[\r\n\u0000\u2028\u2029]/);
      if (m.expect.status === 'accepted') {
        assert.equal(mail.verdict.action, 'accept', mail.verdict.action === 'reject' ? mail.verdict.detail : '');
      } else {
        assert.equal(mail.verdict.action, 'reject');
        if (mail.verdict.action === 'reject') {
          assert.equal(mail.verdict.reason, m.expect.reason, mail.verdict.detail);
          assert.doesNotMatch(mail.verdict.detail, /[\r\n]/);
        }
      }

      const answerable = mail.verdict.action === 'accept' || mail.verdict.reason === 'too_large';
      if (answerable) {
        assert.equal(mail.sender, 'alice@example.com', 'only the authorized sender is ever answered');
        const reply = await composeMail({
          repoEmail: repo.email,
          to: mail.sender!,
          conversationId: '00000000',
          originalSubject: mail.subject,
          inReplyTo: mail.messageId,
          references: mail.references ?? [],
          body: { kind: 'error', message: 'x' },
        });
        const names = readHeaderLines(reply.raw).map((h) => h.name.toLowerCase());
        for (const n of names) assert.ok(EXPECTED_REPLY_HEADERS.has(n), `reply has an unexpected header ${n}`);
        for (const n of ['from', 'to', 'subject', 'content-type']) assert.equal(names.filter((x) => x === n).length, 1, n);
      }

      if (mail.verdict.action === 'accept') {
        // What the task runner does with it: save the attachments into inbox/.
        const id = newConversationId();
        await store.create(id, { repoId: 'hostile', model: 'sonnet' });
        const inbox = store.paths(id).inbox;
        const convRoot = store.paths(id).root;
        const rootBefore = fs.readdirSync(convRoot).sort();
        const storageBefore = fs.readdirSync(root).sort();
        const saved = await saveAttachments(m.raw, store, id);
        const onDisk = fs.readdirSync(inbox);
        assert.deepEqual([...onDisk].sort(), saved.map((s) => s.savedName).sort(), 'exactly the saved files, all directly in inbox/');
        for (const s of saved) {
          assert.doesNotMatch(s.savedName, /[/\\\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/, s.savedName);
          assert.ok(!s.savedName.startsWith('.'), s.savedName);
          assert.ok(Buffer.byteLength(s.savedName) <= MAX_FILENAME_BYTES, s.savedName);
          assert.doesNotMatch(s.savedName, /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i, s.savedName);
          assert.ok(fs.lstatSync(path.join(inbox, s.savedName)).isFile());
        }
        for (const bad of m.forbiddenNames ?? []) assert.ok(!saved.some((s) => s.savedName === bad), bad);
        // Nothing was written next to inbox/ or above it.
        assert.deepEqual(fs.readdirSync(convRoot).sort(), rootBefore);
        assert.deepEqual(fs.readdirSync(root).sort(), storageBefore);
      }
    });
  }
});
