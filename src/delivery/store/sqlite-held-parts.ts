import type Database from 'better-sqlite3';
import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import { collapsing, isPart, isTaggedPush, SETTLED_RETENTION_MS } from './held-parts';
import type { CollapseOptions, ReleasedPart, ReleaseResult } from './held-parts';
import { SqliteTagState } from './sqlite-tag-state';
import { annotate } from './tag-state';

/**
 * Tag state and held parts on SQLite. The accept side runs inside the group's transaction, event by event in
 * order, so a tagged push stored earlier in the same group is already in `events` when its parts
 * come, and parts held earlier in the group are already in the table when their push comes.
 */
export class SqliteHeldParts {
  private readonly hold;
  private readonly recentPush;
  private readonly absorb;
  private readonly due;
  private readonly settle;
  private readonly insertEvent;
  private readonly insertDelivery;
  private readonly forget;
  private readonly tagState: SqliteTagState;
  readonly release: Database.Transaction<(now: number) => ReleaseResult>;

  constructor(
    db: Database.Database,
    private readonly options: CollapseOptions | undefined,
    private readonly metrics?: Metrics,
  ) {
    this.tagState = new SqliteTagState(db);
    this.hold = db.prepare<
      [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        number,
        number,
        string,
        string | null,
        string | null,
        number | null,
      ]
    >(
      `INSERT INTO held_parts (source, id, registry, repo, digest, kind, body, emitters, accepted_at, release_at,
                               state, push_source, push_id, settled_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, id) DO NOTHING`,
    );
    this.recentPush = db.prepare<[string, string, number], { source: string; id: string }>(
      `SELECT source, id FROM events
        WHERE registry = ? AND repo = ? AND type = 'push' AND tag IS NOT NULL AND accepted_at >= ?
        ORDER BY seq DESC LIMIT 1`,
    );
    this.absorb = db.prepare<[string, string, number, string, string, number]>(
      `UPDATE held_parts SET state = 'absorbed', push_source = ?, push_id = ?, settled_at = ?
        WHERE registry = ? AND repo = ? AND state = 'held' AND accepted_at >= ?`,
    );
    this.due = db.prepare<[number, number], ReleasedPart>(
      `SELECT source, id, body, emitters, accepted_at FROM held_parts
        WHERE state = 'held' AND release_at <= ? ORDER BY release_at LIMIT ?`,
    );
    this.settle = db.prepare<[string, number, string, string]>(
      `UPDATE held_parts SET state = ?, settled_at = ? WHERE source = ? AND id = ? AND state = 'held'`,
    );
    this.insertEvent = db.prepare<[string, number, string, string]>(
      `INSERT INTO events (source, id, provider, type, registry, repo, tag, body, accepted_at)
       SELECT source, id, json_extract(body, '$.provider'), json_extract(body, '$.type'), registry, repo, NULL, ?, ?
         FROM held_parts WHERE source = ? AND id = ?`,
    );
    this.insertDelivery = db.prepare<[number | bigint, string, number, number, number]>(
      `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
    );
    this.forget = db.prepare<[number]>(`DELETE FROM held_parts WHERE state <> 'held' AND settled_at < ?`);
    this.release = db.transaction((now: number) => this.releaseNow(now));
  }

  /**
   * Inside the accept transaction, for one fresh event: holds a part (or gives it at once to a
   * tagged push already stored within the window) and answers false, so it is not stored as an
   * event; lets a tagged push absorb the held parts of its repository and answers true.
   */
  accept(prepared: PreparedEvent, now: number): boolean {
    // The tag state first: a tagged push is delivered with its tag change and its parts count.
    this.tagState.apply(prepared, now);
    if (!collapsing(this.options)) return true;
    const event = prepared.event;
    const windowStart = now - this.options.windowSeconds * 1000;
    if (isPart(event)) {
      const push = this.recentPush.get(event.registry, event.repo!, windowStart);
      const [state, settledAt] = push ? ['absorbed', now] : ['held', null];
      this.hold.run(
        event.source,
        event.id,
        event.registry,
        event.repo!,
        event.digest!,
        event.kind ?? 'unknown',
        prepared.body,
        JSON.stringify(prepared.emitters),
        now,
        now + this.options.windowSeconds * 1000,
        state,
        push?.source ?? null,
        push?.id ?? null,
        settledAt,
      );
      // `held` counts every part taken in; the outcomes below say how each was settled.
      this.metrics?.parts.inc({ outcome: 'held' });
      if (push) this.metrics?.parts.inc({ outcome: 'absorbed' });
      return false;
    }
    if (isTaggedPush(event)) {
      const parts = this.absorb.run(event.source, event.id, now, event.registry, event.repo!, windowStart).changes;
      if (parts > 0) this.metrics?.parts.inc({ outcome: 'absorbed' }, parts);
      annotate(prepared, { parts });
    }
    return true;
  }

  private releaseNow(now: number): ReleaseResult {
    const result: ReleaseResult = { released: 0, dropped: 0, emitters: [] };
    const emitters = new Set<string>();
    const drop = this.options?.orphans === 'drop';
    for (const part of this.due.all(now, 500)) {
      this.settle.run(drop ? 'dropped' : 'released', now, part.source, part.id);
      if (drop) {
        result.dropped++;
        continue;
      }
      const seq = this.insertEvent.run(part.body, Number(part.accepted_at), part.source, part.id).lastInsertRowid;
      for (const emitter of JSON.parse(part.emitters) as string[]) {
        this.insertDelivery.run(seq, emitter, now, now, now);
        emitters.add(emitter);
      }
      result.released++;
    }
    this.forget.run(now - SETTLED_RETENTION_MS);
    result.emitters = [...emitters];
    if (result.released > 0) this.metrics?.parts.inc({ outcome: 'released' }, result.released);
    if (result.dropped > 0) this.metrics?.parts.inc({ outcome: 'dropped' }, result.dropped);
    return result;
  }
}
