import type { DeliveryCounts, DeliveryRecord, DeliveryState } from '../types';

/** A delivery joined with its event, as both engines select it for the operator. */
export interface RecordRow {
  id: number;
  event_id: string;
  source: string;
  provider: string;
  type: string;
  registry: string;
  repo: string | null;
  emitter: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  accepted_at: number;
  created_at: number;
  updated_at: number;
  next_attempt_at: number;
  delivered_at: number | null;
  /** Selected by the console's event detail only. */
  note?: string | null;
}

export function recordFromRow(row: RecordRow): DeliveryRecord {
  const record: DeliveryRecord = {
    id: row.id,
    eventId: row.event_id,
    source: row.source,
    provider: row.provider,
    type: row.type,
    registry: row.registry,
    emitter: row.emitter,
    state: row.state,
    attempts: row.attempts,
    acceptedAt: row.accepted_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextAttemptAt: row.next_attempt_at,
  };
  if (row.repo !== null) record.repo = row.repo;
  if (row.last_error !== null) record.lastError = row.last_error;
  if (row.delivered_at !== null) record.deliveredAt = row.delivered_at;
  if (row.note) record.note = row.note;
  return record;
}

export interface CountRow {
  emitter: string;
  state: DeliveryState;
  n: number;
}

/** Pending and dead rows per emitter, sorted by emitter; emitters with neither are absent. */
export function countsByEmitter(rows: readonly CountRow[]): DeliveryCounts[] {
  const byEmitter = new Map<string, DeliveryCounts>();
  for (const row of rows) {
    let entry = byEmitter.get(row.emitter);
    if (!entry) {
      entry = { emitter: row.emitter, pending: 0, dead: 0 };
      byEmitter.set(row.emitter, entry);
    }
    if (row.state === 'pending') entry.pending = Number(row.n);
    else entry.dead = Number(row.n);
  }
  return [...byEmitter.values()].sort((a, b) => a.emitter.localeCompare(b.emitter));
}
