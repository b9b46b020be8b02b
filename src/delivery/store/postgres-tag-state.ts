import type pg from 'pg';
import type { PreparedEvent } from './commit-group';
import { annotate, lockKeys, tagChangeOf, tagStep } from './tag-state';

/**
 * The tag state on PostgreSQL, run inside the accept transaction of one commit group. Replicas
 * commit groups side by side, so each transaction first takes a transaction-scoped advisory lock
 * per repository it touches, in one sorted order: two pushes of the same tag read and write the
 * state one after the other (READ COMMITTED reads afresh per statement, so the second sees the
 * first's digest), and no two groups wait on each other in a cycle.
 */
export async function applyTagState(
  client: pg.ClientBase,
  schema: string,
  events: PreparedEvent[],
  now: number,
): Promise<void> {
  const steps = events.map((e) => tagStep(e.event));
  const keys = lockKeys(steps);
  if (keys.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(hashtext($1 || k)) FROM unnest($2::text[]) WITH ORDINALITY AS l(k, n) ORDER BY n`,
    [`registry-gateway tags ${schema} `, keys],
  );
  const table = `${schema}.tag_state`;
  for (const [n, step] of steps.entries()) {
    if (!step) continue;
    const prepared = events[n];
    switch (step.op) {
      case 'push': {
        const { rows } = await client.query<{ digest: string }>(
          `SELECT digest FROM ${table} WHERE registry = $1 AND repo = $2 AND tag = $3`,
          [step.registry, step.repo, step.tag],
        );
        await client.query(
          `INSERT INTO ${table} (registry, repo, tag, digest, updated_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
          [step.registry, step.repo, step.tag, step.digest, now],
        );
        annotate(prepared, tagChangeOf(rows[0]?.digest, step.digest));
        break;
      }
      case 'untag':
        await client.query(`DELETE FROM ${table} WHERE registry = $1 AND repo = $2 AND tag = $3`, [
          step.registry,
          step.repo,
          step.tag,
        ]);
        break;
      case 'forget-digest':
        await client.query(`DELETE FROM ${table} WHERE registry = $1 AND repo = $2 AND digest = $3`, [
          step.registry,
          step.repo,
          step.digest,
        ]);
        break;
      case 'subject': {
        const { rows } = await client.query<{ tag: string }>(
          `SELECT tag FROM ${table} WHERE registry = $1 AND repo = $2 AND digest = $3
            ORDER BY updated_at DESC, tag LIMIT 1`,
          [step.registry, step.repo, step.digest],
        );
        if (rows[0]) annotate(prepared, { subject: { ...prepared.event.subject!, tag: rows[0].tag } });
        break;
      }
    }
  }
}
