import type { TokenSpec } from '../config/types';
import { tokensVerifiedBy, type TokenScope } from './tokens';
import { GITHUB_SIGNATURE_HEADER, verifyGithubSignature } from './verify-github';
import { JFROG_AUTH_HEADER, verifyJfrogAuth } from './verify-jfrog';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

interface Keyed {
  value: string;
  scope: TokenScope;
}

/** One signature form: the header it arrives in and how the body and a token's value check it. */
interface SignatureForm {
  header: string;
  verify(header: string | undefined, body: Buffer, secret: string): boolean;
  tokens: Keyed[];
}

/**
 * The tokens that prove a request by its body (`github-hmac`, `jfrog`) rather than by a header
 * alone, which is why they are checked only once the body has been read.
 */
export class SignatureVerifier {
  private forms: SignatureForm[] = [];

  constructor(tokens: Record<string, string | TokenSpec>) {
    this.replace(tokens);
  }

  replace(tokens: Record<string, string | TokenSpec>): void {
    this.forms = [
      {
        header: GITHUB_SIGNATURE_HEADER,
        verify: verifyGithubSignature,
        tokens: tokensVerifiedBy('github-hmac', tokens),
      },
      { header: JFROG_AUTH_HEADER, verify: verifyJfrogAuth, tokens: tokensVerifiedBy('jfrog', tokens) },
    ];
  }

  /** Whether the request carries a header one of the configured signature tokens could verify. */
  expects(headers: Headers): boolean {
    return this.forms.some((form) => form.tokens.length > 0 && typeof headers[form.header] === 'string');
  }

  /** The scope of the token whose signature the request carries; every token is tried, in constant time each. */
  verify(headers: Headers, body: Buffer): TokenScope | undefined {
    let found: TokenScope | undefined;
    for (const form of this.forms) {
      const header = headers[form.header];
      if (typeof header !== 'string') continue;
      for (const token of form.tokens) {
        if (form.verify(header, body, token.value)) found = token.scope;
      }
    }
    return found;
  }
}
