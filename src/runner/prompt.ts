/**
 * The text Claude receives on stdin, composed as Airut composes it: the email channel's context
 * (Airut's text, verbatim: how the reply reaches the user, what is kept, /outbox and /storage, the
 * tools that do not work over email), the subject of a new conversation, the saved attachments,
 * then one `[{sender} YYYY-MM-DD HH:MM:SS UTC]` block per mail. Our own notes (a resumed, paused or
 * restarted run, the summary of an earlier session) go between the context and the mails, where
 * Airut puts its recovery notice. Pure.
 */

export interface PromptInput {
  readonly isNewConversation: boolean;
  readonly subject: string;
  /** Names as saved in /inbox. */
  readonly attachments: readonly string[];
  /** This run repeats one that a restart interrupted. */
  readonly resumedAfterRestart: boolean;
  /** Set when a fresh session replaces one that no longer fits the context. */
  readonly summaryOfEarlierSession?: string | null;
  /**
   * The mails this run answers, oldest first, one block each: the task's own and any follow-ups
   * coalesced into it (a resumed paused run: only the new ones; its own was in its first prompt).
   */
  readonly mails: readonly PromptMail[];
  /** This run resumes one paused by repeated temporary API failures. */
  readonly resumedAfterPause?: boolean;
  /** The companion repositories mounted beside /workspace (docs/multi-repo.md); none for a single-repository task. */
  readonly companions?: readonly { readonly name: string; readonly path: string; readonly readOnly: boolean }[];
}

export interface PromptMail {
  /** The sender as the From header names them (`Name <address>`, or the address). */
  readonly from: string;
  /** When it was received (ms since the epoch). */
  readonly receivedAt: number;
  readonly body: string;
}

/** Airut's email channel context (`EmailChannelAdapter.channel_context`), word for word. */
export const CHANNEL_CONTEXT =
  'User is interacting with this session via email interface and will receive your last reply as email. ' +
  'After the reply, everything not in /workspace, /inbox, and /storage is reset. ' +
  'Markdown formatting is supported in your responses. ' +
  'To send files back to the user, place them in the /outbox directory root (no subdirectories). ' +
  'Use /storage to persist files across messages.\n\n' +
  'IMPORTANT: AskUserQuestion and plan mode tools (EnterPlanMode/ExitPlanMode) do not work over email interface. ' +
  'If you need clarification, include questions in your response text and the user will reply via email.';

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

/** The channel context with the subject (new conversation, or a fresh session) and the attachments, as Airut appends them. */
function contextPart(p: PromptInput): string {
  let text = CHANNEL_CONTEXT;
  if (p.companions?.length) {
    // Every run says it: a resumed session may not know, and the mounts are the run's, not the session's.
    const list = p.companions.map((c) => `${c.path} (${c.name}, ${c.readOnly ? 'read-only' : 'writable'})`).join(', ');
    text += `\n\nThis task works on several repositories: the primary one is in /workspace; the others are cloned at ${list}.`;
  }
  if ((p.isNewConversation || p.summaryOfEarlierSession) && p.subject.trim()) text += `\n\nSubject: ${p.subject.trim()}`;
  if (p.attachments.length) text += ` The user has attached files to their message, which I have saved to /inbox/: ${p.attachments.join(', ')}.`;
  return text;
}

export function buildPrompt(p: PromptInput): string {
  const parts: string[] = [contextPart(p)];
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
  parts.push(...p.mails.map(mailBlock));
  return parts.join('\n\n') + '\n';
}
