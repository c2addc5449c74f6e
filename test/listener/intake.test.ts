import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { AcceptOutcome, IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { MAX_ACCEPT_BATCH, intakeMessages, prepareMail, type FetchedMail } from '../../src/listener/intake.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { listenerConfig } from '../../src/protocol/listener.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const repo = listenerConfig(testRepoServerConfig('api'));
const log = pino({ level: 'silent' });

function fetched(count: number): FetchedMail[] {
  return Array.from({ length: count }, (_, i) => {
    const raw = Buffer.from(
      buildMail({
        from: 'alice@example.com',
        to: 'api-bot@repo.example',
        subject: `task ${i}`,
        text: `please ${i}`,
        messageId: `<m${i}@example.com>`,
        authResults: [dmarcPass('mx.repo.example')],
      }),
    );
    return { uid: 100 + i, raw, info: { size: raw.byteLength, headersOnly: false } };
  });
}

/** A supervisor stand-in that answers after a few milliseconds (a commit), recording the batches. */
function slowSupervisor(failOnBatch?: number) {
  const batches: IncomingMail[][] = [];
  let inFlight = 0;
  let overlapped = false;
  const acceptBatch = async (mails: IncomingMail[]): Promise<AcceptOutcome[]> => {
    batches.push(mails);
    if (++inFlight > 1) overlapped = true;
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (batches.length === failOnBatch) throw new Error('database is locked');
    return mails.map((m, i) => ({ kind: 'queued', taskId: (m.imapUid ?? 0) * 10 + i }));
  };
  return { acceptBatch, batches, overlapped: () => overlapped };
}

test('a backlog is handed over in order, in batches of at most MAX_ACCEPT_BATCH, one at a time, the first mail alone', async () => {
  const mails = fetched(130);
  const sup = slowSupervisor();
  const recorded: number[] = [];
  await intakeMessages(mails, repo, sup.acceptBatch, log, (uid) => recorded.push(uid));
  assert.deepEqual(recorded, mails.map((m) => m.uid), 'every mail reported recorded, in UID order');
  assert.deepEqual(sup.batches.flat().map((m) => m.imapUid), mails.map((m) => m.uid), 'handed over in order, each once');
  assert.equal(sup.batches[0]!.length, 1, 'the first mail does not wait for others');
  assert.ok(sup.batches.every((b) => b.length <= MAX_ACCEPT_BATCH));
  assert.ok(sup.batches.length < mails.length, 'parsing overlapped the commits, so later batches hold several mails');
  assert.equal(sup.overlapped(), false, 'never two batches in flight');
  assert.equal(sup.batches.flat()[0]!.verdict.action, 'accept');
});

test('a failed batch is not reported recorded; the batches before it are, and nothing after it is sent', async () => {
  const mails = fetched(60);
  const sup = slowSupervisor(2);
  const recorded: number[] = [];
  await assert.rejects(intakeMessages(mails, repo, sup.acceptBatch, log, (uid) => recorded.push(uid)), /database is locked/);
  const firstBatch = sup.batches[0]!.map((m) => m.imapUid);
  assert.deepEqual(recorded, firstBatch);
  assert.equal(sup.batches.length, 2, 'nothing is sent after the failure');
});

test('once the listener stops, no more mail is handed over', async () => {
  const mails = fetched(10);
  const sup = slowSupervisor();
  let stop = false;
  const recorded: number[] = [];
  await intakeMessages(mails, repo, sup.acceptBatch, log, (uid) => {
    recorded.push(uid);
    stop = true;
  }, () => stop);
  assert.ok(recorded.length >= 1 && recorded.length < mails.length, `recorded ${recorded.length} of ${mails.length}`);
  assert.deepEqual(sup.batches.flat().map((m) => m.imapUid), recorded);
});

test('the listener leaves a Repos: line to the runner: it never parses a body', async () => {
  const raw = Buffer.from(buildMail({ from: 'alice@example.com', to: 'api-bot@repo.example', subject: 's', text: 'Repos: docs:read\n\nFix it.', messageId: '<r@example.com>', authResults: [dmarcPass('mx.repo.example')] }));
  const mail = await prepareMail(raw, 1, repo);
  assert.equal(mail.verdict.action, 'accept');
  assert.equal(mail.requestedRepos, undefined);
});
