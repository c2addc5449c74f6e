/**
 * A subject as people want to read it: without the reply/forward prefixes mail clients stack up
 * (in several languages) and without our `[ID:xxxxxxxx]` conversation tag, which the dashboard
 * shows apart as a small label. Pure; the stored subject is never changed.
 */

/**
 * Reply and forward prefixes: English, German (AW, WG), Nordic (SV, VS), Dutch (Antw, Doorst),
 * French (TR, RE), Spanish (RV), Finnish (VL), Polish (ODP, PD), Portuguese (ENC, RES), FS,
 * each optionally counted (`Re[2]:`, `Re(3):`, `Re^2:`); any case; a full-width colon too.
 */
const PREFIX =
  /^\s*(?:re|fwd?|aw|wg|sv|vs|antw|doorst|tr|rv|vl|odp|pd|enc|res|fs)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*/i;
const ID_TAG = /\[ID:[^\]]*\]/gi;

export const NO_SUBJECT = '(no subject)';

/** `Re: Fwd: [ID:1a2b3c4d] Fix the login` → `Fix the login`; empty → `(no subject)`. */
export function cleanSubject(subject: string): string {
  let s = subject.replace(ID_TAG, ' ').replace(/\s+/g, ' ').trim();
  for (let m = PREFIX.exec(s); m !== null && m[0].length > 0; m = PREFIX.exec(s)) {
    s = s.slice(m[0].length).replace(ID_TAG, ' ').trim();
  }
  s = s.replace(/\s+/g, ' ').trim();
  return s === '' ? NO_SUBJECT : s;
}
