import type Database from 'better-sqlite3';
import type { DeliverySettings } from '../types';
import {
  PENDING_COUNT_TTL_MS,
  tooManyPending,
  type AcceptCall,
  type CallOutcome,
  type PreparedEvent,
} from './commit-group';
import type { SqliteHeldParts } from './sqlite-held-parts';
import { StoreSpace } from './sqlite-space';

/** An events row as inserted: the event's columns, its body, when, and the trace it came in. */
type EventRow = [
  string,
  string,
  string,
  string,
  string,
  string | null,
  string | null,
  string,
  number,
  string | null,
  string | null,
];

/** The statements of the SQLite accept path, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
    dedupSeenAt: db.prepare<[string, string], { seen_at: number }>(
      'SELECT seen_at FROM dedup_keys WHERE source = ? AND id = ?',
    ),
    dedupRemember: db.prepare<[string, string, number]>(
      `INSERT INTO dedup_keys (source, id, seen_at) VALUES (?, ?, ?)
       ON CONFLICT (source, id) DO UPDATE SET seen_at = excluded.seen_at`,
    ),
    insertEvent: db.prepare<EventRow>(
      `INSERT INTO events (source, id, provider, type, registry, repo, tag, body, accepted_at, traceparent, tracestate)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertDelivery: db.prepare<[number | bigint, string, number, number, number]>(
      `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
    ),
    countPending: db.prepare<[], number>(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).pluck(),
  };
}

/**
 * One commit group on SQLite, run inside the group's transaction, call by call: a call refused
 * for maxPending or for space stores nothing, and the calls before it keep what they stored.
 * Events are written one by one (no round trips to save in-process), so tag state and held
 * parts see every earlier event of the group.
 */
export class SqliteAccept {
  private readonly s;
  /**
   * Pending rows as last counted, plus the rows stored since. Counting reads every pending row
   * (7 % of the listener's time per group under the bench's warm run, growing with the backlog),
   * so it is read at most once a second and, since deliveries are not subtracted meanwhile, read
   * afresh before anyone is refused: a refusal is always decided on an exact count.
   */
  private pending = { count: 0, at: -Infinity };

  constructor(
    db: Database.Database,
    private readonly settings: DeliverySettings,
    private readonly space: StoreSpace,
    private readonly heldParts: SqliteHeldParts,
  ) {
    this.s = prepareStatements(db);
  }

  /** Answers each call's outcome, and whether a call was refused for space (so room is made). */
  applyGroup(calls: AcceptCall[], now: number): { outcomes: CallOutcome[]; refusedForSpace: boolean } {
    const limit = this.settings.maxPending;
    if (limit > 0 && now - this.pending.at > PENDING_COUNT_TTL_MS) this.countPending(now);
    let pending = this.pending.count;
    let counted = false;
    let used = this.space.usedBytes();
    let refusedForSpace = false;
    const outcomes = calls.map((call): CallOutcome => {
      const fresh = this.freshIn(call, now);
      const newRows = call.reduce((n, e, i) => n + (fresh[i] ? e.emitters.length : 0), 0);
      if (limit > 0 && newRows > 0 && pending >= limit && !counted) {
        // Inside the transaction: the count includes what this group stored so far.
        pending = this.countPending(now);
        counted = true;
      }
      // Duplicates are still answered when full: their sender needs the 202 to stop retrying.
      if (limit > 0 && newRows > 0 && pending >= limit) return tooManyPending(pending, limit);
      if (newRows > 0) {
        const adding = StoreSpace.estimate(call.filter((_, i) => fresh[i]));
        if (!this.space.admits(used, adding)) {
          refusedForSpace = true;
          return this.space.refusal();
        }
        used += adding;
      }
      pending += newRows;
      return call.map((prepared, i) => {
        if (fresh[i]) this.store(prepared, now);
        return { event: prepared.event, duplicate: !fresh[i] };
      });
    });
    this.pending.count = pending;
    return { outcomes, refusedForSpace };
  }

  private countPending(now: number): number {
    this.pending = { count: this.s.countPending.get()!, at: now };
    return this.pending.count;
  }

  /** Which events of one call are new: not seen within the window, nor earlier in the call. */
  private freshIn(call: AcceptCall, now: number): boolean[] {
    if (this.settings.dedupWindowSeconds <= 0) return call.map(() => true);
    const windowStart = now - this.settings.dedupWindowSeconds * 1000;
    const seenInCall = new Set<string>();
    return call.map(({ event }) => {
      const key = JSON.stringify([event.source, event.id]);
      if (seenInCall.has(key)) return false;
      seenInCall.add(key);
      const seen = this.s.dedupSeenAt.get(event.source, event.id);
      return !seen || seen.seen_at <= windowStart;
    });
  }

  /** Stores one fresh event: its dedup key, then held as a part or written with its rows. */
  private store(prepared: PreparedEvent, now: number): void {
    const s = this.s;
    if (this.settings.dedupWindowSeconds > 0) s.dedupRemember.run(prepared.event.source, prepared.event.id, now);
    if (!this.heldParts.accept(prepared, now)) return;
    const { event, emitters, body, trace } = prepared;
    const seq = s.insertEvent.run(
      event.source,
      event.id,
      event.provider,
      event.type,
      event.registry,
      event.repo ?? null,
      event.tag ?? null,
      body,
      now,
      trace?.traceparent ?? null,
      trace?.tracestate ?? null,
    ).lastInsertRowid;
    for (const emitter of emitters) s.insertDelivery.run(seq, emitter, now, now, now);
  }
}
