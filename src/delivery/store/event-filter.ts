import type { EventQuery } from '../types';
import type { Dialect } from './dialect';

/**
 * The console's event filters as WHERE clauses over `events e` (the keyset cursor aside), for the
 * listing and for acting on every event the filter shows.
 */
export function eventWhere(sql: Dialect, query: EventQuery): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(sql.param(params.length)));
  };
  const exact: [keyof EventQuery, string][] = [
    ['provider', 'e.provider'],
    ['registry', 'e.registry'],
    ['repo', 'e.repo'],
    ['tag', 'e.tag'],
    ['type', 'e.type'],
    ['eventId', 'e.id'],
  ];
  for (const [key, column] of exact) {
    const value = query[key];
    if (value !== undefined && value !== '') add((p) => `${column} = ${p}`, value);
  }
  if (query.state) {
    add((p) => `e.seq IN (SELECT s.event_seq FROM ${sql.table('deliveries')} s WHERE s.state = ${p})`, query.state);
  }
  return { where, params };
}
