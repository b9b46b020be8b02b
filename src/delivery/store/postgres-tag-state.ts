import type pg from 'pg';
import type { PreparedEvent } from './commit-group';
import { annotate, tagChangeOf, type TagStep } from './tag-state';

/**
 * One event's effect on the tag state on PostgreSQL. Runs inside the accept transaction, after
 * `assembleGroup` took the advisory lock of the event's repository: the previous digest read here
 * cannot be changed by another replica before this transaction commits.
 */
export async function applyTagStep(
  client: pg.ClientBase,
  table: string,
  prepared: PreparedEvent,
  step: TagStep,
  now: number,
): Promise<void> {
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
      return;
    }
    case 'untag':
      await client.query(`DELETE FROM ${table} WHERE registry = $1 AND repo = $2 AND tag = $3`, [
        step.registry,
        step.repo,
        step.tag,
      ]);
      return;
    case 'forget-digest':
      await client.query(`DELETE FROM ${table} WHERE registry = $1 AND repo = $2 AND digest = $3`, [
        step.registry,
        step.repo,
        step.digest,
      ]);
      return;
    case 'subject': {
      const { rows } = await client.query<{ tag: string }>(
        `SELECT tag FROM ${table} WHERE registry = $1 AND repo = $2 AND digest = $3
          ORDER BY updated_at DESC, tag LIMIT 1`,
        [step.registry, step.repo, step.digest],
      );
      if (rows[0]) annotate(prepared, { subject: { ...prepared.event.subject!, tag: rows[0].tag } });
      return;
    }
  }
}
