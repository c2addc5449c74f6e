/**
 * Mail we must never answer: our own replies coming back, auto-responders, bounces and list
 * traffic. Answering any of them can start a mail loop between two robots.
 */
import { firstHeaderValue, headerValues, type HeaderLine } from './headers.ts';
import { dropComments } from './lexical.ts';
import { printable } from './text.ts';

export interface LoopSignals {
  /** The single From address, lowercased; null when the From header was unusable. */
  readonly sender: string | null;
  readonly headerLines: readonly HeaderLine[];
}

const BOUNCE_LOCAL_PARTS = new Set(['mailer-daemon', 'postmaster']);
const BULK_PRECEDENCE = new Set(['bulk', 'list', 'junk', 'auto_reply']);

/** The leading keyword of a header value, lowercased, without comments or parameters. */
function keyword(value: string): string {
  return dropComments(value).split(/[;\s]/).find((w) => w !== '')?.toLowerCase() ?? '';
}

function localPart(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase();
}

function isOwnAddress(sender: string, ownAddress: string): boolean {
  const own = ownAddress.trim().toLowerCase();
  if (sender === own) return true;
  // Our sub-addresses (bot+opus@…) are ours too.
  const at = own.lastIndexOf('@');
  if (at <= 0) return false;
  const ownLocal = own.slice(0, at);
  const ownDomain = own.slice(at);
  return sender.endsWith(ownDomain) && sender.startsWith(`${ownLocal}+`) && sender.lastIndexOf('@') === sender.length - ownDomain.length;
}

/** A sentence saying why the message must not be answered, or null when it may be. */
export function detectLoop(msg: LoopSignals, ownAddress: string): string | null {
  const { sender, headerLines } = msg;
  if (sender !== null && isOwnAddress(sender, ownAddress)) {
    return `it comes from this repository's own address ${sender}`;
  }
  if (sender !== null && BOUNCE_LOCAL_PARTS.has(localPart(sender))) {
    return `it is a bounce or system message from ${sender}`;
  }

  // The topmost Return-Path is the one the delivering server wrote from the SMTP envelope.
  const returnPath = firstHeaderValue(headerLines, 'Return-Path');
  if (returnPath !== null) {
    const path = dropComments(returnPath).trim();
    if (path === '<>' || path === '' || /^<\s*>$/.test(path)) return 'it is a bounce (empty Return-Path)';
    const inner = path.replace(/^<|>$/g, '');
    if (BOUNCE_LOCAL_PARTS.has(localPart(inner))) return `it is a bounce (Return-Path ${printable(path, 80)})`;
  }

  for (const value of headerValues(headerLines, 'Auto-Submitted')) {
    if (keyword(value) !== 'no') return `it was sent automatically (Auto-Submitted: ${printable(value, 60)})`;
  }
  for (const name of ['X-Autoreply', 'X-Autorespond']) {
    for (const value of headerValues(headerLines, name)) {
      if (keyword(value) !== 'no') return `it is an automatic reply (${name}: ${printable(value, 60)})`;
    }
  }

  const listId = firstHeaderValue(headerLines, 'List-Id');
  if (listId !== null) return `it is mailing-list mail (List-Id: ${printable(listId, 80)})`;
  for (const value of headerValues(headerLines, 'Precedence')) {
    if (BULK_PRECEDENCE.has(keyword(value))) return `it is bulk or list mail (Precedence: ${printable(value, 40)})`;
  }

  const contentType = firstHeaderValue(headerLines, 'Content-Type');
  if (contentType !== null && keyword(contentType) === 'multipart/report') {
    return 'it is a delivery or read report (multipart/report)';
  }
  return null;
}
