/**
 * A task submitted over the API enters as a synthetic accepted mail, as a scheduled run does
 * (src/schedule/synthetic-mail.ts): the same accept path (rate limits, spending caps, one task row per
 * mail) and an unchanged runner. From the `reply_to` address, or the API's own undeliverable sender
 * (src/reply/api-sender.ts); To the repository; the prompt as the text body; the attachments as MIME
 * parts, so inbox/ gets them as from mail. Its Message-ID is new and random. A follow-up
 * (`…/messages`) names its conversation as the only candidate and threads like a mail reply.
 */
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RepoServerConfig } from '../config/types.ts';
import type { ApiSubmission, IncomingMail } from '../protocol/incoming-mail.ts';
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import { cleanHeaderText } from '../reply/subject.ts';
import type { ConversationThread } from '../store/conversation-thread.ts';
import type { ApiAttachment } from './submit-request.ts';

/** Characters of the prompt's first line that make a subject when none is given. */
const SUBJECT_FROM_PROMPT_CHARS = 78;

export interface SyntheticMailInput {
  readonly repo: RepoServerConfig;
  /** reply_to, or the API sender. */
  readonly sender: string;
  readonly subject: string;
  readonly prompt: string;
  readonly attachments: readonly ApiAttachment[];
  readonly modelHint: string | null;
  readonly api: ApiSubmission;
  /** For a follow-up: its conversation, and the thread it continues. */
  readonly followUp?: { readonly conversationId: string; readonly thread: ConversationThread };
  readonly requestedRepos?: readonly RequestedRepo[];
  readonly now?: number;
}

/** `subject`, else the prompt's first non-empty line, shortened. */
export function subjectFor(subject: string | null, prompt: string): string {
  const given = subject === null ? '' : cleanHeaderText(subject);
  if (given) return given;
  const line = cleanHeaderText(prompt.split('\n').find((l) => l.trim() !== '') ?? '');
  return line.length <= SUBJECT_FROM_PROMPT_CHARS ? line : `${line.slice(0, SUBJECT_FROM_PROMPT_CHARS - 1).trimEnd()}…`;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

export async function syntheticMail(input: SyntheticMailInput): Promise<IncomingMail> {
  const { repo } = input;
  const messageId = `<api.${randomBytes(12).toString('hex')}@${domainOf(repo.email.fromAddress)}>`;
  const thread = input.followUp?.thread;
  const composer = new MailComposer({
    from: input.sender,
    to: repo.email.from,
    subject: input.subject,
    messageId,
    date: new Date(input.now ?? Date.now()),
    ...(thread?.lastMessageId ? { inReplyTo: thread.lastMessageId, references: [...thread.references] } : {}),
    headers: { 'X-Airut-Api': input.api.token ?? 'admin' },
    text: input.prompt,
    attachments: input.attachments.map((a) => ({
      filename: a.name,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      contentDisposition: 'attachment' as const,
    })),
    disableUrlAccess: true,
    disableFileAccess: true,
  });
  const raw = await composer.compile().build();
  return {
    repoId: repo.repoId,
    raw: new Uint8Array(raw),
    imapUid: null,
    messageId,
    subject: input.subject,
    sender: input.sender.toLowerCase(),
    references: thread?.references ?? [],
    conversationCandidates: input.followUp ? [input.followUp.conversationId] : [],
    verdict: { action: 'accept', modelHint: input.modelHint },
    api: input.api,
    ...(input.requestedRepos && input.requestedRepos.length > 0 ? { requestedRepos: input.requestedRepos } : {}),
  };
}
