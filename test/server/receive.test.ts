/**
 * The edge without HTTP: `Receiver.receive` on real payloads from test/corpus, one case per
 * outcome, each checked on the status, headers and body a transport would write and on the
 * outcome a log records.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { hmacHex } from '../../src/auth/hmac';
import { Credentials } from '../../src/auth/credentials';
import { parseConfig } from '../../src/gateway';
import { UnavailableError } from '../../src/model/errors';
import { PROVIDERS } from '../../src/providers';
import { RateLimit } from '../../src/server/rate-limit';
import { Receiver, type Inbound } from '../../src/server/receive';
import { corpusPath } from '../helpers/corpus';
import { RecordingIntake } from '../helpers/edge';

const TOKEN = 'receive-token-0123456789abcdef';
const HARBOR_TOKEN = 'receive-harbor-token-fedcba9876';
const GITHUB_SECRET = 'receive-github-secret-5a7c9e1b3d';

const fixture = (...parts: string[]) => readFileSync(corpusPath('fixtures', ...parts));
const ACR_PUSH = fixture('acr', 'docs-2017-push.json');
const bearer = (token = TOKEN) => ({ form: 'bearer' as const, token });
const json = { 'content-type': 'application/json' };

describe('server/receive', () => {
  let intake: RecordingIntake;
  let receiver: Receiver;

  function build(extra = '', rateLimit?: RateLimit) {
    const config = parseConfig(`
tokens:
  ci: ${TOKEN}
  harbor-only: {value: ${HARBOR_TOKEN}, providers: [harbor]}
  github: {value: ${GITHUB_SECRET}, verify: github-hmac, providers: [ghcr]}
server: {bodyLimit: 32kb${extra}}
`);
    intake = new RecordingIntake();
    receiver = new Receiver({
      config,
      credentials: new Credentials(config.tokens),
      providers: PROVIDERS,
      intake,
      rateLimit,
    });
  }
  beforeEach(() => build());

  const receive = (inbound: Partial<Inbound>) =>
    receiver.receive({ credential: bearer(), headers: json, rawBody: ACR_PUSH, ...inbound });

  it('202 accepted for an ACR push, with the event ids in the outcome and the token by name', async () => {
    const reply = await receive({});
    expect(reply.status).to.equal(202);
    expect(reply.body).to.deep.equal({
      status: 'accepted',
      events: [
        {
          id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5',
          source: 'brigade.sh/acr',
          type: 'push',
          registry: 'myregistry.azurecr.io',
          repo: 'hello-world',
        },
      ],
    });
    expect(reply.outcome).to.deep.equal({
      result: 'accepted',
      events: [{ id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5', type: 'push', duplicate: false }],
    });
    expect(reply).to.include({ provider: 'acr', token: 'ci' });
    expect(JSON.stringify(reply)).not.to.include(TOKEN);
    expect(intake.accepted.map((e) => e.id)).to.deep.equal(['cb8c3971-9adc-488b-bdd8-43cbb4974ff5']);
  });

  it('202 duplicate for the same delivery again, the token read from the Authorization header', async () => {
    await receive({});
    const reply = await receive({ credential: undefined, headers: { ...json, authorization: `Bearer ${TOKEN}` } });
    expect(reply.status).to.equal(202);
    expect(reply.outcome).to.deep.equal({
      result: 'duplicate',
      events: [{ id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5', type: 'push', duplicate: true }],
    });
    expect((reply.body as { events: { duplicate?: boolean }[] }).events[0].duplicate).to.equal(true);
    expect(intake.accepted).to.have.length(1);
  });

  it('200 ignored with the reason for a Distribution blob push', async () => {
    const reply = await receive({
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      rawBody: fixture('distribution', 'registry-2.8.2-blob-push-0.json'),
    });
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({ status: 'ignored', reason: 'no manifest event to forward: blob push' });
    expect(reply.outcome).to.deep.equal({ result: 'ignored', reason: 'no manifest event to forward: blob push' });
    expect(reply.provider).to.equal('distribution');
    expect(intake.received).to.have.length(0);
  });

  it('400 naming the field path of a bad value', async () => {
    const reply = await receive({ rawBody: fixture('acr', 'azure-acr-preview-quarantine.json') });
    expect(reply.status).to.equal(400);
    expect(reply.body).to.deep.equal({
      status: 'rejected',
      errors: ['target.digest "sha256:91ef6" is not a digest (algorithm:hex)'],
    });
    expect(reply.outcome).to.deep.include({ result: 'refused', refusal: 'rejected' });
    expect(reply).to.include({ provider: 'acr', token: 'ci' });
  });

  it('400 for a body that is not JSON and for one of no known shape, before any provider is known', async () => {
    const broken = await receive({ rawBody: Buffer.from('{"action": push') });
    expect(broken.status).to.equal(400);
    expect((broken.body as { errors: string[] }).errors[0]).to.match(/^body is not valid JSON/);
    const unknown = await receive({ rawBody: Buffer.from('{"hello": "world"}') });
    expect(unknown.status).to.equal(400);
    expect(unknown.provider).to.equal(undefined);
  });

  it('401 with the challenge for no credential, an unknown token and a bad signature; nothing read further', async () => {
    const none = await receive({ credential: { form: 'none' } });
    expect(none.status).to.equal(401);
    expect(none.headers).to.deep.equal({ 'WWW-Authenticate': 'Bearer realm="registry-gateway"' });
    expect(none.body).to.deep.equal({
      status: 'unauthorized',
      errors: ['send the token as "Authorization: Bearer <token>"'],
    });
    const unknown = await receive({ credential: bearer('not-a-token-of-this-gateway') });
    expect(unknown.status).to.equal(401);
    expect(unknown.headers['WWW-Authenticate']).to.equal('Bearer realm="registry-gateway", error="invalid_token"');
    expect(unknown.outcome).to.deep.include({ result: 'refused', refusal: 'unauthorized' });
    expect(unknown.token).to.equal(undefined);

    const ghcr = fixture('ghcr', 'package-published-container-octokit-example.json');
    const signed = (secret: string) => ({
      credential: { form: 'none' as const },
      headers: { ...json, 'x-github-event': 'package', 'x-hub-signature-256': `sha256=${hmacHex(secret, ghcr)}` },
      rawBody: ghcr,
    });
    expect((await receive(signed('another-secret-entirely'))).status).to.equal(401);
    expect(intake.received).to.have.length(0);
    // The right secret passes authentication: the reply names the token it proved.
    const good = await receive(signed(GITHUB_SECRET));
    expect(good.status).to.be.below(300);
    expect(good).to.include({ provider: 'ghcr', token: 'github' });
  });

  it('403 naming the scope a token is limited to', async () => {
    const reply = await receive({ credential: bearer(HARBOR_TOKEN) });
    expect(reply.status).to.equal(403);
    expect(reply.body).to.deep.include({ status: 'forbidden', scope: 'providers' });
    expect(reply).to.include({ provider: 'acr', token: 'harbor-only' });
    expect(intake.received).to.have.length(0);
  });

  it('413 over server.bodyLimit, 415 for a media type no registry sends', async () => {
    const big = await receive({ rawBody: Buffer.alloc(40_000, ' ') });
    expect(big.status).to.equal(413);
    expect(big.body).to.deep.equal({ status: 'rejected', errors: ['body is larger than server.bodyLimit'] });
    const form = await receive({ headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).to.equal(415);
    expect(form.outcome).to.deep.include({ result: 'refused', refusal: 'unsupported_media' });
    expect((form.body as { errors: string[] }).errors[0]).to.match(/^Content-Type application\/x-www-form-urlencoded/);
  });

  it('503 with Retry-After when the intake cannot take the event', async () => {
    intake.failWith = new UnavailableError('the store is full', 7);
    const reply = await receive({});
    expect(reply.status).to.equal(503);
    expect(reply.headers).to.deep.equal({ 'Retry-After': '7' });
    expect(reply.body).to.deep.equal({ status: 'unavailable', errors: ['the store is full'] });
    expect(reply.outcome).to.deep.include({ result: 'refused', refusal: 'unavailable' });
  });

  it('404 for a provider path no registry has, 429 once the bucket is empty', async () => {
    const nexus = await receive({ provider: 'nexus' });
    expect(nexus.status).to.equal(404);
    expect(JSON.stringify(nexus.body)).to.include('no provider \\"nexus\\"');
    // A segment as long as a token is not repeated back: it may be one, sent where the provider goes.
    const pasted = await receive({ provider: 'x7Kq2mP9vLw4Rt8Z' });
    expect(pasted.status).to.equal(404);
    expect(JSON.stringify(pasted.body)).not.to.include('x7Kq2mP9vLw4Rt8Z');
    let t = 0;
    build('', new RateLimit(1, 1, () => t));
    expect((await receive({})).status).to.equal(202);
    const limited = await receive({});
    expect(limited.status).to.equal(429);
    expect(limited.headers).to.deep.equal({ 'Retry-After': '1' });
    t = 1000;
    expect((await receive({})).status).to.equal(202);
  });
});
