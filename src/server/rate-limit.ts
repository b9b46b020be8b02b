/**
 * One token bucket for the whole gateway: `requestsPerSecond` refill, `burst` capacity (default
 * one second's worth). Registries retry on 429, so shedding load here is safe; 0 turns it off.
 */
export class RateLimit {
  private readonly capacity: number;
  private tokens: number;
  private last: number;

  constructor(
    private readonly requestsPerSecond: number,
    burst: number,
    private readonly now = () => Date.now(),
  ) {
    this.capacity = Math.max(1, burst || Math.ceil(requestsPerSecond));
    this.tokens = this.capacity;
    this.last = now();
  }

  /** Takes one request's token: undefined when there was one, else the seconds to wait for the next. */
  take(): number | undefined {
    if (this.requestsPerSecond <= 0) return undefined;
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.requestsPerSecond);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.requestsPerSecond));
  }

  get perSecond(): number {
    return this.requestsPerSecond;
  }
}
