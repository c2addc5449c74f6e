/**
 * Builds the complete RFC 5322 message of every mail we send (replies, acknowledgements, error
 * explanations, notices). The bytes are stored in the outbox and sent unchanged, so a retry after
 * a restart sends exactly what was composed, with the same Message-ID.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RepoEmailConfig } from '../config/types.ts';
import type { MailKind } from '../store/outgoing-mail.ts';
import { newMessageId } from './message-id.ts';
import { renderPlain, renderReply, usageFooter, type RenderedBody, type UsageSummary } from './render.ts';
import { cleanHeaderText, replySubject } from './subject.ts';
import { writeSpoolFile } from './spool.ts';

export type { MailKind };

/**
 * A file attached to a mail: read from `path` when the mail is composed, or given as `content`
 * (a stream is read once, while the message is written).
 */
export interface ReplyAttachment {
  readonly filename: string;
  readonly path?: string;
  readonly content?: Buffer | string | Readable;
  readonly contentType?: string;
}

export type ComposeBody =
  /** The agent's answer: markdown, with a usage footer when usage is known. */
  | { readonly kind: 'reply'; readonly markdown: string; readonly usage?: UsageSummary | null }
  /** Sent when a new conversation starts. `dashboardUrl` is the full link to show, if any. */
  | { readonly kind: 'ack'; readonly dashboardUrl?: string | null }
  /** A short explanation for the sender, as plain text (no stack traces: the caller words it). */
  | { readonly kind: 'error'; readonly message: string }
  /** Anything else the daemon tells the sender, as markdown. */
  | { readonly kind: 'notice'; readonly markdown: string };

export interface ComposeInput {
  /** The repo's `email` settings; `from` becomes the From header, `fromAddress` the id domain. */
  readonly repoEmail: Pick<RepoEmailConfig, 'from' | 'fromAddress'>;
  /** The original sender (a bare address). */
  readonly to: string;
  readonly conversationId: string;
  /** The subject of the inbound mail, as received. */
  readonly originalSubject: string;
  /** The inbound Message-ID (with or without angle brackets); null when it had none. */
  readonly inReplyTo: string | null;
  /** The inbound References list, oldest first. */
  readonly references?: readonly string[];
  readonly body: ComposeBody;
  readonly attachments?: readonly ReplyAttachment[];
  /** Milliseconds since the epoch; default now. */
  readonly now?: number;
}

export interface ComposedMail {
  readonly raw: Buffer;
  /** With angle brackets. */
  readonly messageId: string;
  readonly subject: string;
  readonly kind: MailKind;
  /**
   * The body as written, before it became MIME: its text/plain part. For a reply that is the
   * agent's markdown with everything we added as it went into the mail (the resumed note, files
   * not attached, pushed branches, the usage footer); for a notice our markdown. An ack or an
   * error is plain text (`kind` says so): shown as text, its line breaks kept, it reads as sent.
   */
  readonly bodyMarkdown: string;
}

/** At most this many ids in References: the thread's root and the newest ones. */
export const MAX_REFERENCES = 21;
const KEEP_NEWEST_REFERENCES = MAX_REFERENCES - 1;

/** `<id@host>` for a well-formed msg-id (brackets optional), null for anything else. */
export function normalizeMessageId(value: string): string | null {
  const trimmed = value.trim();
  const inner = trimmed.startsWith('<') && trimmed.endsWith('>') ? trimmed.slice(1, -1) : trimmed;
  if (!/^[^<>\s\u0000-\u001f\u007f@]+@[^<>\s\u0000-\u001f\u007f@]+$/.test(inner)) return null;
  return `<${inner}>`;
}

/**
 * The References of a reply: the inbound References plus the inbound Message-ID last, without
 * duplicates or malformed ids; a long chain keeps its first id (the thread root) and the newest.
 */
export function replyReferences(inboundReferences: readonly string[], inboundMessageId: string | null): string[] {
  const seen = new Set<string>();
  const ids: string[] = [];
  const add = (raw: string): void => {
    const id = normalizeMessageId(raw);
    if (id === null || seen.has(id)) return;
    seen.add(id);
    ids.push(id);
  };
  for (const r of inboundReferences) add(r);
  if (inboundMessageId !== null) {
    // The inbound id goes last even if the chain already mentioned it.
    const id = normalizeMessageId(inboundMessageId);
    if (id !== null && seen.has(id)) ids.splice(ids.indexOf(id), 1);
    if (id !== null) {
      seen.add(id);
      ids.push(id);
    }
  }
  if (ids.length <= MAX_REFERENCES) return ids;
  return [ids[0] as string, ...ids.slice(-KEEP_NEWEST_REFERENCES)];
}

function ackBody(conversationId: string, dashboardUrl: string | null | undefined): RenderedBody {
  const lines = [`Working on it — conversation ${conversationId}; reply to this mail to continue.`];
  if (dashboardUrl) lines.push('', `Progress: ${dashboardUrl}`);
  return renderPlain(lines.join('\n'));
}

function renderBody(input: ComposeInput): RenderedBody {
  const body = input.body;
  switch (body.kind) {
    case 'reply':
      return renderReply(body.markdown, body.usage ? usageFooter(body.usage) : '');
    case 'ack':
      return ackBody(input.conversationId, body.dashboardUrl);
    case 'error':
      return renderPlain(body.message);
    case 'notice':
      return renderReply(body.markdown);
  }
}

/** A file name for the attachment header: no directories, no control characters. */
function safeFilename(name: string): string {
  const base = path.posix.basename(name.replace(/\\/g, '/'));
  const cleaned = cleanHeaderText(base);
  return cleaned.length > 0 && cleaned !== '.' && cleaned !== '..' ? cleaned : 'attachment';
}

/** Builds the message in memory. Attachments given by `path` are read now; a missing file rejects. */
export async function composeMail(input: ComposeInput): Promise<ComposedMail> {
  const { composer, messageId, subject, bodyMarkdown } = prepare(input);
  const raw = await composer.compile().build();
  return { raw, messageId, subject, kind: input.body.kind, bodyMarkdown };
}

export interface SpooledMail extends Omit<ComposedMail, 'raw'> {
  /** The spool file holding the complete message, and its size. */
  readonly raw: { readonly path: string; readonly size: number };
}

/**
 * Builds the message straight into a spool file in `dir` (see spool.ts), streaming: attachments
 * are read and encoded piece by piece, so memory stays flat whatever their size.
 */
export async function composeMailToFile(input: ComposeInput, dir: string, stem: string): Promise<SpooledMail> {
  const { composer, messageId, subject, bodyMarkdown } = prepare(input);
  const raw = await writeSpoolFile(dir, stem, composer.compile().createReadStream());
  return { raw, messageId, subject, kind: input.body.kind, bodyMarkdown };
}

function prepare(input: ComposeInput): { composer: MailComposer; messageId: string; subject: string; bodyMarkdown: string } {
  const now = input.now ?? Date.now();
  const messageId = newMessageId(input.conversationId, input.repoEmail.fromAddress, now);
  const subject = replySubject(input.conversationId, input.originalSubject);
  const inReplyTo = input.inReplyTo === null ? null : normalizeMessageId(input.inReplyTo);
  const references = replyReferences(input.references ?? [], inReplyTo);
  const { text, html } = renderBody(input);

  const composer = new MailComposer({
    from: input.repoEmail.from,
    to: { name: '', address: input.to.trim() },
    subject,
    messageId,
    date: new Date(now),
    ...(inReplyTo !== null ? { inReplyTo } : {}),
    ...(references.length > 0 ? { references } : {}),
    headers: {
      'Auto-Submitted': 'auto-replied',
      // Asks Exchange/Outlook not to answer us with out-of-office and similar auto-replies.
      'X-Auto-Response-Suppress': 'All',
      'X-Airut-Conversation': input.conversationId,
      // Lets mail filters (and tests) tell an acknowledgement from an answer without reading the text.
      'X-Airut-Kind': input.body.kind,
    },
    text,
    html,
    attachments: (input.attachments ?? []).map((a) => ({
      filename: safeFilename(a.filename),
      ...(a.path !== undefined ? { path: a.path } : {}),
      ...(a.content !== undefined ? { content: a.content } : {}),
      ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
    })),
    // Nothing the agent produced may make us fetch a URL while composing.
    disableUrlAccess: true,
    newline: '\r\n',
  });
  return { composer, messageId, subject, bodyMarkdown: text.trimEnd() };
}
