import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { newMessageId } from '../../src/reply/message-id.ts';
import { replySubject, MAX_SUBJECT_CHARS } from '../../src/reply/subject.ts';
import { renderReply, usageFooter, isSafeHref, formatDuration } from '../../src/reply/render.ts';
import { composeMail, replyReferences, MAX_REFERENCES } from '../../src/reply/compose.ts';
import { conversationIdFromMessageId, extractSubjectTag } from '../../src/email/threading.ts';

const MESSAGE_ID = /^<airut\.([0-9a-f]{8})\.(\d+)\.([0-9a-f]{8})@([a-z0-9.-]+)>$/;
const repoEmail = { from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' };

test('Message-IDs carry the conversation, the time and the from domain, and are unique', () => {
  const id = newMessageId('deadbeef', 'Bot@Mail.Example.COM', Date.UTC(2025, 0, 2, 3, 4, 5));
  const m = MESSAGE_ID.exec(id);
  assert.ok(m, id);
  assert.equal(m[1], 'deadbeef');
  assert.equal(Number(m[2]), Date.UTC(2025, 0, 2, 3, 4, 5) / 1000);
  assert.equal(m[4], 'mail.example.com');
  // Our inbound threading recognises it.
  assert.equal(conversationIdFromMessageId(id), 'deadbeef');
  assert.notEqual(newMessageId('deadbeef', 'bot@example.com', 0), newMessageId('deadbeef', 'bot@example.com', 0));
});

test('reply subjects: one Re:, our tag, the original subject without old prefixes', () => {
  assert.equal(replySubject('deadbeef', 'Fix the bug'), 'Re: [ID:deadbeef] Fix the bug');
  assert.equal(replySubject('deadbeef', 'Re: [ID:deadbeef] Fix the bug'), 'Re: [ID:deadbeef] Fix the bug');
  assert.equal(replySubject('deadbeef', 'RE: Fwd: AW: re[2]: Fix the bug'), 'Re: [ID:deadbeef] Fix the bug');
  assert.equal(replySubject('deadbeef', 'Re: [ID:0badc0de] Re: Fix'), 'Re: [ID:deadbeef] Fix');
  assert.equal(replySubject('deadbeef', '   '), 'Re: [ID:deadbeef] (no subject)');
  assert.equal(replySubject('deadbeef', 'Regarding the release'), 'Re: [ID:deadbeef] Regarding the release');
  assert.equal(extractSubjectTag(replySubject('deadbeef', 'x')), 'deadbeef');
});

test('reply subjects cannot carry line breaks or control characters, and are bounded', () => {
  const s = replySubject('deadbeef', 'Fix\r\nBcc: evil@example.com\n\tX-Injected: yes\u0000\u2028end');
  assert.doesNotMatch(s, /[\r\n\u0000-\u001f\u2028]/);
  assert.equal(s, 'Re: [ID:deadbeef] Fix Bcc: evil@example.com X-Injected: yes end');
  const long = replySubject('deadbeef', 'ü'.repeat(1000));
  assert.ok(Array.from(long).length <= 'Re: [ID:deadbeef] '.length + MAX_SUBJECT_CHARS);
  assert.ok(long.endsWith('…'));
});

test('raw HTML and script links in the markdown are shown as text, not live', () => {
  const md = [
    '# Result',
    '',
    '<script>alert(1)</script>',
    '',
    'Inline <img src=x onerror=alert(2)> and [x](javascript:alert(1)) and <javascript:alert(3)>',
    '[d](data:text/html;base64,PHNjcmlwdD4=) [v](vbscript:msgbox) [ok](https://example.com/a?b=1&c=2)',
    '',
    '```html',
    '<b>code</b>',
    '```',
  ].join('\n');
  const { html, text } = renderReply(md, 'footer');
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<img/i);
  assert.doesNotMatch(html, /<b>/);
  assert.doesNotMatch(html, /href="(?:javascript|data|vbscript):/i);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /<a href="https:\/\/example\.com\/a\?b=1&amp;c=2" rel="noopener noreferrer nofollow">ok<\/a>/);
  assert.match(html, /<h1>Result<\/h1>/);
  assert.match(html, /<pre style="[^"]+"><code class="language-html">&lt;b&gt;code&lt;\/b&gt;<\/code><\/pre>/);
  assert.match(html, /^<!DOCTYPE html>/);
  // The text part is the markdown as written, plus the footer.
  assert.ok(text.startsWith(md));
  assert.ok(text.trimEnd().endsWith('footer'));
});

test('only schemes that cannot run code pass as link targets', () => {
  for (const ok of ['https://a.example', 'http://a', 'mailto:x@y', '#top', 'docs/readme.md', '/abs']) {
    assert.equal(isSafeHref(ok), true, ok);
  }
  for (const bad of ['javascript:x', ' JavaScript:x', 'java\tscript:x', 'data:text/html,x', 'vbscript:x', 'javascript&colon;x', 'file:///etc/passwd']) {
    assert.equal(isSafeHref(bad), false, bad);
  }
});

test('usage footer', () => {
  assert.equal(
    usageFooter({ costUsd: 0.01234, turns: 4, durationMs: 72_000, model: 'sonnet' }),
    '— Cost $0.0123 · 4 turns · 1m 12s · model sonnet',
  );
  assert.equal(usageFooter({ turns: 1 }), '— 1 turn');
  assert.equal(
    usageFooter({ costUsd: 0.5, senderSpend: { dayUsd: 1.5, monthUsd: 12.25, dayCapUsd: 20, monthCapUsd: null } }),
    '— Cost $0.5000 · your spend: 24 h $1.50 of $20.00, this month $12.25',
  );
  assert.equal(usageFooter({}), '');
  assert.equal(formatDuration(3 * 3600_000 + 5 * 60_000), '3h 5m');
  assert.equal(formatDuration(400), '0s');
});

test('References: inbound list + inbound id last, deduplicated, long chains keep root and newest', () => {
  assert.deepEqual(replyReferences(['<a@x>', 'b@x', '<a@x>', 'not an id', '<c@x>'], '<b@x>'), ['<a@x>', '<c@x>', '<b@x>']);
  assert.deepEqual(replyReferences([], null), []);
  const many = Array.from({ length: 100 }, (_, i) => `<r${i}@x>`);
  const refs = replyReferences(many, '<in@x>');
  assert.equal(refs.length, MAX_REFERENCES);
  assert.equal(refs[0], '<r0@x>');
  assert.equal(refs.at(-1), '<in@x>');
  assert.equal(refs.at(-2), '<r99@x>');
});

test('an acknowledgement names the conversation and links the dashboard', async () => {
  const { raw } = await composeMail({
    repoEmail,
    to: 'alice@example.org',
    conversationId: 'deadbeef',
    originalSubject: 'Fix the bug',
    inReplyTo: '<in@example.org>',
    body: { kind: 'ack', dashboardUrl: 'https://dash.example.com/conversations/deadbeef' },
    now: Date.UTC(2025, 5, 1),
  });
  const parsed = await simpleParser(raw);
  assert.match(parsed.text ?? '', /Working on it — conversation deadbeef; reply to this mail to continue\./);
  assert.match(parsed.text ?? '', /https:\/\/dash\.example\.com\/conversations\/deadbeef/);
  assert.equal(parsed.headers.get('auto-submitted'), 'auto-replied');
  assert.equal(parsed.inReplyTo, '<in@example.org>');
  assert.equal(parsed.date?.getTime(), Date.UTC(2025, 5, 1));
});

test('an error mail shows the caller text literally', async () => {
  const { raw, kind } = await composeMail({
    repoEmail,
    to: 'alice@example.org',
    conversationId: 'deadbeef',
    originalSubject: '',
    inReplyTo: null,
    body: { kind: 'error', message: 'Your message had no text.\n\nWrite what <you> want done.' },
  });
  assert.equal(kind, 'error');
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, 'Re: [ID:deadbeef] (no subject)');
  assert.equal(parsed.inReplyTo, undefined);
  assert.match(String(parsed.html), /Write what &lt;you&gt; want done\./);
  assert.match(parsed.text ?? '', /Write what <you> want done\./);
});
