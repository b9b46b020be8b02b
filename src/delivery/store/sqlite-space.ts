import { statfsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';

/** Share of the budget kept back from new events: marks, prunes and target records need pages too. */
const BOOKKEEPING_RESERVE = 0.1;
/** Once refusing, new events are taken again only below this share of the refusal line, so it does not flap. */
const RESUME_BELOW = 0.9;
/** Derived budget: this share of the free space at start (plus what the store holds already). */
const SHARE_OF_FREE_SPACE = 0.8;
/** A store needs a few dozen pages for its tables and indexes alone. */
const MIN_BUDGET_BYTES = 256 * 1024;
/** What one new event costs beyond its body: its row, its dedup key, index entries, page slack. */
const EVENT_OVERHEAD_BYTES = 400;
const DELIVERY_ROW_BYTES = 150;

/** While the store refuses events for space, how often delivered rows are cleared to make room. */
const RECLAIM_INTERVAL_MS = 1000;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * The store's byte budget. SQLite's own `max_page_count` is the hard wall, so a full store
 * fails a write with SQLITE_FULL (a 503) rather than the volume filling up; new events are
 * refused a reserve earlier, which leaves room for marking, pruning and recording targets, so a
 * store full of undelivered events still delivers them, and takes events again once they are gone.
 * The WAL lives outside the page count: it is capped with `journal_size_limit` and checkpointed
 * early, so that it too stays a small share of the volume.
 */
export class StoreSpace {
  readonly budgetBytes: number;
  /** New events are refused once the live pages would pass this. */
  readonly refuseAtBytes: number;
  private readonly pageSize: number;
  private fullSince?: string;
  private reclaimTimer?: NodeJS.Timeout;

  constructor(
    private readonly db: Database.Database,
    dir: string,
    configuredBytes: number | undefined,
    private readonly logger?: Logger,
  ) {
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    const fileBytes = (db.pragma('page_count', { simple: true }) as number) * this.pageSize;
    let budget = configuredBytes ?? 0;
    if (budget <= 0) {
      const fs = statfsSync(dir);
      budget = fileBytes + Math.floor(fs.bavail * fs.bsize * SHARE_OF_FREE_SPACE);
    }
    this.budgetBytes = Math.max(MIN_BUDGET_BYTES, budget);
    this.refuseAtBytes = Math.floor(this.budgetBytes * (1 - BOOKKEEPING_RESERVE));
    db.pragma(`max_page_count = ${Math.floor(this.budgetBytes / this.pageSize)}`);
    // Checkpoint and truncate the WAL at an eighth of the budget (at most SQLite's usual 4 MiB
    // of pages), so even a store on a tiny volume leaves it room.
    const walBytes = Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(this.budgetBytes / 8)));
    db.pragma(`journal_size_limit = ${walBytes}`);
    db.pragma(`wal_autocheckpoint = ${Math.max(16, Math.min(1000, Math.floor(walBytes / this.pageSize)))}`);
    logger?.info(
      {
        budget: mib(this.budgetBytes),
        refuseAt: mib(this.refuseAtBytes),
        derived: !(configuredBytes && configuredBytes > 0),
      },
      'store space budget',
    );
  }

  /** Bytes in pages that hold data; free pages inside the file are reused before it grows. */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * this.pageSize;
  }

  /** Why new events are refused now; undefined while they are taken. */
  get fullReason(): string | undefined {
    return this.fullSince;
  }

  /** The bytes new events will take, roughly: enough to keep a group from eating the reserve. */
  static estimate(bodies: readonly { body: string; emitters: readonly string[] }[]): number {
    return bodies.reduce(
      (n, e) => n + e.body.length + EVENT_OVERHEAD_BYTES + e.emitters.length * DELIVERY_ROW_BYTES,
      0,
    );
  }

  /**
   * Whether `adding` more bytes may be stored on top of `used`. Refusing marks the store full
   * (readiness 503) until `recheck` finds room again.
   */
  admits(used: number, adding: number): boolean {
    const line = this.fullSince ? this.refuseAtBytes * RESUME_BELOW : this.refuseAtBytes;
    if (used + adding <= line) {
      this.fullSince = undefined;
      return true;
    }
    this.fullSince = `the delivery store is full (${mib(used)} of the ${mib(this.refuseAtBytes)} its budget of ${mib(this.budgetBytes)} allows for events): it takes events again as its backlog is delivered`;
    return false;
  }

  /** Looks again after deliveries were pruned; resolves whether the store takes events again. */
  recheck(): boolean {
    if (!this.fullSince) return true;
    if (this.usedBytes() <= this.refuseAtBytes * RESUME_BELOW) this.fullSince = undefined;
    return this.fullSince === undefined;
  }

  refusal(): UnavailableError {
    return new UnavailableError(this.fullSince ?? 'the delivery store is full', 30);
  }

  /**
   * While new events are refused for space, delivered rows are not kept for their retention:
   * room for what is still undelivered comes first. `prune` removes every delivered row; it runs
   * every second until events are taken again.
   */
  reclaim(prune: () => void): void {
    if (this.reclaimTimer) return;
    this.logger?.warn({ reason: this.fullSince }, 'store full: refusing new events until delivered rows make room');
    this.reclaimTimer = setInterval(() => {
      try {
        prune();
        if (this.recheck()) {
          this.close();
          this.logger?.info({ usedBytes: this.usedBytes() }, 'store has room again: taking new events');
        }
      } catch (err) {
        this.logger?.error({ err }, 'cannot make room in the store; will try again');
      }
    }, RECLAIM_INTERVAL_MS);
    this.reclaimTimer.unref();
  }

  close(): void {
    clearInterval(this.reclaimTimer);
    this.reclaimTimer = undefined;
  }
}
