import type { RegistryEvent } from '../model/event';
import { normalisedRepository } from './image-reference';
import type { ListedObject } from './kubernetes-objects';

/**
 * The image subscription fields of a Kargo Warehouse that decide whether a push concerns it.
 * Kargo 1.11 reads `allowTagsRegexes` and `ignoreTagsRegexes`; `allowTags` (one regex) and
 * `ignoreTags` (exact tags) are deprecated there but still in the schema, and older Warehouses
 * carry them, so all four are honoured.
 */
export interface ImageSubscription {
  repoURL?: unknown;
  allowTags?: unknown;
  allowTagsRegexes?: unknown;
  ignoreTags?: unknown;
  ignoreTagsRegexes?: unknown;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

/**
 * Whether `pattern` finds a match in `tag`, unanchored as Go's regexp.MatchString is. A pattern
 * JavaScript cannot read (RE2 and JavaScript differ at the edges) gives `unreadable`, chosen so
 * that it lets the push through: an extra refresh costs one scan, a missed one a release.
 */
function found(pattern: string, tag: string, unreadable: boolean): boolean {
  try {
    return new RegExp(pattern).test(tag);
  } catch {
    return unreadable;
  }
}

/** Whether a subscription's tag rules let `tag` through; a push without a tag passes. */
export function tagAllowed(subscription: ImageSubscription, tag: string | undefined): boolean {
  if (tag === undefined) return true;
  const allow = [...strings([subscription.allowTags]), ...strings(subscription.allowTagsRegexes)];
  if (allow.length > 0 && !allow.some((pattern) => found(pattern, tag, true))) return false;
  if (strings(subscription.ignoreTags).includes(tag)) return false;
  return !strings(subscription.ignoreTagsRegexes).some((pattern) => found(pattern, tag, false));
}

/** The image subscriptions of a listed Warehouse (`spec.subscriptions[].image`). */
export function imageSubscriptions(warehouse: ListedObject): ImageSubscription[] {
  const subscriptions = warehouse.spec?.subscriptions;
  if (!Array.isArray(subscriptions)) return [];
  return subscriptions
    .map((s: unknown) => (typeof s === 'object' && s !== null ? (s as { image?: unknown }).image : undefined))
    .filter((image): image is ImageSubscription => typeof image === 'object' && image !== null);
}

/** Whether one of the Warehouse's image subscriptions is to `repository` and takes the event's tag. */
export function warehouseSubscribes(warehouse: ListedObject, repository: string, event: RegistryEvent): boolean {
  return imageSubscriptions(warehouse).some(
    (subscription) =>
      typeof subscription.repoURL === 'string' &&
      normalisedRepository(subscription.repoURL) === repository &&
      tagAllowed(subscription, event.tag),
  );
}
