import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { GoogleOidcVerifier } from '../../src/auth/verify-google-oidc';
import { parseConfig } from '../../src/gateway';
import { startEdge, type Edge } from '../helpers/edge';
import { listen, post, type Listening } from '../helpers/http';
import { readFixture } from '../helpers/corpus';

const AUDIENCE = 'https://registry-gateway.example.com/events/gar';
const SERVICE_ACCOUNT = 'gar-push@acme-prod.iam.gserviceaccount.com';
const PAYLOADS = path.resolve(__dirname, '..', '..', 'examples', 'payloads');

type Key = Awaited<ReturnType<typeof generateKeyPair>>;

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('auth: Google OIDC tokens of Pub/Sub push (verify: google-oidc)', () => {
  let google: Key;
  let stranger: Key;
  let jwks: Listening;
  let jwksRequests = 0;
  let verifier: GoogleOidcVerifier;

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: JWTPayload = {}): JWTPayload => ({
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    azp: '113774264463038321964',
    sub: '113774264463038321964',
    email: SERVICE_ACCOUNT,
    email_verified: true,
    iat: now() - 10,
    exp: now() + 3590,
    ...overrides,
  });
  const sign = (payload: JWTPayload, key: Key = google, kid = 'google-1') =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key.privateKey);

  before(async () => {
    google = await generateKeyPair('RS256');
    stranger = await generateKeyPair('RS256');
    const publicJwk = { ...(await exportJWK(google.publicKey)), kid: 'google-1', alg: 'RS256', use: 'sig' };
    jwks = await listen((_req, res) => {
      jwksRequests += 1;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    verifier = new GoogleOidcVerifier({
      pubsub: {
        value: '',
        verify: 'google-oidc',
        audience: AUDIENCE,
        serviceAccount: SERVICE_ACCOUNT,
        jwksUrl: `${jwks.url}/oauth2/v3/certs`,
        providers: ['gar'],
      },
    });
  });
  after(() => jwks.close());

  it('accepts a token Google would send, with either form of the issuer, and fetches the keys once', async () => {
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      const result = await verifier.verify(await sign(claims({ iss })));
      expect(result).to.deep.equal({
        scope: { name: 'pubsub', providers: ['gar'], registries: undefined, repos: undefined },
      });
    }
    expect(jwksRequests).to.equal(1);
  });

  it("accepts the documented claim set's shape (its own times moved to now)", async () => {
    const documented = readFixture('gar', 'pubsub-push-auth-jwt-claims-docs-example.json').body as JWTPayload;
    const result = await verifier.verify(
      await sign({ ...documented, aud: AUDIENCE, email: SERVICE_ACCOUNT, iat: now() - 5, exp: now() + 3595 }),
    );
    expect(result).to.have.property('scope');
  });

  const refusals: [string, () => Promise<string>, RegExp][] = [
    ['a wrong aud', () => sign(claims({ aud: 'https://elsewhere.example.com' })), /"aud"/],
    ['a wrong email', () => sign(claims({ email: 'someone@evil.example.com' })), /"email"/],
    ['email_verified false', () => sign(claims({ email_verified: false })), /"email_verified"/],
    ['an expired token', () => sign(claims({ iat: now() - 7300, exp: now() - 3700 })), /"exp"/],
    ['a token issued in the future', () => sign(claims({ iat: now() + 600, exp: now() + 4200 })), /"iat"/],
    ['another issuer', () => sign(claims({ iss: 'https://evil.example.com' })), /"iss"/],
    ['a token without email', () => sign(claims({ email: undefined })), /"email"/],
    [
      'alg none',
      () => Promise.resolve(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims())}.`),
      /alg|Unsecured|JWS/i,
    ],
    [
      'HS256 signed with the public key',
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: 'google-1', typ: 'JWT' })
          .sign(new TextEncoder().encode(await exportSPKI(google.publicKey))),
      /alg/,
    ],
    ['an unknown kid', () => sign(claims(), stranger, 'not-google'), /no applicable key/],
    ['a known kid signed by another key', () => sign(claims(), stranger, 'google-1'), /signature verification failed/],
  ];
  for (const [name, make, reason] of refusals) {
    it(`refuses ${name}`, async () => {
      const result = await verifier.verify(await make());
      expect(result).to.have.property('refused').that.matches(reason);
    });
  }

  describe('at the HTTP edge', () => {
    let edge: Edge;
    const body = readFileSync(path.join(PAYLOADS, 'gar-pubsub-push.json'), 'utf8');

    before(async () => {
      edge = await startEdge({
        config: parseConfig(`
tokens:
  ci: bearer-token-for-ci-0a9b8c7d
  pubsub:
    verify: google-oidc
    audience: ${AUDIENCE}
    serviceAccount: ${SERVICE_ACCOUNT}
    jwksUrl: ${jwks.url}/oauth2/v3/certs
    providers: [gar]
`),
      });
    });
    after(() => edge.close());

    it('accepts the push with a good token, 401 with a bad one, and bearer tokens still work', async () => {
      const good = await post(`${edge.url}/events/gar`, body, { Authorization: `Bearer ${await sign(claims())}` });
      expect(good.status, JSON.stringify(good.data)).to.equal(202);
      const bad = await post(`${edge.url}/events/gar`, body, {
        Authorization: `Bearer ${await sign(claims({ aud: 'https://elsewhere.example.com' }))}`,
      });
      expect(bad.status).to.equal(401);
      expect(bad.data.errors[0]).to.match(/^the Google OIDC token was refused: "aud"/);
      const bearer = await post(`${edge.url}/events/gar`, body, {
        Authorization: 'Bearer bearer-token-for-ci-0a9b8c7d',
      });
      expect(bearer.status).to.equal(202);
    });

    it('acknowledges (200) a push whose message can never be read, so that Pub/Sub stops redelivering it', async () => {
      const junk = readFixture('gar', 'pubsub-push-envelope-generic-not-gar-googleapis-pr661.json').text;
      const res = await post(`${edge.url}/events/gar`, junk, { Authorization: `Bearer ${await sign(claims())}` });
      expect(res.status).to.equal(200);
      expect(res.data).to.deep.equal({
        status: 'rejected',
        errors: ['message.data does not decode to JSON: it is not an Artifact Registry notification'],
      });
    });
  });
});
