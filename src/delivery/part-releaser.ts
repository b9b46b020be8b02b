import type { Logger } from 'pino';
import type { Queue } from './store/types';

/** How often held parts past their window are looked for: an orphan goes out at most this late. */
const RELEASE_INTERVAL_MS = 1000;

/**
 * Releases the parts of pushes that no tagged push claimed within the window: delivered on their
 * own (a push by digest is a push too) or dropped, as `collapse.orphans` says. Every process runs
 * one: parts held by a replica that died are released by the others, and the store settles each
 * part once.
 */
export class PartReleaser {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly store: Queue,
    /** Wakes this process's dispatcher for the rows a release stored. */
    private readonly wake: () => void,
    private readonly logger?: Logger,
    private readonly clock: () => number = Date.now,
    private readonly intervalMs = RELEASE_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One release at a time: a slow database must not stack them up.
      this.running ??= this.releaseDue().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Releases what is due now; the store's errors are logged, and the next tick tries again. */
  async releaseDue(): Promise<void> {
    try {
      const result = await this.store.releaseHeldParts(this.clock());
      if (result.released > 0 || result.dropped > 0) {
        this.logger?.info(
          { released: result.released, dropped: result.dropped },
          'released held parts that no tagged push claimed within the collapse window',
        );
      }
      if (result.emitters.length > 0) this.wake();
    } catch (err) {
      this.logger?.warn({ err }, 'cannot release held parts now; will try again');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
