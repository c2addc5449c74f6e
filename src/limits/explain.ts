/**
 * The words for a mail refused by a limit: one line for the dashboard and the log (`detail`), and
 * the reply the sender gets (`message`, plain text). The reply names the limit, the figure of
 * their mail against the allowed one, and what to do about it.
 */
import { safeFileName } from '../conversation/filename.ts';
import { formatBytes } from './bytes.ts';
import type { LimitViolation } from './message-limits.ts';
import type { RateLimitHit } from './rate-limit.ts';

export interface LimitExplanation {
  /** One line, no line breaks; for `tasks.detail` and logs. */
  readonly detail: string;
  /** The reply body, plain text. */
  readonly message: string;
}

/** `25 MiB (26214400 bytes)`; just `900 bytes` when the rounded figure is already exact. */
function exactBytes(n: number): string {
  const short = formatBytes(n);
  return n < 1024 ? short : `${short} (${n} bytes)`;
}

export function explainLimitViolation(v: LimitViolation): LimitExplanation {
  switch (v.limit) {
    case 'max_message_bytes':
      return {
        detail: `Too large: the mail is ${formatBytes(v.actual)}; the limit is ${formatBytes(v.allowed)} (max_message_bytes).`,
        message: [
          `Your mail was not processed: it is ${exactBytes(v.actual)}, and this repository accepts mail of at most ${exactBytes(v.allowed)}.`,
          '',
          'Send it again smaller: leave out or compress the large attachments, or put big files where the repository can fetch them and send a link instead.',
          '',
          'If mail this large should be accepted, ask the operator to raise `limits.max_message_bytes`.',
        ].join('\n'),
      };
    case 'max_attachments':
      return {
        detail: `Too many attachments: ${v.actual}; the limit is ${v.allowed} (max_attachments).`,
        message: [
          v.allowed === 0
            ? `Your mail was not processed: it has ${v.actual} attachment${v.actual === 1 ? '' : 's'}, and this repository accepts no attachments.`
            : `Your mail was not processed: it has ${v.actual} attachments, and this repository accepts at most ${v.allowed} in one mail.`,
          '',
          v.allowed === 0
            ? 'Send the task again without attachments; put files where the repository can fetch them and send a link instead.'
            : 'Send it again with fewer files: put them into one archive (zip or tar), or spread them over several mails in the same conversation.',
          '',
          'If more attachments should be accepted, ask the operator to raise `limits.max_attachments`.',
        ].join('\n'),
      };
    case 'mime_parts':
      return {
        detail: `Too many MIME parts: more than ${v.allowed}, the most the mail reader handles.`,
        message: [
          `Your mail was not processed: it is made of more than ${v.allowed} MIME parts (attachments, inline images, nested messages), which is more than this service reads in one mail.`,
          '',
          'Send it again with fewer parts: put the files into one archive (zip or tar), or spread them over several mails in the same conversation.',
        ].join('\n'),
      };
    case 'mime_header_bytes':
      return {
        detail: `A MIME header section is larger than ${formatBytes(v.allowed)}, the most the mail reader handles.`,
        message: [
          `Your mail was not processed: one of its parts has a header section larger than ${formatBytes(v.allowed)}, which this service does not read.`,
          '',
          'This usually means the mail was produced by a broken program. Send it again from an ordinary mail client.',
        ].join('\n'),
      };
    case 'max_attachment_bytes': {
      const name = v.filename ? `"${safeFileName(v.filename)}"` : 'without a name';
      return {
        detail: `Attachment too large: ${formatBytes(v.actual)}; the limit is ${formatBytes(v.allowed)} (max_attachment_bytes).`,
        message: [
          `Your mail was not processed: the attachment ${name} is ${exactBytes(v.actual)}, and this repository accepts attachments of at most ${exactBytes(v.allowed)} each.`,
          '',
          'Send it again with that file compressed or split into smaller parts, or put it where the repository can fetch it and send a link instead.',
          '',
          'If larger attachments should be accepted, ask the operator to raise `limits.max_attachment_bytes`.',
        ].join('\n'),
      };
    }
  }
}

/** `2024-05-06 10:23 UTC`, rounded up to the minute (never earlier than the real time). */
export function formatRetryTime(ms: number): string {
  const up = new Date(Math.ceil(ms / 60_000) * 60_000);
  return `${up.toISOString().slice(0, 10)} ${up.toISOString().slice(11, 16)} UTC`;
}

function inAbout(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  return minutes === 1 ? 'about a minute' : `about ${minutes} minutes`;
}

export function explainRateLimit(hit: RateLimitHit, now: number): LimitExplanation {
  const when = formatRetryTime(hit.retryAt);
  const whose =
    hit.scope === 'sender'
      ? `You have started ${hit.count} tasks in this repository in the last hour; one sender may start at most ${hit.limit} per hour.`
      : `This repository has accepted ${hit.count} tasks in the last hour, from all senders together; it takes at most ${hit.limit} per hour.`;
  const setting = hit.scope === 'sender' ? 'limits.tasks_per_sender_per_hour' : 'limits.tasks_per_hour';
  return {
    detail: `Rate limited: ${hit.count} tasks in the last hour ${hit.scope === 'sender' ? 'from this sender' : 'in this repository'}; the limit is ${hit.limit} (${setting.slice('limits.'.length)}). Retry after ${when}.`,
    message: [
      `Your mail was not processed. ${whose}`,
      '',
      `Send it again after ${when} (in ${inAbout(hit.retryAt - now)}). Mail sent before then is set aside the same way, without another reply like this one.`,
      '',
      `If this rate is too low for your work, ask the operator to raise \`${setting}\`.`,
    ].join('\n'),
  };
}
