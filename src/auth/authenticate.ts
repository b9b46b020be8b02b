import { verifyBasic } from './basic';
import type { Credential } from './credential';
import type { Credentials } from './credentials';
import type { TokenScope } from './tokens';

export const REALM = 'registry-gateway';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Why a request is not authenticated: a one-line hint for the sender and the challenge to send. */
export interface AuthRefusal {
  refused: string;
  /** `WWW-Authenticate`; absent for forms that have no challenge (path tokens, signatures). */
  challenge?: string | string[];
}

export type Authentication = { scope: TokenScope } | { awaitsSignature: true } | AuthRefusal;

const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;
const BEARER_CHALLENGE = `Bearer realm="${REALM}"`;
const INVALID_TOKEN_CHALLENGE = `Bearer realm="${REALM}", error="invalid_token"`;
// A Basic challenge makes browsers prompt for a password: only a request that used Basic gets one.
const BASIC_CHALLENGE = [BEARER_CHALLENGE, `Basic realm="${REALM}", charset="UTF-8"`];

/** The hint for a request that presented no token the gateway reads, from its Authorization header. */
function missingTokenHint(header: string | undefined): string {
  if (!header) return 'send the token as "Authorization: Bearer <token>"';
  const [scheme, ...rest] = header.split(' ');
  if (!/^bearer$/i.test(scheme)) return 'the Authorization header must use the Bearer scheme';
  if (rest.length !== 1 || rest[0] === '') return 'the Authorization header must be "Bearer <token>" with one space';
  return 'the token is not one this gateway knows';
}

async function bearer(credentials: Credentials, token: string): Promise<Authentication> {
  const scope = credentials.bearer.verify(token);
  if (scope) return { scope };
  // A JWT that is no configured Bearer token may be a Google OIDC token of a Pub/Sub push.
  if (credentials.googleOidc.configured && JWT.test(token)) {
    const result = await credentials.googleOidc.verify(token);
    if ('refused' in result) return { refused: `the Google OIDC token was refused: ${result.refused}` };
    return { scope: result.scope };
  }
  return { refused: 'the token is not one this gateway knows', challenge: INVALID_TOKEN_CHALLENGE };
}

/**
 * Authentication from what a request presents before its body is read (bearer, Basic, path
 * token, Google OIDC), so that a caller without a credential never gets the gateway to read one.
 * A request that carries a signature header one of the tokens could verify, and no Authorization
 * header, is told to wait for its body (`verifySignature`) when `signatures` is on.
 */
export async function authenticate(
  credentials: Credentials,
  credential: Credential,
  headers: Headers,
  options: { signatures: boolean },
): Promise<Authentication> {
  if (credential.form === 'path') {
    const scope = credentials.path.verify(credential.token);
    return scope ? { scope } : { refused: 'the path does not end in a token this gateway knows' };
  }
  if (options.signatures && headers.authorization === undefined && credentials.signatures.expects(headers)) {
    return { awaitsSignature: true };
  }
  switch (credential.form) {
    case 'query':
      return {
        refused: 'tokens are not accepted in the query string; use the Authorization header',
        challenge: BEARER_CHALLENGE,
      };
    case 'basic': {
      const scope = credential.credentials && verifyBasic(credentials.bearer, credential.credentials);
      if (scope) return { scope };
      // One answer for a wrong token and a wrong name: telling them apart would confirm a token.
      const refused = credential.credentials
        ? 'the Basic credentials are not a token this gateway knows with its name as the user name'
        : 'Basic credentials must be base64 of "<token name>:<token>"';
      return { refused, challenge: BASIC_CHALLENGE };
    }
    case 'bearer':
      return bearer(credentials, credential.token);
    case 'none': {
      const header = typeof headers.authorization === 'string' ? headers.authorization : undefined;
      return { refused: missingTokenHint(header), challenge: BEARER_CHALLENGE };
    }
  }
}

/** Authentication of a request that proves itself by a signature of its body (GitHub, JFrog), from the raw bytes. */
export function verifySignature(credentials: Credentials, headers: Headers, body: Buffer): Authentication {
  const scope = credentials.signatures.verify(headers, body);
  return scope ? { scope } : { refused: 'the body signature matches no token this gateway knows' };
}
