/** The text Claude receives on stdin. Pure. */

export interface PromptInput {
  readonly isNewConversation: boolean;
  readonly subject: string;
  readonly body: string;
  /** Names as saved in /inbox. */
  readonly attachments: readonly string[];
  /** This run repeats one that a restart interrupted. */
  readonly resumedAfterRestart: boolean;
  /** Set when a fresh session replaces one that no longer fits the context. */
  readonly summaryOfEarlierSession?: string | null;
  /**
   * Set when the run answers more than one mail (follow-ups coalesced into it) or resumes a paused
   * run: one block per mail, oldest first, instead of `body`.
   */
  readonly mails?: readonly PromptMail[];
  /** This run resumes one paused by repeated temporary API failures. */
  readonly resumedAfterPause?: boolean;
}

export interface PromptMail {
  /** The sender's address. */
  readonly from: string;
  /** When it was received (ms since the epoch). */
  readonly receivedAt: number;
  readonly body: string;
}

/** Airut's block for one mail: `[{From} YYYY-MM-DD HH:MM:SS UTC]` then the body. */
export function mailBlock(m: PromptMail): string {
  const at = new Date(m.receivedAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return `[${m.from} ${at}]\n${m.body.trim()}`;
}

const OUTBOX_NOTE =
  'Files you want to send back go in /outbox/ (top level, regular files); they are attached to the reply email.';

/** The user message for a follow-up delivered into the running session (live-follow-ups.ts). */
export function followUpMessage(m: PromptMail, attachments: readonly string[]): string {
  const parts = ['A follow-up message about this task arrived while you were working on it:', mailBlock(m)];
  if (attachments.length) parts.push(`The sender attached these files; they are in /inbox/: ${attachments.join(', ')}`);
  parts.push(OUTBOX_NOTE);
  return parts.join('\n\n') + '\n';
}

export function buildPrompt(p: PromptInput): string {
  const parts: string[] = [];
  if (p.summaryOfEarlierSession) {
    parts.push(
      'This conversation continues in a fresh session because the earlier one no longer fits the context.',
      `Summary of the earlier session:\n${p.summaryOfEarlierSession}`,
      'Your earlier work is still in /workspace.',
    );
  }
  if (p.resumedAfterRestart) {
    parts.push(
      'Your previous run of this request was interrupted by a restart of the service. Continue where you left off. ' +
        'Files that run put in /outbox/ were discarded: write them again if they should go with the reply.',
    );
  }
  if (p.resumedAfterPause) {
    parts.push(
      'Your previous run of this conversation was paused because the Claude API failed repeatedly with temporary errors. ' +
        'Continue where you left off, and take the new messages below into account.',
    );
  }
  if (p.isNewConversation || p.summaryOfEarlierSession) {
    if (p.subject.trim()) parts.push(`Subject: ${p.subject.trim()}`);
  }
  if (p.mails) parts.push(...p.mails.map(mailBlock));
  else if (p.body.trim()) parts.push(p.body.trim());
  if (p.attachments.length) {
    parts.push(`${p.mails ? 'The senders' : 'The sender'} attached these files; they are in /inbox/: ${p.attachments.join(', ')}`);
  }
  parts.push(OUTBOX_NOTE);
  return parts.join('\n\n') + '\n';
}
