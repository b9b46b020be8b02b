import { PayloadError, ScopeError, UnavailableError } from '../model/errors';
import { refused, type Reply, type ReplyContext } from './reply';

/** Where a refusal happened: the provider and token once known, and the provider's status for a refused body. */
export interface ErrorContext extends ReplyContext {
  refusedStatus?: number;
}

/**
 * The reply for an error that carries an HTTP meaning (docs/registries.md, Status codes);
 * undefined for anything else, which is a bug and the transport's 500.
 */
export function errorReply(err: unknown, context: ErrorContext = {}): Reply | undefined {
  const { refusedStatus, ...who } = context;
  if (err instanceof PayloadError) return refused('rejected', refusedStatus ?? 400, err.errors, who);
  if (err instanceof ScopeError) {
    return refused('forbidden', 403, [err.message], { ...who, fields: { scope: err.scope } });
  }
  if (err instanceof UnavailableError) {
    return refused('unavailable', 503, [err.message], {
      ...who,
      headers: { 'Retry-After': String(err.retryAfterSeconds) },
    });
  }
  return undefined;
}

/** A bug's answer: nothing about internals, only the request id to find the logged stack by. */
export function internalError(requestId: string, context: ReplyContext = {}): Reply {
  return refused('error', 500, [`internal error (request ${requestId})`], context);
}

export function tooLarge(context: ReplyContext = {}): Reply {
  return refused('too_large', 413, ['body is larger than server.bodyLimit'], context);
}
