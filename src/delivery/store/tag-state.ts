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

/** The tag state rows a group needs, by registry, repo and tag. */
type TagRows = Map<string, { registry: string; repo: string; tag: string; digest: string; updatedAt: number }>;

const rowKey = (registry: string, repo: string, tag: string) => JSON.stringify([registry, repo, tag]);

/** Rows per statement: a handful of parameters each, far under either engine's limit. */
const CHUNK = 200;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** `(a = ? AND b = ? AND c = ?) OR ...` over one chunk, with its parameters. */
function anyOf(d: Dialect, columns: string[], tuples: unknown[][]): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const where = tuples
    .map((tuple) => {
      const terms = columns.map((column, i) => {
        params.push(tuple[i]);
        return `${column} = ${d.param(params.length)}`;
      });
      return `(${terms.join(' AND ')})`;
    })
    .join(' OR ');
  return { where, params };
}

/** Reads every row the group's steps can touch: by tag for pushes and untags, by digest for the rest. */
function* readTagRows(d: Dialect, steps: TagStep[]): Steps<TagRows> {
  const rows: TagRows = new Map();
  const byTag = steps.flatMap((s) => (s.op === 'push' || s.op === 'untag' ? [[s.registry, s.repo, s.tag]] : []));
  const byDigest = steps.flatMap((s) => (s.op === 'push' || s.op === 'untag' ? [] : [[s.registry, s.repo, s.digest]]));
  const lookups = [
    ...chunks(byTag).map((c) => anyOf(d, ['registry', 'repo', 'tag'], c)),
    ...chunks(byDigest).map((c) => anyOf(d, ['registry', 'repo', 'digest'], c)),
  ];
  for (const { where, params } of lookups) {
    const found = (yield {
      text: `SELECT registry, repo, tag, digest, updated_at FROM ${d.table('tag_state')} WHERE ${where}`,
      params,
    }) as { registry: string; repo: string; tag: string; digest: string; updated_at: number | string }[];
    for (const r of found) rows.set(rowKey(r.registry, r.repo, r.tag), { ...r, updatedAt: Number(r.updated_at) });
  }
  return rows;
}

/** The tags of a repository naming a digest, the most recently set first (then by name). */
function tagsNaming(rows: TagRows, registry: string, repo: string, digest: string) {
  return [...rows.values()]
    .filter((r) => r.registry === registry && r.repo === repo && r.digest === digest)
    .sort((a, b) => b.updatedAt - a.updatedAt || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

/**
 * Applies the fresh events of one commit group to the tag state, in accept order, and writes what
 * each learnt into it. The rows the group can touch are read in one statement, the steps applied
 * in memory one after another, and what changed written back in one upsert and one delete: a
 * handful of statements whatever the group's size (on PostgreSQL each statement is a round trip,
 * and a group of pushes of one repository holds that repository's lock while it runs). SQLite
 * runs one write transaction at a time; on PostgreSQL the accept transaction holds the advisory
 * lock of each repository (postgres-assembly.ts): either way the rows read here cannot change
 * before the transaction commits.
 */
export function* applyTagSteps(d: Dialect, events: PreparedEvent[], now: number): Steps<void> {
  const steps = events.map((e) => tagStep(e.event));
  const present = steps.filter((s): s is TagStep => s !== undefined);
  if (present.length === 0) return;
  const rows = yield* readTagRows(d, present);
  const touched = new Set<string>();
  steps.forEach((step, n) => {
    if (!step) return;
    if (step.op === 'push') {
      const key = rowKey(step.registry, step.repo, step.tag);
      const previous = rows.get(key)?.digest;
      rows.set(key, { ...step, updatedAt: now });
      touched.add(key);
      annotate(events[n], tagChangeOf(previous, step.digest));
    } else if (step.op === 'untag') {
      const key = rowKey(step.registry, step.repo, step.tag);
      rows.delete(key);
      touched.add(key);
    } else if (step.op === 'forget-digest') {
      for (const r of tagsNaming(rows, step.registry, step.repo, step.digest)) {
        const key = rowKey(r.registry, r.repo, r.tag);
        rows.delete(key);
        touched.add(key);
      }
    } else {
      const [named] = tagsNaming(rows, step.registry, step.repo, step.digest);
      if (named) annotate(events[n], { subject: { ...events[n].event.subject!, tag: named.tag } });
    }
  });
  yield* writeTagRows(d, rows, touched, now);
}

/** Writes back the rows the group changed: one upsert for those set, one delete for those gone. */
function* writeTagRows(d: Dialect, rows: TagRows, touched: Set<string>, now: number): Steps<void> {
  const table = d.table('tag_state');
  const keys = [...touched];
  const set = keys.flatMap((k) => (rows.has(k) ? [rows.get(k)!] : []));
  const gone = keys.filter((k) => !rows.has(k)).map((k) => JSON.parse(k) as string[]);
  for (const chunk of chunks(set)) {
    const params: unknown[] = [];
    const values = chunk.map((r) => {
      params.push(r.registry, r.repo, r.tag, r.digest, now);
      const at = params.length - 4;
      return `(${[0, 1, 2, 3, 4].map((i) => d.param(at + i)).join(', ')})`;
    });
    yield {
      text: `INSERT INTO ${table} (registry, repo, tag, digest, updated_at) VALUES ${values.join(', ')}
             ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
      params,
    };
  }
  for (const chunk of chunks(gone)) {
    const { where, params } = anyOf(d, ['registry', 'repo', 'tag'], chunk);
    yield { text: `DELETE FROM ${table} WHERE ${where}`, params };
  }
}
