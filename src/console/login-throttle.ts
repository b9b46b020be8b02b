/**
 * Fixed windows: at most `limit` hits per key within `windowMs` of the key's first hit. Simple
 * and enough here: an operator token is long and random, so the throttle is there to make
 * guessing pointless and to stop one token minting sessions without bound, not to shape traffic.
 */
export class FixedWindows {
  private readonly windows = new Map<string, { startedAt: number; hits: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    /** Keys kept at most; beyond it the expired ones go, then the oldest (an address flood). */
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until `key` may be tried again, or 0 when it may now (nothing counted). */
  blockedFor(key: string, now: number): number {
    const window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs || window.hits < this.limit) return 0;
    return window.startedAt + this.windowMs - now;
  }

  /** Counts one hit of `key`. */
  hit(key: string, now: number): void {
    const window = this.windows.get(key);
    if (window && now - window.startedAt < this.windowMs) {
      window.hits++;
      return;
    }
    this.windows.delete(key);
    if (this.windows.size >= this.maxKeys) this.evict(now);
    this.windows.set(key, { startedAt: now, hits: 1 });
  }

  private evict(now: number): void {
    for (const [key, w] of this.windows) if (now - w.startedAt >= this.windowMs) this.windows.delete(key);
    // Map order is insertion order: the first key is the oldest window.
    if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
  }
}

/** Refused logins per client address: ten guesses per five minutes, then a wait. */
export const REFUSED_PER_ADDRESS = { limit: 10, windowMs: 5 * 60_000 };
/** Logins per operator (token name): generous for people, a bound for a leaked token. */
export const LOGINS_PER_OPERATOR = { limit: 30, windowMs: 5 * 60_000 };

/**
 * The login form's two throttles. Refused attempts count against the client's address, and once
 * over, even the right token is refused from there until the window ends, so guessing learns
 * nothing. Successful logins count against the operator's name, so one token, leaked and used
 * from many addresses, cannot mint sessions without bound.
 */
export class LoginThrottle {
  readonly byAddress = new FixedWindows(REFUSED_PER_ADDRESS.limit, REFUSED_PER_ADDRESS.windowMs);
  readonly byOperator = new FixedWindows(LOGINS_PER_OPERATOR.limit, LOGINS_PER_OPERATOR.windowMs);
}
