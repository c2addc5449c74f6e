import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MailLimits } from '../../src/config/types.ts';
import { DEFAULT_MAIL_LIMITS } from '../../src/config/defaults.ts';
import { formatBytes } from '../../src/limits/bytes.ts';
import { checkMessageLimits, isSentAttachment, type AttachmentFacts } from '../../src/limits/message-limits.ts';
import { explainLimitViolation, explainRateLimit, formatRetryTime } from '../../src/limits/explain.ts';
import { RATE_WINDOW_MS } from '../../src/limits/rate-limit.ts';

const limits: MailLimits = { maxMessageBytes: 1000, maxAttachmentBytes: 300, maxAttachments: 2, tasksPerHour: 5, tasksPerSenderPerHour: 2 };
const file = (size: number, filename: string | null = 'f.txt', inline = false): AttachmentFacts => ({ filename, size, inline });

describe('checkMessageLimits', () => {
  it('passes a mail within every limit', () => {
    assert.equal(checkMessageLimits({ size: 1000, headersOnly: false, attachments: [file(300), file(10)] }, limits), null);
  });
  it('names the message size with the figures', () => {
    assert.deepEqual(checkMessageLimits({ size: 1001, headersOnly: false, attachments: [] }, limits), {
      limit: 'max_message_bytes',
      actual: 1001,
      allowed: 1000,
    });
  });
  it('treats a header-only download as over the size limit', () => {
    assert.equal(checkMessageLimits({ size: 5000, headersOnly: true, attachments: [] }, limits)?.limit, 'max_message_bytes');
  });
  it('counts attachments the sender attached, not inline parts without a name', () => {
    const inlineLogo = file(50, null, true);
    assert.equal(checkMessageLimits({ size: 10, headersOnly: false, attachments: [file(1), file(1), inlineLogo, inlineLogo] }, limits), null);
    assert.deepEqual(checkMessageLimits({ size: 10, headersOnly: false, attachments: [file(1), file(1), file(1, 'pic.png', true)] }, limits), {
      limit: 'max_attachments',
      actual: 3,
      allowed: 2,
    });
  });
  it('names the largest attachment over the size limit', () => {
    assert.deepEqual(checkMessageLimits({ size: 900, headersOnly: false, attachments: [file(301, 'a.bin'), file(400, 'b.bin')] }, limits), {
      limit: 'max_attachment_bytes',
      actual: 400,
      allowed: 300,
      filename: 'b.bin',
    });
  });
  it('checks size before count before attachment size', () => {
    const many = [file(900), file(900), file(900)];
    assert.equal(checkMessageLimits({ size: 5000, headersOnly: false, attachments: many }, limits)?.limit, 'max_message_bytes');
    assert.equal(checkMessageLimits({ size: 500, headersOnly: false, attachments: many }, limits)?.limit, 'max_attachments');
  });
  it('null means no limit; 0 attachments means none allowed', () => {
    const none: MailLimits = { ...limits, maxMessageBytes: null, maxAttachmentBytes: null, maxAttachments: null };
    assert.equal(checkMessageLimits({ size: 1e9, headersOnly: false, attachments: Array.from({ length: 5000 }, () => file(1e8)) }, none), null);
    assert.equal(checkMessageLimits({ size: 10, headersOnly: false, attachments: [file(1)] }, { ...limits, maxAttachments: 0 })?.limit, 'max_attachments');
  });
  it('a mail the MIME reader gave up on is refused by the bound it broke', () => {
    assert.deepEqual(checkMessageLimits({ size: 10, headersOnly: false, attachments: [], structureLimit: 'parts' }, limits), { limit: 'mime_parts', allowed: 1000 });
    assert.deepEqual(checkMessageLimits({ size: 10, headersOnly: false, attachments: [], structureLimit: 'header' }, limits), { limit: 'mime_header_bytes', allowed: 1024 * 1024 });
    assert.match(explainLimitViolation({ limit: 'mime_parts', allowed: 1000 }).message, /more than 1000 MIME parts/);
    assert.match(explainLimitViolation({ limit: 'mime_header_bytes', allowed: 1024 * 1024 }).message, /header section larger than 1 MiB/);
  });
  it('isSentAttachment', () => {
    assert.equal(isSentAttachment({ filename: null, inline: true }), false);
    assert.equal(isSentAttachment({ filename: '', inline: true }), false);
    assert.equal(isSentAttachment({ filename: 'x.png', inline: true }), true);
    assert.equal(isSentAttachment({ filename: null, inline: false }), true);
  });
  it('the defaults accept an ordinary mail', () => {
    assert.equal(checkMessageLimits({ size: 2_000_000, headersOnly: false, attachments: [file(1_500_000, 'log.txt')] }, DEFAULT_MAIL_LIMITS), null);
  });
});

describe('explanations', () => {
  it('formatBytes', () => {
    assert.deepEqual([0, 1, 900, 1024, 1536, 26_214_400, 1_572_864, 268_435_456].map(formatBytes), [
      '0 bytes', '1 byte', '900 bytes', '1 KiB', '1.5 KiB', '25 MiB', '1.5 MiB', '256 MiB',
    ]);
  });
  it('a size reply gives the actual and allowed figure, the setting and what to do; the detail is one line', () => {
    const e = explainLimitViolation({ limit: 'max_message_bytes', actual: 31_457_280, allowed: 26_214_400 });
    assert.match(e.message, /30 MiB \(31457280 bytes\)/);
    assert.match(e.message, /at most 25 MiB \(26214400 bytes\)/);
    assert.match(e.message, /Send it again smaller/);
    assert.match(e.message, /limits\.max_message_bytes/);
    assert.doesNotMatch(e.detail, /[\r\n]/);
    assert.match(e.detail, /30 MiB.*25 MiB.*max_message_bytes/);
  });
  it('an attachment-count reply, also for "no attachments"', () => {
    assert.match(explainLimitViolation({ limit: 'max_attachments', actual: 2000, allowed: 50 }).message, /has 2000 attachments.*at most 50/);
    assert.match(explainLimitViolation({ limit: 'max_attachments', actual: 1, allowed: 0 }).message, /1 attachment, and this repository accepts no attachments/);
  });
  it('an attachment-size reply names the file by its safe name only', () => {
    const e = explainLimitViolation({ limit: 'max_attachment_bytes', actual: 30_000_000, allowed: 20_971_520, filename: '../../evil\u202Egnp.exe\r\nBcc: x@y' });
    assert.doesNotMatch(e.message, /\.\.\/|\u202E|\r/);
    assert.match(e.message, /attachment "[^"/]+" is 28\.6 MiB \(30000000 bytes\).*at most 20 MiB/);
  });
  it('a rate-limit reply says whose limit, the count, and when to try again', () => {
    const now = Date.UTC(2024, 4, 6, 10, 0, 30);
    const sender = explainRateLimit({ scope: 'sender', limit: 30, count: 30, retryAt: now + 23 * 60_000 }, now);
    assert.match(sender.message, /You have started 30 tasks .* at most 30 per hour/);
    assert.match(sender.message, /after 2024-05-06 10:24 UTC \(in about 23 minutes\)/);
    assert.match(sender.message, /limits\.tasks_per_sender_per_hour/);
    assert.doesNotMatch(sender.detail, /[\r\n]/);
    const repo = explainRateLimit({ scope: 'repo', limit: 100, count: 100, retryAt: now + RATE_WINDOW_MS }, now);
    assert.match(repo.message, /This repository has accepted 100 tasks .* at most 100 per hour/);
    assert.match(repo.message, /limits\.tasks_per_hour/);
  });
  it('retry times round up to the minute, never earlier', () => {
    assert.equal(formatRetryTime(Date.UTC(2024, 0, 1, 23, 59, 1)), '2024-01-02 00:00 UTC');
    assert.equal(formatRetryTime(Date.UTC(2024, 0, 1, 12, 5, 0)), '2024-01-01 12:05 UTC');
  });
});
