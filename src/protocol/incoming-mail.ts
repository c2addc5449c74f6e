/**
 * The record of one mail as it crosses from a repo listener thread to the supervisor (main
 * thread), and the answer that crosses back: what the listener saw (the screening verdict, the
 * facts threading and limits need) and what recording it did. Everything is structured-cloneable.
 * The supervisor records it with src/store/accept.ts; the listener builds it in src/listener/intake.ts.
 */
import type { LimitViolation } from '../limits/message-limits.ts';
import type { RejectReason } from '../limits/reject-reason.ts';
import type { RequestedRepo } from './requested-repos.ts';

export type MailVerdict =
  | { readonly action: 'accept'; readonly modelHint: string | null }
  | {
      readonly action: 'reject';
      readonly reason: RejectReason;
      readonly detail: string;
      /** For `too_large`: which limit, so the sender's reply can give the figures. */
      readonly limit?: LimitViolation;
    };

/** What a repo listener hands to the supervisor. Structured-cloneable (crosses threads). */
export interface IncomingMail {
  readonly repoId: string;
  /** The whole message, or only its header section when `headersOnly`. */
  readonly raw: Uint8Array;
  /** The message's size as the IMAP server reported it; default `raw.byteLength`. */
  readonly size?: number;
  /**
   * The mail was over `max_message_bytes`, so only its header section was downloaded and is
   * recorded (enough to authenticate, thread and answer it).
   */
  readonly headersOnly?: boolean;
  readonly imapUid: number | null;
  readonly messageId: string | null;
  readonly subject: string;
  readonly sender: string | null;
  /**
   * The connecting server's IP as the repo's own mail server recorded it, when the listener could
   * tell (src/email/connecting-ip.ts); with `sender`, the source rejected mail is counted by.
   */
  readonly sourceIp?: string | null;
  /** The References header's msg-ids, oldest first, for threading a reply. */
  readonly references?: readonly string[];
  /** Conversation ids this mail may belong to, best first (In-Reply-To, References, subject tag). */
  readonly conversationCandidates: readonly string[];
  readonly verdict: MailVerdict;
  /**
   * Set only for a scheduled run (src/schedule/synthetic-mail.ts), never from mail: the task is
   * that schedule's run, with its effort preset (null: the repository's).
   */
  readonly schedule?: { readonly name: string; readonly effort: string | null };
  /**
   * Set only for a task submitted over the task API (src/dashboard/submit-mail.ts), never from mail:
   * who submitted it, where its replies go (null: nowhere), and what acceptance presets.
   */
  readonly api?: ApiSubmission;
  /** Companion repositories the task asks for (src/protocol/requested-repos.ts); absent or empty: the primary alone. */
  readonly requestedRepos?: readonly RequestedRepo[];
}

/** What a task submitted over the API carries beyond its synthetic mail (stored in api_tasks). */
export interface ApiSubmission {
  /** The API token's name; null for admin access. */
  readonly token: string | null;
  /** The address replies are mailed to; null: nothing is mailed, the result is read over the API. */
  readonly replyTo: string | null;
  /** Starts a new conversation, whose id is assigned at acceptance (the answer names it). */
  readonly newConversation: boolean;
  /** The effort of a new conversation; null: the repository's. */
  readonly effort: string | null;
  /** The task's budget, already checked against the repository's budget.task_usd; null: the repository's. */
  readonly budgetUsd: number | null;
}

/** What recording a mail did (acceptMail). */
export type RecordedOutcome =
  | { readonly kind: 'queued'; readonly taskId: number }
  | {
      readonly kind: 'rejected';
      readonly taskId: number;
      /** Its header section was kept, or (the day's budget for rejected mail is spent) nothing but the row. */
      readonly stored?: 'headers' | 'none';
      /** This mail was the first of its UTC day that found the budget spent (log it, once a day). */
      readonly budgetSpent?: boolean;
    }
  /** Already recorded earlier (a re-fetch after a crash, or a second delivery of the same Message-ID). */
  | { readonly kind: 'duplicate'; readonly taskId: number };

/** What the supervisor answers a listener about one mail: recorded, or dropped without a record. */
export type AcceptOutcome =
  | RecordedOutcome
  /**
   * Refused, and not recorded at all: its source left more rejected mail in the last hour than
   * `rejected_mail.per_source_per_hour`. Counted for the day; never answered; removed from the server.
   */
  | {
      readonly kind: 'dropped';
      /** The first mail of its UTC day dropped this way (log it, once a day). */
      readonly firstOfDay?: boolean;
    };
