/**
 * Errors that carry an HTTP meaning. Anything else reaching the HTTP edge is a bug (500),
 * so parsers and the intake throw only these for input they refuse.
 */

/** The body is understood as JSON but is not an acceptable event: 400 with every problem. */
export class PayloadError extends Error {
  readonly errors: string[];
  constructor(errors: string | string[]) {
    const list = Array.isArray(errors) ? errors : [errors];
    super(list.join('; '));
    this.name = 'PayloadError';
    this.errors = list;
  }
}

/** The token is valid but the event lies outside what it may send: 403. */
export class ScopeError extends Error {
  constructor(
    readonly scope: 'providers' | 'registries' | 'repos',
    message: string,
  ) {
    super(message);
    this.name = 'ScopeError';
  }
}

/** The gateway cannot take the event safely right now: 503 + Retry-After. */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
    this.name = 'UnavailableError';
  }
}
