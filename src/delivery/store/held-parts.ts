import type { RegistryEvent } from '../../model/event';
import type { CollapseSettings } from '../../config/types';

/**
 * One push of a tag arrives as several notifications: each manifest pushed by digest (the images
 * of an index, buildx's attestation manifests, Harbor's children), then the index by tag. The
 * pushes by digest are the parts of that push. The store holds them (stored and acknowledged,
 * never lost) instead of delivering them; a tagged push of the same repository within the window
 * absorbs them, and a part nothing absorbs is released on its own once the window has passed.
 *
 * Held parts live in their own table with the body they will be delivered with, so the events
 * table keeps meaning "what is or was delivered", and the console can show what a push absorbed.
 */

/** What the store needs of `collapse`; absent or a zero window = every event delivered as it comes. */
export type CollapseOptions = Pick<CollapseSettings, 'windowSeconds' | 'orphans'>;

export type PartState = 'held' | 'absorbed' | 'released' | 'dropped';

/** One held part as the CLI and the console show it. */
export interface HeldPart {
  source: string;
  id: string;
  registry: string;
  repo: string;
  digest: string;
  kind: string;
  state: PartState;
  acceptedAt: number;
  releaseAt: number;
  /** The tagged push that absorbed it: its source and id. */
  push?: { source: string; id: string };
  settledAt?: number;
}

export interface HeldPartQuery {
  state?: PartState;
  /** The parts one push absorbed. */
  push?: { source: string; id: string };
  limit?: number;
}

/** A push by digest: no tag, a digest and a repository. Signatures carry their cosign tag and are not parts. */
export function isPart(event: RegistryEvent): boolean {
  return event.type === 'push' && event.tag === undefined && event.digest !== undefined && event.repo !== undefined;
}

/** A push that names a tag and a digest: the push a user made, which absorbs its parts. */
export function isTaggedPush(event: RegistryEvent): boolean {
  return event.type === 'push' && event.tag !== undefined && event.digest !== undefined && event.repo !== undefined;
}

export function collapsing(options: CollapseOptions | undefined): options is CollapseOptions {
  return options !== undefined && options.windowSeconds > 0;
}

/** The held parts table, the same text on both engines. */
export function heldPartsSchema(table: string): string {
  const name = table.replace(/^.*\./, '');
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  source      TEXT NOT NULL,
  id          TEXT NOT NULL,
  registry    TEXT NOT NULL,
  repo        TEXT NOT NULL,
  digest      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  body        TEXT NOT NULL,
  emitters    TEXT NOT NULL,
  accepted_at BIGINT NOT NULL,
  release_at  BIGINT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('held', 'absorbed', 'released', 'dropped')),
  push_source TEXT,
  push_id     TEXT,
  settled_at  BIGINT,
  PRIMARY KEY (source, id)
);
-- The releaser's question: which held parts are past their window.
CREATE INDEX IF NOT EXISTS ${name}_due ON ${table} (state, release_at);
-- A tagged push's question: which parts of its repository are held.
CREATE INDEX IF NOT EXISTS ${name}_by_repo ON ${table} (registry, repo, state, accepted_at);
-- The console's question: what did this push absorb.
CREATE INDEX IF NOT EXISTS ${name}_by_push ON ${table} (push_source, push_id);`;
}

/** A row as selected, with SQL's names and nulls. */
export interface HeldPartRow {
  source: string;
  id: string;
  registry: string;
  repo: string;
  digest: string;
  kind: string;
  state: PartState;
  accepted_at: number | string;
  release_at: number | string;
  push_source: string | null;
  push_id: string | null;
  settled_at: number | string | null;
}

export const HELD_PART_COLUMNS =
  'source, id, registry, repo, digest, kind, state, accepted_at, release_at, push_source, push_id, settled_at';

export function heldPartFromRow(row: HeldPartRow): HeldPart {
  const part: HeldPart = {
    source: row.source,
    id: row.id,
    registry: row.registry,
    repo: row.repo,
    digest: row.digest,
    kind: row.kind,
    state: row.state,
    acceptedAt: Number(row.accepted_at),
    releaseAt: Number(row.release_at),
  };
  if (row.push_source !== null && row.push_id !== null) part.push = { source: row.push_source, id: row.push_id };
  if (row.settled_at !== null) part.settledAt = Number(row.settled_at);
  return part;
}

/** Each released part's body and targets, ready to store as an event of its own. */
export interface ReleasedPart {
  source: string;
  id: string;
  body: string;
  emitters: string;
  accepted_at: number | string;
}

export interface ReleaseResult {
  released: number;
  dropped: number;
  /** Emitters given new rows: the dispatchers to wake. */
  emitters: string[];
}

/** Parts settled this long ago are forgotten: the console shows a push's parts while the push is kept. */
export const SETTLED_RETENTION_MS = 24 * 3600_000;

export const DEFAULT_HELD_PART_PAGE = 100;
