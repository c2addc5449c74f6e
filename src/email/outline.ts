/**
 * A raw message → what a repo's listener needs to decide about it: who sent it, where it belongs,
 * what it carries (attachments and their sizes) and whether its structure can be read at all —
 * everything but the body text. A plain, structured-cloneable description.
 *
 * The runner's full parse (parse.ts) adds the body text; both share the header facts and agree on
 * the attachments (see mime-structure.ts for why the listener does not use mailparser).
 *
 * Never throws: garbage in gives a description with empty fields and `problems` filled in, which
 * the screen then rejects (no From → malformed).
 */
import { headerFacts, readHeaderSection, subjectLine, type HeaderFacts } from './header-facts.ts';
import { readMimeStructure, type AttachmentInfo, type MimeStructure } from './mime-structure.ts';

export interface MessageOutline extends HeaderFacts {
  /** Decoded, single line, no control characters; '' when absent. */
  readonly subject: string;
  readonly attachments: readonly AttachmentInfo[];
  /** Things that went wrong while reading the message, for the dashboard; [] normally. */
  readonly problems: readonly string[];
  /**
   * The MIME structure broke one of the reader's own bounds (`MIME_LIMITS`), so the body and
   * attachments could not be read: too many parts, or a part's header section too large.
   */
  readonly structureLimit: MimeStructure['structureLimit'];
}

export async function outlineMessage(raw: Buffer): Promise<MessageOutline> {
  const problems: string[] = [];
  const headerLines = readHeaderSection(raw, problems);
  const structure = await readMimeStructure(raw);
  if (structure.problem !== null) problems.push(structure.problem);
  return {
    ...headerFacts(headerLines),
    subject: subjectLine(structure.subject, headerLines),
    attachments: structure.attachments,
    problems,
    structureLimit: structure.structureLimit,
  };
}
