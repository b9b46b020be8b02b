import { appRepositoryKey, type AppRepositoryRef } from './kubeapps-rules';

/** Deliveries waiting for the same AppRepository refresh. */
interface OpenWindow {
  ref: AppRepositoryRef;
  deliveries: number;
  timer: NodeJS.Timeout;
  /** Settles `result` as the refresh settles. */
  settle: (refresh: Promise<void>) => void;
  result: Promise<void>;
}

/**
 * Coalesces refreshes per AppRepository: the first delivery opens a window, later ones join it,
 * and when the window ends one refresh runs and settles every joined delivery. Trailing edge, so
 * the refresh comes after the last push in the window and the index includes it.
 */
export class RefreshWindows {
  private readonly open = new Map<string, OpenWindow>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly windowMs: number,
    private readonly refresh: (ref: AppRepositoryRef, deliveries: number) => Promise<void>,
  ) {}

  join(ref: AppRepositoryRef): Promise<void> {
    const key = appRepositoryKey(ref);
    const window = this.open.get(key);
    if (window) {
      window.deliveries++;
      return window.result;
    }
    let settle!: (run: Promise<void>) => void;
    const result = new Promise<void>((resolve) => (settle = resolve));
    const timer = setTimeout(() => this.end(key), this.windowMs);
    this.open.set(key, { ref, deliveries: 1, timer, settle, result });
    return result;
  }

  /** Ends every open window now and waits for all refreshes (shutdown). */
  async flush(): Promise<void> {
    for (const key of [...this.open.keys()]) this.end(key);
    await Promise.all(this.running);
  }

  private end(key: string): void {
    const window = this.open.get(key);
    if (!window) return;
    this.open.delete(key);
    clearTimeout(window.timer);
    const run = this.refresh(window.ref, window.deliveries);
    window.settle(run);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
  }
}
