/**
 * What the edge answers, as data: the HTTP status, headers and JSON body a transport writes, and
 * the outcome a log, a metric or a request log records without reading the body back. Every
 * refusal goes through `refused`, the one place an error body is written.
 */

/** Why a request was refused; each has one status family and one body `status`. */
export type Refusal =
  | 'unauthorized'
  | 'forbidden'
  | 'rejected'
  | 'too_large'
  | 'unsupported_media'
  | 'unavailable'
  | 'rate_limited'
  | 'not_found'
  | 'not_allowed'
  | 'error';

export interface EventOutcome {
  id: string;
  type: string;
  duplicate: boolean;
}

export type Outcome =
  /** At least one event was new; `events` lists every event of the request. */
  | { result: 'accepted'; events: EventOutcome[] }
  /** Every event was already taken: the sender retried. */
  | { result: 'duplicate'; events: EventOutcome[] }
  | { result: 'ignored'; reason: string }
  /** A protocol answer that is no event: Event Grid's subscription validation, the abuse-protection handshake. */
  | { result: 'answered'; reason: string }
  | { result: 'refused'; refusal: Refusal; reason: string };

export type ReplyHeaders = Record<string, string | readonly string[]>;

export interface Reply {
  status: number;
  headers: ReplyHeaders;
  body: unknown;
  outcome: Outcome;
  /** The provider once known (named in the path or detected). */
  provider?: string;
  /** The NAME of the token the request proved, once authenticated; never its value. */
  token?: string;
}

/** Who a reply is about, when known; merged into the reply by the steps that learn it. */
export interface ReplyContext {
  provider?: string;
  token?: string;
}

/** The body `status` each refusal answers with, unchanged since the first release (docs/registries.md). */
const BODY_STATUS: Record<Refusal, string> = {
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  rejected: 'rejected',
  too_large: 'rejected',
  unsupported_media: 'rejected',
  unavailable: 'unavailable',
  rate_limited: 'rate_limited',
  not_found: 'not_found',
  not_allowed: 'rejected',
  error: 'error',
};

export interface RefusalOptions extends ReplyContext {
  headers?: ReplyHeaders;
  /** Extra body fields before `errors` (the scope a 403 names). */
  fields?: Record<string, unknown>;
}

/** The one error body: `{status, errors}` with every problem named. */
export function refused(
  refusal: Refusal,
  status: number,
  errors: readonly string[],
  options: RefusalOptions = {},
): Reply {
  return {
    status,
    headers: options.headers ?? {},
    body: { status: BODY_STATUS[refusal], ...options.fields, errors },
    outcome: { result: 'refused', refusal, reason: errors.join('; ') },
    provider: options.provider,
    token: options.token,
  };
}

/** 200 for a request that carries nothing to deliver. */
export function ignored(reason: string, context: ReplyContext = {}): Reply {
  return {
    status: 200,
    headers: {},
    body: { status: 'ignored', reason },
    outcome: { result: 'ignored', reason },
    ...context,
  };
}

export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'outcome' in value && 'status' in value;
}
