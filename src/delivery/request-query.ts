import type { RequestQuery } from './store/request-log';

/** An operator's request log filter as typed: on the CLI's flags or the console's query string. */
export interface RequestFilterInput {
  status?: string;
  provider?: string;
  token?: string;
  /** An ISO time, or a span back from now: 30m, 6h, 2d. */
  since?: string;
  until?: string;
  limit?: string;
  before?: string;
}

const SPAN = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function timeOf(text: string, nowMs: number, name: string): number {
  const span = SPAN.exec(text);
  if (span) return nowMs - Number(span[1]) * UNIT_MS[span[2]];
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new Error(`${name} takes an ISO time (2024-05-01T12:00:00Z) or a span back from now (30m, 6h, 2d)`);
  return ms;
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number`);
  return n;
}

/**
 * The store query of a filter, or an Error naming the field that is wrong: the CLI prints it and
 * exits 2, the console shows it as a 400. Empty fields mean no filter.
 */
export function requestQuery(input: RequestFilterInput, nowMs: number): RequestQuery {
  const query: RequestQuery = {};
  if (input.status) {
    const match = /^([245])xx$/.exec(input.status);
    if (!match) throw new Error('status must be 2xx, 4xx or 5xx');
    query.statusClass = Number(match[1]);
  }
  if (input.provider) query.provider = input.provider;
  if (input.token) query.token = input.token;
  if (input.since) query.since = timeOf(input.since, nowMs, 'since');
  if (input.until) query.until = timeOf(input.until, nowMs, 'until');
  if (input.limit) query.limit = positive(input.limit, 'limit');
  if (input.before) query.before = positive(input.before, 'before');
  return query;
}
