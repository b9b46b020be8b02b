import type { Logger } from 'pino';
import type { SharedWindows } from './types';

/** Deliveries waiting for the same refresh of one object. */
interface OpenWindow<Ref> {
  /** As `keep` chose among the joined deliveries': a refresh may name the newest push it covers. */
  ref: Ref;
  deliveries: number;
  /** When the last delivery joined: a refresh started after it covers every joined push. */
  lastJoinAt: number;
  timer: NodeJS.Timeout;
  /** Settles `result` as the refresh settles. */
  settle: (refresh: Promise<void>) => void;
  result: Promise<void>;
}

/**
 * Coalesces refreshes per object (a Kubeapps AppRepository, a Flux ImageRepository, a Kargo
 * Warehouse), keyed by a string unique across targets: the first delivery opens a window, later ones join it,
 * and when the window ends one refresh runs and settles every joined delivery. Trailing edge, so
 * the refresh comes after the last push in the window and the index includes it.
 *
 * With replicas, each has its own windows, so the window's end also opens a shared one: the replica
 * that opens it refreshes; another finds it open and is done if that refresh started after its own
 * last push, or else waits for the shared window to end and tries again. One refresh per
 * object per window then holds across replicas, and every push is still followed by one.
 */
export class RefreshWindows<Ref> {
  private readonly open = new Map<string, OpenWindow<Ref>>();
  private readonly running = new Set<Promise<void>>();
  private flushing = false;

  constructor(
    private readonly windowMs: number,
    private readonly refresh: (ref: Ref, deliveries: number) => Promise<void>,
    private readonly shared?: SharedWindows,
    private readonly logger?: Logger,
    /** Which of two joined deliveries' refs the refresh uses; the later joiner's by default. */
    private readonly keep: (current: Ref, joining: Ref) => Ref = (_current, joining) => joining,
  ) {}

  /** `key` names the object across targets and replicas (the shared window's key). */
  join(key: string, ref: Ref): Promise<void> {
    const window = this.open.get(key);
    if (window) {
      window.deliveries++;
      window.ref = this.keep(window.ref, ref);
      window.lastJoinAt = Date.now();
      return window.result;
    }
    let settle!: (run: Promise<void>) => void;
    const result = new Promise<void>((resolve) => (settle = resolve));
    const timer = setTimeout(() => this.end(key), this.windowMs);
    this.open.set(key, { ref, deliveries: 1, lastJoinAt: Date.now(), timer, settle, result });
    return result;
  }

  /** Ends every open window now and waits for all refreshes (shutdown). */
  async flush(): Promise<void> {
    this.flushing = true;
    for (const key of [...this.open.keys()]) this.end(key);
    await Promise.all(this.running);
  }

  private end(key: string): void {
    const window = this.open.get(key);
    if (!window) return;
    this.open.delete(key);
    clearTimeout(window.timer);
    const run = this.refreshOnce(key, window);
    window.settle(run);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
  }

  private async refreshOnce(key: string, window: OpenWindow<Ref>): Promise<void> {
    for (;;) {
      // Shutting down, or a single process: nobody else will refresh for us.
      if (!this.shared || this.flushing) return this.refresh(window.ref, window.deliveries);
      const now = Date.now();
      let claim;
      try {
        claim = await this.shared.open(key, now, this.windowMs);
      } catch (err) {
        // A second refresh is harmless; a missing one leaves the index without the push.
        this.logger?.warn({ err, object: key }, 'cannot coordinate the refresh with other replicas; refreshing');
        return this.refresh(window.ref, window.deliveries);
      }
      if (claim.opened) return this.refresh(window.ref, window.deliveries);
      if (claim.startedAt >= window.lastJoinAt) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, claim.endsAt - now)));
    }
  }
}
