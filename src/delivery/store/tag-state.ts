import type { RegistryEvent, TagChange } from '../../model/event';
import type { PreparedEvent } from './commit-group';
import type { Dialect } from './dialect';
import type { Steps } from './steps';

/**
 * The last digest the gateway saw each tag name: a tagged push says whether it created the tag,
 * moved it (and from where) or left it where it was, and a delete forgets it. Registries say
 * none of this, and a consumer that polls digests to find out is what this saves.
 *
 * The state is read and written inside the transaction that stores the event, so the answer and
 * the stored event never disagree, whatever replica or commit group a push reaches. Written once
 * for both engines as steps (steps.ts); each engine runs the statements its own way.
 */

/** The tag state table, the same text on both engines (BIGINT is INTEGER to SQLite). */
export function tagStateSchema(table: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  registry   TEXT NOT NULL,
  repo       TEXT NOT NULL,
  tag        TEXT NOT NULL,
  digest     TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (registry, repo, tag)
);
-- A manifest delete names only the digest: which tags named it.
CREATE INDEX IF NOT EXISTS ${table.replace(/^.*\./, '')}_by_digest ON ${table} (registry, repo, digest);`;
}

/** What an event does to the tag state; undefined for events that say nothing about tags. */
export type TagStep =
  | { op: 'push'; registry: string; repo: string; tag: string; digest: string }
  | { op: 'untag'; registry: string; repo: string; tag: string }
  | { op: 'forget-digest'; registry: string; repo: string; digest: string }
  | { op: 'subject'; registry: string; repo: string; digest: string };

/**
 * A push names a tag state only with both its tag and its digest (Docker Hub and Quay send no
 * digest, so they cannot say whether a tag moved). A delete of a tag forgets the tag; a delete
 * of a manifest by digest forgets every tag that named it. A signature or attestation asks which
 * tag its subject goes by.
 */
export function tagStep(event: RegistryEvent): TagStep | undefined {
  const { registry, repo, tag, digest } = event;
  if (repo === undefined) return undefined;
  switch (event.type) {
    case 'push':
      return tag !== undefined && digest !== undefined ? { op: 'push', registry, repo, tag, digest } : undefined;
    case 'delete':
      if (tag !== undefined) return { op: 'untag', registry, repo, tag };
      return digest !== undefined ? { op: 'forget-digest', registry, repo, digest } : undefined;
    case 'signed':
    case 'attested':
    case 'sbom_attached':
    case 'referrer_attached': {
      const subject = event.subject;
      if (subject?.digest === undefined || subject.tag !== undefined) return undefined;
      return { op: 'subject', registry, repo: subject.repo ?? repo, digest: subject.digest };
    }
    default:
      return undefined;
  }
}

/** How a tagged push changed its tag, given the digest the tag named before (if any). */
export function tagChangeOf(
  previous: string | undefined,
  digest: string,
): { tagChange: TagChange; previousDigest?: string } {
  if (previous === undefined) return { tagChange: 'created' };
  if (previous === digest) return { tagChange: 'unchanged' };
  return { tagChange: 'moved', previousDigest: previous };
}

/**
 * Writes what the tag state said into the event about to be stored: its body again, and its
 * targets again, since a filter may select on `changes`. Routing at intake saw no tag change,
 * which every `changes` filter lets through, so the targets can only shrink here and the
 * room the store made for them still holds.
 */
export function annotate(prepared: PreparedEvent, facts: Partial<RegistryEvent>): void {
  const event: RegistryEvent = { ...prepared.event, ...facts };
  prepared.event = event;
  prepared.body = JSON.stringify(event);
  if (prepared.route) prepared.emitters = [...new Set(prepared.route(event))];
}

/**
 * Applies one fresh event to the tag state, in accept order, and writes what it learnt into the
 * event. SQLite runs one write transaction at a time; on PostgreSQL the accept transaction holds
 * the advisory lock of the event's repository (postgres-assembly.ts): either way the previous
 * digest read here cannot change before the transaction commits.
 */
export function* applyTagStep(d: Dialect, prepared: PreparedEvent, now: number): Steps<void> {
  const step = tagStep(prepared.event);
  if (!step) return;
  const table = d.table('tag_state');
  const [p1, p2, p3, p4, p5] = [1, 2, 3, 4, 5].map((n) => d.param(n));
  const repo = `registry = ${p1} AND repo = ${p2}`;
  switch (step.op) {
    case 'push': {
      const rows = (yield {
        text: `SELECT digest FROM ${table} WHERE ${repo} AND tag = ${p3}`,
        params: [step.registry, step.repo, step.tag],
      }) as { digest: string }[];
      yield {
        text: `INSERT INTO ${table} (registry, repo, tag, digest, updated_at) VALUES (${p1}, ${p2}, ${p3}, ${p4}, ${p5})
               ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
        params: [step.registry, step.repo, step.tag, step.digest, now],
      };
      annotate(prepared, tagChangeOf(rows[0]?.digest, step.digest));
      return;
    }
    case 'untag':
      yield {
        text: `DELETE FROM ${table} WHERE ${repo} AND tag = ${p3}`,
        params: [step.registry, step.repo, step.tag],
      };
      return;
    case 'forget-digest':
      yield {
        text: `DELETE FROM ${table} WHERE ${repo} AND digest = ${p3}`,
        params: [step.registry, step.repo, step.digest],
      };
      return;
    case 'subject': {
      const rows = (yield {
        text: `SELECT tag FROM ${table} WHERE ${repo} AND digest = ${p3} ORDER BY updated_at DESC, tag LIMIT 1`,
        params: [step.registry, step.repo, step.digest],
      }) as { tag: string }[];
      if (rows[0]) annotate(prepared, { subject: { ...prepared.event.subject!, tag: rows[0].tag } });
      return;
    }
  }
}
