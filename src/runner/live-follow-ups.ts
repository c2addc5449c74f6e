/**
 * Follow-ups delivered live into the running Claude session. The dispatcher offers a queued mail
 * of this run's conversation once; it is taken only while the agent's input is open: its
 * attachments are saved to /inbox first, then the mail moves `queued → merged` (live) in one
 * transaction, then its text (sender, time, attachment names) is written to the session, in the
 * same tick as the transaction so the input cannot close in between; its attachments are then
 * kept for the dashboard under its own id (kept-files.ts). A mail declined (input
 * closed, not queued any more) stays queued and is coalesced into the conversation's next run.
 *
 * The turns: Claude Code echoes each batch of messages it takes into a turn, then that turn's
 * result. The reply covers every turn: the first answer, then for each later turn a line naming
 * the follow-ups it took, then its answer (`replyText`).
 */
import { senderLine } from '../email/from-address.ts';
import type { Logger } from '../log/logger.ts';
import type { ConversationStore } from '../conversation/index.ts';
import type { Db } from '../store/database.ts';
import { mergeLive } from '../store/task-merges.ts';
import { getTaskRawMessage } from '../store/task-queries.ts';
import { saveTaskRequest } from '../store/task-content.ts';
import { requestTexts } from '../email/parse.ts';
import { readTaskMail } from '../reply/inbound-mail.ts';
import type { AgentEvent, AgentInputHandle } from '../sandbox/execution-backend.ts';
import { saveAttachments } from './attachments.ts';
import type { TaskFiles } from './kept-files.ts';
import { followUpMessage } from './prompt.ts';

export interface LiveFollowUpDeps {
  readonly db: Db;
  readonly taskId: number;
  readonly conversationId: string;
  readonly conversations: ConversationStore;
  /** Keeps the follow-up's attachments (under its own id) for the dashboard. */
  readonly files: TaskFiles;
  readonly log: Logger;
  /** A mail's row changed (merged): the dashboard shows it. */
  readonly onTaskChanged: (taskId: number) => void;
}

interface Taken {
  readonly taskId: number;
  readonly sender: string;
  readonly receivedAt: number;
}

export class LiveFollowUps {
  #input: AgentInputHandle | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  /** Messages written, in order: null for the run's own prompt, else the follow-up. */
  #written: Array<Taken | null> = [];
  #echoed = 0;
  /** The follow-ups the current turn took; the answers of every finished turn. */
  #turn: Taken[] = [];
  #answers: Array<{ readonly followUps: readonly Taken[]; readonly text: string }> = [];

  constructor(private readonly d: LiveFollowUpDeps) {}

  /**
   * A run started: its first message (the prompt) is written already. A second run of the task
   * (a fresh session after "prompt is too long") starts the reply's turns afresh.
   */
  attach(input: AgentInputHandle): void {
    this.#input = input;
    this.#written = [null];
    this.#echoed = 0;
    this.#turn = [];
    this.#answers = [];
  }

  detach(): void {
    this.#input = null;
  }

  /** Follows the run's events: which messages each turn took, and each turn's answer. */
  observe(e: AgentEvent): void {
    if (e.type === 'input_echo') {
      const took = this.#written.slice(this.#echoed, this.#echoed + e.messages);
      this.#echoed += e.messages;
      this.#turn.push(...took.filter((t): t is Taken => t !== null));
    } else if (e.type === 'result') {
      this.#answers.push({ followUps: this.#turn, text: e.result });
      this.#turn = [];
    }
  }

  /** The dispatcher offered a queued mail; offers are handled one at a time, in order. */
  offer(followUpId: number): Promise<boolean> {
    const next = this.#chain.then(() => this.#take(followUpId));
    this.#chain = next.catch(() => undefined);
    return next.catch((err: Error) => {
      this.d.log.warn({ followUp: followUpId, err: err.message }, 'could not deliver a follow-up live; it is coalesced into the next run');
      return false;
    });
  }

  async #take(followUpId: number): Promise<boolean> {
    if (!this.#input?.isOpen()) return false;
    const mail = await readTaskMail(this.d.db, followUpId);
    const raw = getTaskRawMessage(this.d.db, followUpId);
    if (!mail || !raw || mail.task.status !== 'queued' || !mail.parsed.bodyText.trim()) return false;
    const saved = await saveAttachments(raw, this.d.conversations, this.d.conversationId);
    const input = this.#input;
    if (!input?.isOpen()) return false;
    // No await from here on: the merge and the write happen in one tick, so the input cannot close in between.
    if (!mergeLive(this.d.db, followUpId, mail.task.attempts, this.d.taskId, this.d.conversationId)) return false;
    const taken: Taken = { taskId: followUpId, sender: mail.inbound.sender, receivedAt: mail.task.createdAt };
    const text = followUpMessage({ from: senderLine(mail.parsed.from, taken.sender), receivedAt: taken.receivedAt, body: mail.parsed.bodyText }, saved.map((s) => s.savedName));
    if (!input.send(text)) {
      this.d.log.error({ followUp: followUpId }, 'the agent input closed between the merge and the write; the follow-up is merged but unanswered');
    }
    this.#written.push(taken);
    this.#recordRequest(followUpId, requestTexts(mail.parsed));
    await this.d.files.keepMailFiles(followUpId, saved);
    this.d.log.info({ followUp: followUpId }, 'follow-up delivered live into the running session');
    this.d.onTaskChanged(followUpId);
    return true;
  }

  /** The follow-up's request, for the dashboard; the mail is delivered already, so a failure here is only logged. */
  #recordRequest(followUpId: number, request: { text: string; original: string }): void {
    try {
      saveTaskRequest(this.d.db, followUpId, request);
    } catch (err) {
      this.d.log.warn({ followUp: followUpId, err: (err as Error).message }, 'could not record the text of a live follow-up; the dashboard fills it in from the stored mail');
    }
  }

  /** How many follow-ups were taken live. */
  get count(): number {
    return this.#written.filter((t) => t !== null).length;
  }

  /**
   * The reply text covering every turn, or null when no follow-up was taken (the last answer is
   * the reply, as before).
   */
  replyText(): string | null {
    if (!this.#answers.some((a) => a.followUps.length)) return null;
    return this.#answers
      .map((a) => {
        const head = a.followUps.map((f) => `**Follow-up from ${f.sender} (${utc(f.receivedAt)}):**`).join('\n');
        return head ? `${head}\n\n${a.text.trim()}` : a.text.trim();
      })
      .filter(Boolean)
      .join('\n\n---\n\n');
  }
}

function utc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
