/**
 * Slows down guessing of the dashboard token, per client address.
 *
 * A few wrong tokens are free (typos); after that each further attempt from the address must wait
 * twice as long as the one before (1 s, 2 s, 4 s … up to 15 minutes) after its last failure, and is
 * refused with 429 before the token is even compared, so parallel requests gain nothing and a
 * right guess inside the window is refused like a wrong one. A success clears the address; an
 * address with no failure for an hour is forgotten.
 *
 * The key is the socket's remote address (IPv6 by its /64, which one host usually owns whole).
 * Behind a reverse proxy every client shares the proxy's address, so the delay is shared too: it
 * still bounds the guessing rate, and a locked-out operator can use the Bearer header of a script
 * from elsewhere or wait. Memory is bounded: at most MAX_CLIENTS addresses, the ones that failed
 * longest ago dropped first; an attacker with that many addresses could guess in parallel anyway,
 * which is why the token must be long (see MIN_AUTH_TOKEN_LENGTH).
 */
import { isIPv6 } from 'node:net';

export interface ThrottleOptions {
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly forgetAfterMs: number;
  readonly maxClients: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxClients: 10_000,
};

interface Failures {
  count: number;
  lastAt: number;
}

export class LoginThrottle {
  /** Insertion order is the order of last failure: the first entry is the stalest. */
  private readonly clients = new Map<string, Failures>();

  constructor(
    private readonly now: () => number,
    private readonly o: ThrottleOptions = DEFAULT_THROTTLE,
  ) {}

  /** Milliseconds this client must still wait before its token is looked at; 0 when it may try. */
  retryAfterMs(address: string): number {
    const f = this.clients.get(clientKey(address));
    if (!f || f.count < this.o.freeFailures) return 0;
    const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (f.count - this.o.freeFailures));
    return Math.max(0, f.lastAt + delay - this.now());
  }

  failed(address: string): void {
    const key = clientKey(address);
    const now = this.now();
    const f = this.clients.get(key);
    const stale = f !== undefined && now - f.lastAt > this.o.forgetAfterMs;
    this.clients.delete(key);
    this.clients.set(key, { count: f && !stale ? f.count + 1 : 1, lastAt: now });
    this.evict(now);
  }

  succeeded(address: string): void {
    this.clients.delete(clientKey(address));
  }

  get size(): number {
    return this.clients.size;
  }

  private evict(now: number): void {
    for (const [key, f] of this.clients) {
      if (this.clients.size <= this.o.maxClients && now - f.lastAt <= this.o.forgetAfterMs) break;
      this.clients.delete(key);
    }
  }
}

/** One key per client: an IPv4 address (also when mapped into IPv6), or an IPv6 /64. */
export function clientKey(address: string): string {
  const a = address.toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  if (!isIPv6(a)) return a;
  return expandIPv6(a).slice(0, 4).join(':') + '::/64';
}

function expandIPv6(a: string): string[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
