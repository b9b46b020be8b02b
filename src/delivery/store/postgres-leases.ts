import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics';
import type { ClaimOptions, DueDelivery } from '../types';
import { leaseDue } from './claims';
import type { Mark } from './marks';
import type { PostgresDatabase } from './postgres-database';
import type { PostgresOutcomes } from './postgres-outcomes';

/** Host, pid and a random suffix: a restarted process never mistakes its predecessor's leases for its own. */
export function defaultOwner(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

export interface LeaseSettings {
  /** Who holds the leases: unique per running process. */
  owner: string;
  leaseMs: number;
  clock: () => number;
  metrics?: Metrics;
  logger?: Logger;
}

/**
 * The leases this replica holds, fenced by owner and generation. Every claim takes a new
 * generation, and every change to a leased row (a mark, a release, a renewal) names the one it was
 * claimed under: a replica frozen past its lease (a long pause, SIGSTOP) wakes up unable to touch
 * a row taken over meanwhile, whatever happened to that row since.
 */
export class PostgresLeases {
  /** Rows this process is attempting, with the generation of the lease each was claimed under. */
  private readonly held = new Map<number, number>();

  constructor(
    private readonly db: PostgresDatabase,
    private readonly outcomes: PostgresOutcomes,
    private readonly s: LeaseSettings,
  ) {}

  private renewTimer?: NodeJS.Timeout;

  /** Renews well before a lease lapses, so a slow but live attempt keeps its row. */
  startRenewing(): void {
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, this.s.leaseMs / 3));
    this.renewTimer.unref();
  }

  stopRenewing(): void {
    clearInterval(this.renewTimer);
  }

  get size(): number {
    return this.held.size;
  }

  async claim(emitter: string, nowMs: number, limit: number, options: ClaimOptions): Promise<DueDelivery[]> {
    const rows = await leaseDue(this.db, {
      emitter,
      nowMs,
      limit,
      owner: this.s.owner,
      leaseUntil: nowMs + this.s.leaseMs,
      anyDueTime: options.anyDueTime,
    });
    this.countTakeovers(
      emitter,
      rows.filter((r) => r.previousOwner !== null && r.previousOwner !== this.s.owner).length,
    );
    const fresh: DueDelivery[] = [];
    for (const { generation, previousOwner: _, ...row } of rows) {
      // An attempt of ours on this row is still running (this process stalled past its lease,
      // and the row came back to it): the new lease is that attempt's to settle, not a second one's.
      if (!this.held.has(row.id)) fresh.push(row);
      this.held.set(row.id, generation);
    }
    return fresh;
  }

  /**
   * Settles a pending row under the lease it was claimed with. A row whose lease lapsed and was
   * taken since, or that the operator dropped, is left as it is: the answer is false.
   */
  async settle(id: number, mark: Mark): Promise<boolean> {
    const generation = this.held.get(id) ?? -1;
    try {
      const changed = await this.outcomes.settle({ id, mark, lease: { owner: this.s.owner, generation } });
      if (!changed) this.s.metrics?.staleMarks.inc();
      return changed;
    } finally {
      this.held.delete(id);
    }
  }

  async release(id: number): Promise<void> {
    const generation = this.held.get(id) ?? -1;
    this.held.delete(id);
    await this.db.query(
      `UPDATE ${this.db.schema}.deliveries SET lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3`,
      [id, this.s.owner, generation],
    );
  }

  /** Pushes every held lease's end forward, so a slow but live attempt keeps its row. */
  async renew(): Promise<void> {
    if (this.held.size === 0) return;
    await this.db
      .query(
        `UPDATE ${this.db.schema}.deliveries d SET lease_until = $1
           FROM unnest($2::bigint[], $3::bigint[]) AS held (id, generation)
          WHERE d.id = held.id AND d.lease_generation = held.generation AND d.lease_owner = $4
            AND d.state = 'pending'`,
        [this.s.clock() + this.s.leaseMs, [...this.held.keys()], [...this.held.values()], this.s.owner],
      )
      .catch((err) =>
        this.s.logger?.warn({ err: this.db.redact.error(err) }, 'cannot renew delivery leases; they may be taken over'),
      );
  }

  private countTakeovers(emitter: string, takenOver: number): void {
    if (takenOver === 0) return;
    this.s.metrics?.leaseTakeovers.inc(takenOver);
    this.s.logger?.warn(
      { emitter, deliveries: takenOver },
      'took over deliveries whose lease lapsed (a replica died or stalled)',
    );
  }
}
