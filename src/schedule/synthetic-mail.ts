/**
 * A scheduled run enters the system as an ordinary accepted mail, so it takes the same accept path
 * (limits, spending caps, one task row per mail) and the runner pipeline is unchanged: a message
 * From `deliver.to` To the repository, with the schedule's subject and its prompt as the body. Its
 * Message-ID is derived from (repository, schedule, slot), so recording the same slot twice (a
 * restart between the record and the slot's advance) finds the first record. It carries no
 * conversation candidates: every run starts a new conversation, which a reply can continue.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RepoServerConfig, ScheduleConfig } from '../config/types.ts';
import type { IncomingMail } from '../protocol/incoming-mail.ts';
import { slotMessageId } from './slots.ts';

/** The body of a run with a trigger_command; the runner replaces it with the command's output. */
export const TRIGGER_PLACEHOLDER = '(the output of this schedule\'s trigger_command is given here when it runs)';

export async function scheduledMail(repo: RepoServerConfig, schedule: ScheduleConfig, slot: number): Promise<IncomingMail> {
  const domain = repo.email.fromAddress.slice(repo.email.fromAddress.lastIndexOf('@') + 1);
  const messageId = slotMessageId(repo.repoId, schedule.name, slot, domain);
  const composer = new MailComposer({
    from: schedule.deliverTo,
    to: repo.email.from,
    subject: schedule.subject,
    messageId,
    date: new Date(slot),
    headers: { 'X-Airut-Schedule': schedule.name },
    text: schedule.prompt ?? TRIGGER_PLACEHOLDER,
    disableUrlAccess: true,
    disableFileAccess: true,
  });
  const raw = await composer.compile().build();
  return {
    repoId: repo.repoId,
    raw: new Uint8Array(raw),
    imapUid: null,
    messageId,
    subject: schedule.subject,
    sender: schedule.deliverTo.toLowerCase(),
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: schedule.model },
    schedule: { name: schedule.name, effort: schedule.effort },
  };
}
