/**
 * The normalised event every provider produces and every emitter consumes (docs/registries.md, Event
 * vocabulary): subscribers match on `type`, `registry` and `repo` without knowing any
 * registry's payload format.
 */

/**
 * The `name` of one of the providers listed in `providers/index.ts`. A plain string here: the
 * model is the ground every part stands on, so it cannot import the list that defines the names.
 */
export type ProviderName = string;

export const EVENT_TYPES = [
  'push',
  'delete',
  'pull',
  'quarantine',
  'chart_push',
  'chart_delete',
  'chart_pull',
  'scan_completed',
  'scan_failed',
  'scan_stopped',
  'quota_exceeded',
  'quota_warning',
  'replication',
  'tag_retention',
  // A cosign signature, an attestation, an SBOM or another OCI 1.1 referrer pushed next to an
  // image: not pushes of an image, so `push` subscriptions do not start a build for them.
  'signed',
  'attested',
  'sbom_attached',
  'referrer_attached',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What was pushed (or deleted, pulled, scanned), as far as the registry's payload tells. */
export const ARTIFACT_KINDS = [
  'image',
  'index',
  'signature',
  'attestation',
  'sbom',
  'referrer',
  'chart',
  'unknown',
] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** What a push did to its tag, as the store last knew the tag (docs/pushes.md). */
export const TAG_CHANGES = ['created', 'moved', 'unchanged'] as const;
export type TagChange = (typeof TAG_CHANGES)[number];

/** The artifact a signature, attestation, SBOM or referrer is about. */
export interface ArtifactSubject {
  digest: string;
  repo?: string;
  /** The tag that pointed at `digest` when the gateway last heard of it. */
  tag?: string;
}

export interface RegistryEvent {
  /** Stable across a sender's retries: the dedup key together with `source`. */
  id: string;
  provider: ProviderName;
  source: string;
  type: EventType;
  /** Host (and port) of the registry, lower-cased and alias-mapped. */
  registry: string;
  repo?: string;
  tag?: string;
  digest?: string;
  /** RFC 3339. */
  time: string;
  /** Set by every provider; `unknown` where the payload does not tell. */
  kind?: ArtifactKind;
  /** For `signed`, `attested`, `sbom_attached` and `referrer_attached`: what was signed. */
  subject?: ArtifactSubject;
  /** `os/architecture[/variant]` of an index's images, where the payload names them. */
  platforms?: string[];
  /** A tagged push only: whether it created the tag, moved it or left it where it was. */
  tagChange?: TagChange;
  /** With `tagChange: moved`: the digest the tag named before. */
  previousDigest?: string;
  /** A tagged push: how many pushes by digest of its repository it absorbed (collapse window). */
  parts?: number;
  /** The sender's body (or, for multi-event bodies, the one element this event came from). */
  payload: unknown;
}

/** The short form a sender sees in the 202 body. */
export interface EventSummary {
  id: string;
  source: string;
  type: EventType;
  registry: string;
  repo?: string;
  duplicate?: boolean;
}

export function summarise(event: RegistryEvent): EventSummary {
  const summary: EventSummary = {
    id: event.id,
    source: event.source,
    type: event.type,
    registry: event.registry,
  };
  if (event.repo !== undefined) summary.repo = event.repo;
  return summary;
}
