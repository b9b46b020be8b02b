import type { core } from '@brigadecore/brigade-sdk';
import type { RegistryEvent } from '../model/event';
import { DeliveryError } from './types';

/**
 * Brigade's limits on an event, as its API server's schemas state them (schemas/brigade/
 * common.json and event.json). The API server refuses the whole event when one field breaks
 * them, so they are checked here first: a label that cannot pass is dropped alone, while a
 * broken source, type or qualifier makes the event undeliverable. Lengths count code points,
 * as JSON Schema's minLength/maxLength do.
 */
const MAP_KEY = /^[a-zA-Z][a-zA-Z\d-]*[a-zA-Z\d]$/;
const LABEL_VALUE = /^[\w:/\-.?=*]*$/;
const LABEL_VALUE_MAX_LENGTH = 255;
const SOURCE = /^[\w:/\-.?=@]*$/;
const SOURCE_MIN_LENGTH = 5;
const SOURCE_MAX_LENGTH = 63;
export const SHORT_TITLE_MAX_LENGTH = 50;
export const LONG_TITLE_MAX_LENGTH = 100;

const ELLIPSIS = '…';
/** Enough of a digest to tell images apart in a title, as `docker images` shows them. */
const SHORT_DIGEST_LENGTH = 12;

function codePointLength(text: string): number {
  return Array.from(text).length;
}

/** The characters of `text` that `allowed` (a one-character class test) refuses, each once. */
function refusedCharacters(text: string, allowed: RegExp): string {
  const refused = new Set(Array.from(text).filter((ch) => !allowed.test(ch)));
  return Array.from(refused, (ch) => JSON.stringify(ch)).join(' ');
}

/** Why `key` cannot name a Brigade label or qualifier, or undefined when it can. */
export function brigadeMapKeyProblem(key: string): string | undefined {
  return MAP_KEY.test(key)
    ? undefined
    : 'is not a Brigade key (a letter, then letters, digits or "-", not ending in "-")';
}

/** Why `value` cannot be a Brigade label, qualifier or type, or undefined when it can. */
export function brigadeLabelValueProblem(value: string): string | undefined {
  const length = codePointLength(value);
  if (length === 0) return 'is empty';
  if (length > LABEL_VALUE_MAX_LENGTH) {
    return `is ${length} characters long (Brigade allows ${LABEL_VALUE_MAX_LENGTH})`;
  }
  if (!LABEL_VALUE.test(value)) {
    return `contains characters Brigade does not allow in a label: ${refusedCharacters(value, /[\w:/\-.?=*]/)}`;
  }
  return undefined;
}

/** Why `source` cannot be a Brigade event source, or undefined when it can. */
export function brigadeSourceProblem(source: string): string | undefined {
  const length = codePointLength(source);
  if (length < SOURCE_MIN_LENGTH || length > SOURCE_MAX_LENGTH) {
    return `is ${length} characters long (Brigade allows ${SOURCE_MIN_LENGTH} to ${SOURCE_MAX_LENGTH})`;
  }
  if (!SOURCE.test(source)) {
    return `contains characters Brigade does not allow in a source: ${refusedCharacters(source, /[\w:/\-.?=@]/)}`;
  }
  return undefined;
}

export interface DroppedLabel {
  key: string;
  value: string;
  problem: string;
}

export interface BrigadeEventDraft {
  /** Ready for `core.EventsClient.create`, which adds `apiVersion` and `kind` itself. */
  event: core.Event;
  /** Labels left out because Brigade would refuse them: the caller says so in the log. */
  droppedLabels: DroppedLabel[];
}

/**
 * The Brigade event for a RegistryEvent (docs/targets.md, Brigade 2). Throws a permanent DeliveryError when
 * the source, type or registry qualifier cannot pass Brigade's schema: no retry could fix them,
 * and dropping them would send an event no subscription expects.
 */
export function toBrigadeEvent(registryEvent: RegistryEvent): BrigadeEventDraft {
  const { source, type, registry } = registryEvent;
  refuseUnless('source', source, brigadeSourceProblem(source));
  refuseUnless('type', type, brigadeLabelValueProblem(type));
  refuseUnless('registry qualifier', registry, brigadeLabelValueProblem(registry));

  const droppedLabels: DroppedLabel[] = [];
  const labels: Record<string, string> = {};
  const candidates: [string, string | undefined][] = [
    ['repo', registryEvent.repo],
    ['tag', registryEvent.tag],
    ['digest', registryEvent.digest],
    ['kind', registryEvent.kind],
    ['change', registryEvent.tagChange],
    ['previous-digest', registryEvent.previousDigest],
    ['subject-digest', registryEvent.subject?.digest],
    ['subject-tag', registryEvent.subject?.tag],
    // A comma is not a label character; `.` is in no OCI os or architecture name.
    ['platforms', registryEvent.platforms?.join('.')],
    ['parts', registryEvent.parts?.toString()],
  ];
  for (const [key, value] of candidates) {
    if (value === undefined) continue;
    const problem = brigadeMapKeyProblem(key) ?? brigadeLabelValueProblem(value);
    if (problem) droppedLabels.push({ key, value, problem });
    else labels[key] = value;
  }

  const event: core.Event = {
    source,
    type,
    // Brigade matches qualifiers exactly: any qualifier beyond `registry` would stop existing
    // subscriptions from matching.
    qualifiers: { registry },
    labels,
    shortTitle: shortTitle(registryEvent),
    longTitle: longTitle(registryEvent),
  };
  if (registryEvent.payload !== undefined) event.payload = JSON.stringify(registryEvent.payload);
  return { event, droppedLabels };
}

function refuseUnless(what: string, value: string, problem: string | undefined): void {
  if (problem) {
    throw new DeliveryError(`cannot be sent to Brigade: the ${what} ${JSON.stringify(value)} ${problem}`, false);
  }
}

/** `sha256:0123456789ab` for a full digest; anything else unchanged. */
function shortDigest(digest: string): string {
  const separator = digest.indexOf(':');
  if (separator < 0) return digest;
  const encoded = digest.slice(separator + 1);
  return encoded.length > SHORT_DIGEST_LENGTH
    ? `${digest.slice(0, separator)}:${encoded.slice(0, SHORT_DIGEST_LENGTH)}`
    : digest;
}

/**
 * `text` cut to `room` code points by dropping its start: the end of a reference (the image
 * name and its tag) says more than the start of a long repository path.
 */
function keepEnd(text: string, room: number): string {
  const chars = Array.from(text);
  if (chars.length <= room) return text;
  return ELLIPSIS + chars.slice(chars.length - (room - 1)).join('');
}

/**
 * `<type> <subject>` within `max`: the first subject that fits whole, else the last (most
 * compact) one with its start elided.
 */
function fitTitle(type: string, subjects: string[], max: number): string {
  for (const subject of subjects) {
    const title = `${type} ${subject}`;
    if (codePointLength(title) <= max) return title;
  }
  const room = max - codePointLength(type) - 1;
  const title = `${type} ${keepEnd(subjects[subjects.length - 1], room)}`;
  // Types are a short closed vocabulary; the cut only guards the schema's limit regardless.
  return Array.from(title).slice(0, max).join('');
}

/** `push example-repo:v1`, `delete example-repo@sha256:0123456789ab`, `quota_exceeded host`. */
function shortTitle(e: RegistryEvent): string {
  let subject: string;
  if (e.repo === undefined) subject = e.registry;
  else if (e.tag !== undefined) subject = `${e.repo}:${e.tag}`;
  else if (e.digest !== undefined) subject = `${e.repo}@${shortDigest(e.digest)}`;
  else subject = e.repo;
  return fitTitle(e.type, [subject], SHORT_TITLE_MAX_LENGTH);
}

/** `push myregistry.azurecr.io/example-repo:v1 (sha256:...)`: the full digest when it fits. */
function longTitle(e: RegistryEvent): string {
  const name = e.repo === undefined ? e.registry : `${e.registry}/${e.repo}`;
  if (e.digest === undefined) {
    const subject = e.tag !== undefined ? `${name}:${e.tag}` : name;
    return fitTitle(e.type, [subject], LONG_TITLE_MAX_LENGTH);
  }
  const withDigest = (digest: string): string => {
    if (e.tag !== undefined) return `${name}:${e.tag} (${digest})`;
    return e.repo !== undefined ? `${name}@${digest}` : `${name} (${digest})`;
  };
  return fitTitle(e.type, [withDigest(e.digest), withDigest(shortDigest(e.digest))], LONG_TITLE_MAX_LENGTH);
}
