/**
 * The task page's note on how much of the incoming mail is kept. Rejected mail keeps its header
 * section only, or nothing once the day's budget for it is spent (src/limits/rejected-mail.ts), and
 * retention empties old mail that belongs to no conversation; the page says which, so nobody looks
 * for a body that was never stored.
 */
import { formatBytes } from '../limits/bytes.ts';
import type { TaskMailStorage } from '../store/task-queries.ts';
import { h, type SafeHtml } from './html.ts';

export function storedMailNote(s: TaskMailStorage | null): SafeHtml {
  if (s === null || (s.stored === 'whole' && s.storedBytes > 0)) return h``;
  const size = formatBytes(s.size);
  let text: string;
  if (s.stored === 'none') {
    text = `Mail stored: none — headers only would have been kept, but the day's budget for rejected mail (rejected_mail.max_stored_bytes_per_day) was spent; body not stored. The mail was ${size}.`;
  } else if (s.storedBytes === 0) {
    text = `Mail stored: none — its bytes were emptied after conversation_max_age_days. The mail was ${size}.`;
  } else {
    text = `Mail stored: headers only; body not stored. The mail was ${size}; ${formatBytes(s.storedBytes)} of headers kept.`;
  }
  return h`<p class="muted stored-mail" data-role="stored-mail" data-stored="${s.stored}">${text}</p>`;
}
