import type { DeliveryState, EventQuery } from '../delivery/types';

const STATES: readonly DeliveryState[] = ['pending', 'dead', 'delivered'];
const FILTERS = ['provider', 'registry', 'repo', 'tag', 'type', 'state', 'id', 'before'] as const;

export type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

/** The events page's filters from a query or a form, blanks left out. */
export function filtersOf(given: Record<string, unknown>): Filters {
  const filters: Filters = {};
  for (const key of FILTERS) {
    const value = given[key];
    if (typeof value === 'string' && value.trim() !== '') filters[key] = value.trim();
  }
  return filters;
}

/** The filters as the store's event query; a value that is not one of the choices selects nothing extra. */
export function eventQuery(filters: Filters): EventQuery {
  const before = Number(filters.before);
  const state = STATES.find((s) => s === filters.state);
  return {
    provider: filters.provider,
    registry: filters.registry?.toLowerCase(),
    repo: filters.repo,
    tag: filters.tag,
    type: filters.type,
    eventId: filters.id,
    state,
    before: Number.isSafeInteger(before) && before > 0 ? before : undefined,
  };
}
