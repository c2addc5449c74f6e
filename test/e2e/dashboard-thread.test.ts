/**
 * Issue 20 end to end, as a person sees it: a conversation of two mails, run by the real daemon
 * (podman, the Claude Code CLI scripted through the mock Anthropic API, Dovecot, SMTP), read in
 * headless Chromium. The conversation page shows both requests as the agent received them (the
 * quoted history of the second stripped, behind its "original text" toggle), both replies rendered
 * from their markdown, and the first mail's attachment, which downloads byte-identical.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../dashboard/chromium.ts';
import { freePort } from '../harness/ports.ts';
import { repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

let env: E2eEnv;
let browser: Browser;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  env = await startE2eEnv({ repoIds: ['thread'] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await env?.stop();
});

test('a two-mail conversation reads as its thread: both requests, both replies, an attachment that downloads byte-identical', { timeout: 300_000 }, async () => {
  const repo = await env.repo('thread', repoYaml());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { cfg, daemon } = env.daemonWith([repo], 1, { dashboard: { enabled: true, host: '127.0.0.1', port } });
  try {
    const notes = randomBytes(20_000);
    const m1 = await env.send('thread', 'Re: Fwd: Summarise the meeting notes', 'Please summarise the attached notes.\nKeep it short.', {
      attachments: [{ filename: 'notes.bin', content: notes }],
    });
    const r1 = await env.finalReplyTo(m1, 120_000);
    const m2 = await env.send('thread', `Re: ${r1.subject}`, 'Now add a heading, please.\n\nOn Monday Alice wrote:\n> Please summarise the attached notes.', {
      inReplyTo: r1.messageId!,
      references: [m1, r1.messageId!],
    });
    await env.finalReplyTo(m2, 120_000);
    const t1 = taskFor(cfg, m1)!;
    const t2 = taskFor(cfg, m2)!;
    assert.equal(t2.conversation_id, t1.conversation_id, 'the second mail continues the conversation');

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    try {
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
      });
      await page.goto(`${base}/conversations/thread/${t1.conversation_id}`, { waitUntil: 'load' });
      assert.equal((await page.textContent('h1'))?.includes('Summarise the meeting notes'), true, 'the title without Re:/Fwd:');
      assert.doesNotMatch((await page.textContent('h1')) ?? '', /Re:|Fwd:|\[ID:/);

      const mailsIn = page.locator('[data-role="thread"] [data-role="mail-in"]');
      assert.equal(await mailsIn.count(), 2, 'both incoming mails');
      assert.match((await mailsIn.nth(0).textContent()) ?? '', /Please summarise the attached notes\.\s*Keep it short\./);
      const second = (await mailsIn.nth(1).locator('[data-role="request-text"]').textContent()) ?? '';
      assert.match(second, /Now add a heading, please\./);
      assert.doesNotMatch(second, /On Monday Alice wrote/, 'the request as the agent received it: the quote stripped');
      await mailsIn.nth(1).locator('[data-role="request-original"] summary').click();
      assert.match((await mailsIn.nth(1).locator('[data-role="request-original"] pre').textContent()) ?? '', /On Monday Alice wrote/);

      const replies = page.locator('[data-role="thread"] [data-role="mail-out"].mail-reply');
      assert.equal(await replies.count(), 2, 'both replies');
      for (let i = 0; i < 2; i++) {
        assert.equal(await replies.nth(i).locator('strong', { hasText: 'Done.' }).count(), 1, `reply ${i + 1} rendered from its markdown`);
      }
      const order = await page.$$eval('[data-role="thread"] [data-role="mail-in"], [data-role="thread"] [data-role="mail-out"].mail-reply', (els) =>
        els.map((e) => e.getAttribute('data-role')),
      );
      assert.deepEqual(order, ['mail-in', 'mail-out', 'mail-in', 'mail-out'], 'oldest first: mail, reply, mail, reply');

      const link = mailsIn.nth(0).locator('[data-role="files-in"] a', { hasText: 'notes.bin' });
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(download.suggestedFilename(), 'notes.bin');
      assert.deepEqual(fs.readFileSync((await download.path())!), notes, 'the attachment downloads byte-identical');
      await page.screenshot({ path: new URL('e2e-conversation-thread.png', ARTIFACTS).pathname, fullPage: true });
      assert.deepEqual(foreign, [], 'the page made no request to any other host');
    } finally {
      await page.close();
    }
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
