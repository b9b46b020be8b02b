import { basicCredentials, usesBasicScheme, type BasicCredentials } from './basic';

/**
 * What a request presents to prove who sent it, whatever carried it. The HTTP adapter reads
 * Bearer tokens with passport-http-bearer and the rest with `presentedCredential`; a caller
 * without HTTP (the `send --local` check, tests) builds one directly or lets `receive` read the
 * headers. Signatures (GitHub, JFrog) are no credential here: they are read from the headers and
 * the body.
 */
export type Credential =
  | { form: 'bearer'; token: string }
  /** `credentials` is undefined when the Basic header is malformed. */
  | { form: 'basic'; credentials: BasicCredentials | undefined }
  /** The last segment of `/events/<provider>/<token>`. */
  | { form: 'path'; token: string }
  /** `access_token` in the query string: always refused, proxies and access logs keep URLs. */
  | { form: 'query' }
  /** Nothing in a form the gateway reads (no header, another scheme, a malformed Bearer header). */
  | { form: 'none' };

/** `Bearer <token>` with one space, the scheme in any case (RFC 6750 §2.1, as passport-http-bearer reads it). */
const BEARER = /^bearer ([^ ]+)$/i;

/** The credential in a request's headers (and path token), for callers that have no passport in front. */
export function presentedCredential(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  pathToken?: string,
): Credential {
  if (pathToken !== undefined) return { form: 'path', token: pathToken };
  const header = typeof headers.authorization === 'string' ? headers.authorization : undefined;
  if (usesBasicScheme(header)) return { form: 'basic', credentials: basicCredentials(header) };
  const token = BEARER.exec(header ?? '')?.[1];
  return token ? { form: 'bearer', token } : { form: 'none' };
}
