import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { DeliveryStore } from '../../../src/delivery/store';
import { makeEvent } from '../support';
import { rows } from './behaviour';

/**
 * A database as main's code left it before the store was cut by job: the schema DDL it wrote
 * (frozen in fixtures/, never regenerated) and a row in every table, seeded with plain SQL
 * that means the same on both engines. Opening it with today's code must upgrade it in place
 * and lose nothing.
 */
export const NOW = Date.parse('2024-05-01T12:00:00Z');

export function legacyDdl(file: 'sqlite-v4.sql' | 'postgres-v5.sql', schema = ''): string {
  return readFileSync(path.join(__dirname, 'fixtures', file), 'utf8')
    .split('__SCHEMA__')
    .join(schema);
}

const body = (id: string, digest?: string) =>
  JSON.stringify(makeEvent(id, digest ? { digest } : {})).replace(/'/g, "''");

/** One row in every table main had; `t` names a table (schema-qualified on PostgreSQL). */
export function legacyRows(t: (table: string) => string): string {
  const event = (seq: number, id: string) =>
    `INSERT INTO ${t('events')} (seq, source, id, provider, type, registry, repo, body, accepted_at, tag)
     VALUES (${seq}, 'brigade.sh/acr', '${id}', 'acr', 'push', 'myreg.azurecr.io', 'library/app', '${body(id)}', ${NOW}, 'v1');`;
  return `
${event(1, 'old-pending')}
${event(2, 'old-dead')}
INSERT INTO ${t('deliveries')} (id, event_seq, emitter, state, attempts, next_attempt_at, last_error, created_at, updated_at)
VALUES (1, 1, 'log', 'pending', 1, ${NOW}, 'boom', ${NOW}, ${NOW}),
       (2, 2, 'log', 'dead', 5, ${NOW}, 'gone', ${NOW}, ${NOW});
INSERT INTO ${t('dedup_keys')} (source, id, seen_at) VALUES ('brigade.sh/acr', 'old-pending', ${NOW});
INSERT INTO ${t('targets')} (emitter, state, since, last_error, updated_at) VALUES ('log', 'open', ${NOW}, 'boom', ${NOW});
INSERT INTO ${t('attempts')} (delivery_id, emitter, attempt, started_at, duration_ms, ok, status, error)
VALUES (1, 'log', 1, ${NOW}, 12, false, 503, 'boom');
INSERT INTO ${t('tag_state')} (registry, repo, tag, digest, updated_at)
VALUES ('myreg.azurecr.io', 'library/app', 'v1', 'sha256:${'a'.repeat(64)}', ${NOW});
INSERT INTO ${t('held_parts')} (source, id, registry, repo, digest, kind, body, emitters, accepted_at, release_at, state)
VALUES ('brigade.sh/acr', 'old-part', 'myreg.azurecr.io', 'library/app', 'sha256:${'c'.repeat(64)}', 'image',
        '${body('old-part')}', '["log"]', ${NOW}, ${NOW + 3_600_000}, 'held');`;
}

/** What the upgraded store must still know and do with every seeded row. */
export async function expectLegacyRowsKept(store: DeliveryStore): Promise<void> {
  expect((await rows(store)).map((r) => [r.eventId, r.state, r.attempts])).to.deep.equal([
    ['old-pending', 'pending', 1],
    ['old-dead', 'dead', 5],
  ]);
  // The dedup key, the tag state, the circuit, the attempt history and the held part survive.
  const [again] = await store.accept([{ event: makeEvent('old-pending'), emitters: ['log'] }]);
  expect(again.duplicate).to.equal(true);
  const [moved] = await store.accept([
    { event: makeEvent('new-push', { digest: `sha256:${'b'.repeat(64)}` }), emitters: ['log'] },
  ]);
  expect([moved.event.tagChange, moved.event.previousDigest]).to.deep.equal(['moved', `sha256:${'a'.repeat(64)}`]);
  expect((await store.targets()).map((t) => [t.emitter, t.state, t.lastError])).to.deep.equal([
    ['log', 'open', 'boom'],
  ]);
  // Version 7's columns take their defaults on an old attempt: not a probe, counted, no exchanges.
  const [attempt] = (await store.eventDetail(1))!.attempts;
  expect(attempt).to.deep.include({ attempt: 1, ok: false, status: 503 });
  expect([attempt.probe, attempt.counted, attempt.exchanges]).to.deep.equal([undefined, undefined, undefined]);
  expect((await store.listHeldParts()).map((p) => [p.id, p.state])).to.deep.equal([['old-part', 'held']]);
  // The old rows are still deliverable and replayable.
  const claimed = await store.claim('log', NOW, 10);
  expect(claimed.map((r) => r.event.id)).to.deep.equal(['old-pending', 'new-push']);
  expect(await store.markDelivered(claimed[0].id, 2)).to.equal(true);
  expect(await store.replay({ emitter: 'log' })).to.equal(1);
}
