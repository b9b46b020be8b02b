import type { TokenSpec } from '../config/types';
import { TokenVerifier } from './tokens';
import { GoogleOidcVerifier } from './verify-google-oidc';
import { SignatureVerifier } from './verify-signature';

/**
 * Every configured token, sorted by how a request presents it (`verify:`): in the
 * Authorization header, as the last path segment, as a signature of the body, or as a Google
 * OIDC token. A reload replaces each set in one assignment.
 */
export class Credentials {
  readonly bearer: TokenVerifier;
  readonly path: TokenVerifier;
  readonly signatures: SignatureVerifier;
  readonly googleOidc: GoogleOidcVerifier;

  constructor(tokens: Record<string, string | TokenSpec>) {
    this.bearer = new TokenVerifier(tokens, 'bearer');
    this.path = new TokenVerifier(tokens, 'path');
    this.signatures = new SignatureVerifier(tokens);
    this.googleOidc = new GoogleOidcVerifier(tokens);
  }

  replace(tokens: Record<string, string | TokenSpec>): void {
    this.bearer.replace(tokens);
    this.path.replace(tokens);
    this.signatures.replace(tokens);
    this.googleOidc.replace(tokens);
  }
}
