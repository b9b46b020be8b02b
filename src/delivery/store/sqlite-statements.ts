import type Database from 'better-sqlite3';

/** The statements the SQLite store runs on its accept path, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    dedupSeenAt: db.prepare<[string, string], { seen_at: number }>(
      'SELECT seen_at FROM dedup_keys WHERE source = ? AND id = ?',
    ),
    dedupRemember: db.prepare<[string, string, number]>(
      `INSERT INTO dedup_keys (source, id, seen_at) VALUES (?, ?, ?)
       ON CONFLICT (source, id) DO UPDATE SET seen_at = excluded.seen_at`,
    ),
    insertEvent: db.prepare<[string, string, string, string, string, string | null, string | null, string, number]>(
      `INSERT INTO events (source, id, provider, type, registry, repo, tag, body, accepted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertDelivery: db.prepare<[number | bigint, string, number, number, number]>(
      `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
    ),
    countPending: db.prepare<[], number>(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).pluck(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
