/**
 * What a task was asked and what it answered, as the task and conversation pages show them: the
 * incoming mail (sender, time, the text as the agent received it, the original behind a toggle,
 * its files) and the reply as sent (its markdown rendered, its files). The toggles are <details>,
 * so nothing here needs the script.
 */
import { formatBytes } from '../limits/bytes.ts';
import type { OutgoingMailSummary } from '../store/outgoing-mail.ts';
import type { TaskFile, TaskRequest } from '../store/task-content.ts';
import type { TaskRow } from '../store/task-queries.ts';
import { h, shorten, timeTag, type SafeHtml } from './html.ts';
import { markdownBlock } from './markdown-view.ts';
import { statusBadge } from './views.ts';

/** Longest request or reply text rendered, in characters of source. */
const MAX_TEXT = 100_000;

/** The reply mails of a task: what answered it (not the acknowledgement nor notices). */
export function answerMails(mails: readonly OutgoingMailSummary[]): OutgoingMailSummary[] {
  return mails.filter((m) => m.kind === 'reply' || m.kind === 'error');
}

function fileItem(f: TaskFile): SafeHtml {
  const size = h`<span class="muted">${formatBytes(f.size)}</span>`;
  if (f.path === null) {
    return h`<li data-role="file" data-kept="false"><span class="file-name">${f.name}</span> ${size} <span class="muted">— not kept: ${f.note ?? 'unknown reason'}</span></li>`;
  }
  return h`<li data-role="file" data-kept="true"><a class="file-name" href="/tasks/${f.taskId}/files/${f.id}" download>${f.name}</a> ${size}</li>`;
}

/** The files of one direction, as download links (or why a file was not kept). */
export function fileList(files: readonly TaskFile[], direction: 'in' | 'out'): SafeHtml {
  const mine = files.filter((f) => f.direction === direction);
  if (mine.length === 0) return h``;
  return h`<ul class="files" data-role="files-${direction}">${mine.map(fileItem)}</ul>`;
}

/** The request's text, rendered; the original behind a toggle when quote stripping changed it. */
function requestText(request: TaskRequest | null): SafeHtml {
  if (request === null) return h`<p class="muted" data-role="request-missing">The text of this mail was not recorded.</p>`;
  const shown = request.text.trim() === '' ? h`<p class="muted">(empty body)</p>` : markdownBlock(request.text, MAX_TEXT, 'request-text', 'request');
  const original =
    request.original.trim() !== '' && request.original.trim() !== request.text.trim()
      ? h`<details class="original" data-role="request-original"><summary>original text</summary><pre>${shorten(request.original, MAX_TEXT)}</pre></details>`
      : h``;
  return h`${shown}${original}`;
}

/** One incoming mail of a task: who, when, what it said, its files. `note` says how it was handled (merged…). */
export function incomingMail(t: TaskRow, request: TaskRequest | null, files: readonly TaskFile[], note: SafeHtml = h``): SafeHtml {
  return h`<article class="mail mail-in" data-role="mail-in" data-mail-task="${t.id}">
<div class="mail-head"><span class="sender">${t.sender ?? '(unknown sender)'}</span> ${timeTag(t.createdAt)} <a class="muted" href="/tasks/${t.id}">#${t.id}</a>${note}</div>
${requestText(request)}
${fileList(files, 'in')}
</article>`;
}

/** One reply as sent: the body's markdown rendered (or why it cannot be), its files. */
export function outgoingMail(m: OutgoingMailSummary, files: readonly TaskFile[]): SafeHtml {
  const body =
    m.bodyMarkdown === null
      ? h`<p class="muted">The body of this mail was not kept (written before the dashboard kept replies).</p>`
      : // A reply's and a notice's body is markdown; an ack's and an error's is our plain text (compose.ts), whose line breaks are meant.
        markdownBlock(m.bodyMarkdown, MAX_TEXT, 'reply-text', m.kind === 'reply' || m.kind === 'notice' ? 'dashboard' : 'request');
  return h`<article class="mail mail-out mail-${m.kind}" data-role="mail-out" data-mail-id="${m.id}">
<div class="mail-head"><span class="mail-kind">${m.kind === 'error' ? 'error reply' : 'reply'}</span> to <span class="recipient">${m.recipient}</span> ${timeTag(m.sentAt ?? m.createdAt)} ${statusBadge(m.status)}</div>
${body}
${fileList(files, 'out')}
</article>`;
}

/** The replies of one task; its outbox files went with the last one. */
export function repliesWithFiles(answers: readonly OutgoingMailSummary[], files: readonly TaskFile[]): SafeHtml[] {
  return answers.map((m, i) => outgoingMail(m, i === answers.length - 1 ? files : []));
}

/** No reply of its own: a merged mail was answered by the task it was merged into. */
function noReply(t: TaskRow): SafeHtml {
  if (t.status === 'merged' && t.mergedInto !== null) {
    return h`<p class="muted" data-role="reply-elsewhere">Answered in the reply of <a href="/tasks/${t.mergedInto}#reply">#${t.mergedInto}</a>.</p>`;
  }
  return h`<p class="muted" data-role="reply-missing">No reply yet.</p>`;
}

/** The task page's "Request" and "Reply" sections. */
export function requestAndReply(t: TaskRow, request: TaskRequest | null, files: readonly TaskFile[], mails: readonly OutgoingMailSummary[]): SafeHtml {
  const answers = answerMails(mails);
  return h`<section class="request" id="request"><h2>Request</h2>${incomingMail(t, request, files)}</section>
<section class="reply" id="reply"><h2>Reply</h2>${answers.length ? repliesWithFiles(answers, files) : noReply(t)}</section>`;
}
