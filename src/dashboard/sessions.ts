/**
 * Login sessions of the dashboard (only with `dashboard.auth_token`).
 *
 * The login form hands out a random session id (256 bits) in an HttpOnly cookie. The database keeps
 * only HMAC-SHA256(auth token, id): a copy of the file yields no usable cookie, sessions survive a
 * restart, and a changed token finds none of the old rows, so changing the token logs everyone out.
 * A session ends when it has not been used for `session_idle_timeout`, `session_lifetime` after
 * the login whatever happens, or at log out, when its row is deleted (the cookie is then worthless
 * even if it was copied).
 *
 * Use is recorded at most once per TOUCH_EVERY_MS (or a tenth of the idle timeout, if shorter):
 * every page, API call and stream is authenticated, and a write with a sync for each would cost more
 * than the precision is worth.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../store/database.ts';
import { deleteSession, findSession, insertSession, touchSession } from '../store/dashboard-sessions.ts';

export interface SessionPolicy {
  readonly idleMs: number;
  readonly lifetimeMs: number;
}

/** More live sessions than any team opens; a script that logs in in a loop pushes out its own oldest. */
export const MAX_SESSIONS = 1000;
const TOUCH_EVERY_MS = 60_000;
/**
 * A write that only tidies up or records use. On a full disk or a busy database the operator must
 * still get in (to read /health, which says why): the storage probe reports the fault, and an
 * ended session is refused by its times whether or not its row is gone.
 */
function bestEffort(write: () => void): void {
  try {
    write();
  } catch {
    // see above
  }
}

/** A cookie value as `start()` makes them: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class DashboardSessions {
  private readonly touchEveryMs: number;

  constructor(
    private readonly db: Db,
    private readonly authToken: string,
    readonly policy: SessionPolicy,
    private readonly now: () => number,
  ) {
    this.touchEveryMs = Math.min(TOUCH_EVERY_MS, Math.floor(policy.idleMs / 10));
  }

  /** A new session; returns the cookie value. */
  start(): string {
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    insertSession(this.db, this.hash(id), now, {
      idleBefore: now - this.policy.idleMs,
      createdBefore: now - this.policy.lifetimeMs,
      keep: MAX_SESSIONS,
    });
    return id;
  }

  /** True while the cookie names a live session; records the use. */
  check(cookie: string | undefined): boolean {
    if (cookie === undefined || !SESSION_ID.test(cookie)) return false;
    const key = this.hash(cookie);
    const s = findSession(this.db, key);
    if (!s) return false;
    const now = this.now();
    if (now - s.lastSeenAt >= this.policy.idleMs || now - s.createdAt >= this.policy.lifetimeMs) {
      bestEffort(() => deleteSession(this.db, key));
      return false;
    }
    if (now - s.lastSeenAt >= this.touchEveryMs) bestEffort(() => touchSession(this.db, key, now));
    return true;
  }

  /** Log out: the session ends on the server, whoever holds a copy of the cookie. */
  end(cookie: string | undefined): void {
    if (cookie !== undefined && SESSION_ID.test(cookie)) deleteSession(this.db, this.hash(cookie));
  }

  /** The lookup key: keyed by the token, so that a changed token matches no old session. */
  private hash(id: string): string {
    return createHmac('sha256', this.authToken).update(`airut-dashboard-session-v2\0${id}`).digest('base64url');
  }
}
