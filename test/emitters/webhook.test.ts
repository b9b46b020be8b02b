import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { HIDDEN_CREDENTIAL } from '../../src/emitters/preview';
import { createWebhookEmitters, WebhookEmitter } from '../../src/emitters/webhook';
import type { WebhookEndpoint } from '../../src/emitters/webhook-settings';
import { resolveEndpoint } from '../../src/emitters/webhook-settings';
import { parseConfig } from '../../src/gateway';
import type { RegistryEvent } from '../../src/model/event';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';
import { deliveryError } from '../helpers/delivery';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

const push: RegistryEvent = {
  id: '6d1f0b3e-9a4c-4e21-8f53-2c7b1d9e0a64',
  provider: 'harbor',
  source: 'brigade.sh/harbor',
  type: 'push',
  registry: 'harbor.example.com',
  repo: 'team/web',
  tag: 'v2 ünï',
  digest: 'sha256:3c4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a',
  time: '2026-11-20T09:15:02Z',
  payload: { type: 'PUSH_ARTIFACT', operator: 'ci' },
};

function endpoint(url: string, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return { name: 'ci', url, secret, headers: {}, format: 'event', mode: 'binary', timeoutSeconds: 5, ...overrides };
}

describe('WebhookEmitter', () => {
  let receiver: FakeWebhookReceiver;
  let emitters: WebhookEmitter[] = [];

  function create(overrides: Partial<WebhookEndpoint> = {}): WebhookEmitter {
    const [emitter] = createWebhookEmitters({ endpoints: [endpoint(receiver.url, overrides)] });
    emitters.push(emitter);
    return emitter;
  }

  beforeEach(async () => {
    receiver = await FakeWebhookReceiver.start(secret);
  });

  afterEach(async () => {
    await Promise.all(emitters.map((e) => e.close()));
    emitters = [];
    await receiver.close();
  });

  it('posts the normalised event, signed so that the reference library verifies it', async () => {
    await create({ headers: { 'X-Team': 'web' } }).deliver(push);

    expect(receiver.received).to.have.length(1);
    const [request] = receiver.received;
    expect(request.verified).to.deep.equal({ ok: true, payload: JSON.parse(JSON.stringify(push)) });
    expect(request.headers['webhook-id']).to.equal(push.id);
    expect(request.headers['content-type']).to.equal('application/json');
    expect(request.headers['x-team']).to.equal('web');
    expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).to.be.below(60);
  });

  for (const mode of ['structured', 'binary'] as const) {
    it(`posts a CloudEvent in ${mode} mode, signed over the exact body sent`, async () => {
      await create({ format: 'cloudevent', mode }).deliver(push);

      const [request] = receiver.received;
      expect(request.verified.ok, JSON.stringify(request.verified)).to.equal(true);
      if (mode === 'structured') {
        expect(request.headers['content-type']).to.match(/^application\/cloudevents\+json/);
        expect(JSON.parse(request.body)).to.include({ id: push.id, type: 'sh.brigade.harbor.push', repo: 'team/web' });
      } else {
        expect(request.headers['ce-id']).to.equal(push.id);
        expect(request.headers['ce-tag']).to.equal('v2%20%C3%BCn%C3%AF');
        expect(JSON.parse(request.body)).to.include({ id: push.id, repo: 'team/web', tag: 'v2 ünï' });
      }
    });
  }

  it('signs with a secret read from the environment or from a file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-webhook-'));
    try {
      const file = path.join(dir, 'secret');
      writeFileSync(file, `${secret}\n`);
      const fromFile = resolveEndpoint(endpoint(receiver.url, { secret: undefined, secretFrom: { file } }));
      const fromEnv = resolveEndpoint(endpoint(receiver.url, { secret: undefined, secretFrom: { env: 'HOOK' } }), {
        HOOK: secret,
      });
      for (const resolved of [fromFile, fromEnv]) {
        const emitter = new WebhookEmitter(resolved);
        emitters.push(emitter);
        await emitter.deliver(push);
      }
      expect(receiver.received.map((r) => r.verified.ok)).to.deep.equal([true, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing or malformed secret at start, without quoting it', () => {
    const notBase64 = 'whsec_not*base64*at*all*but*long*enough*to*count';
    expect(() =>
      resolveEndpoint(endpoint('http://h', { secret: undefined, secretFrom: { env: 'NOPE' } }), {}),
    ).to.throw('webhook endpoint ci: the environment variable NOPE is not set');
    expect(() =>
      resolveEndpoint(endpoint('http://h', { secret: undefined, secretFrom: { env: 'BAD' } }), { BAD: notBase64 }),
    )
      .to.throw(/the environment variable BAD must be whsec_ followed by the base64/)
      .and.satisfy((fn: () => void) => {
        try {
          fn();
        } catch (err) {
          return !(err as Error).message.includes(notBase64);
        }
        return false;
      });
  });

  it('uses the event id as webhook-id on every attempt, with a fresh timestamp and signature', async () => {
    let now = Date.parse('2026-11-20T09:15:03Z');
    const emitter = new WebhookEmitter(resolveEndpoint(endpoint(receiver.url)), { clock: () => now });
    emitters.push(emitter);
    receiver.answer({ status: 503 });
    const first = await deliveryError(emitter.deliver(push));
    now += 30_000;
    await emitter.deliver(push);

    expect(first.retryable).to.equal(true);
    const [a, b] = receiver.received;
    expect(a.headers['webhook-id']).to.equal(push.id).and.to.equal(b.headers['webhook-id']);
    expect(Number(b.headers['webhook-timestamp']) - Number(a.headers['webhook-timestamp'])).to.equal(30);
    // Each attempt verifies on its own against the reference library, at the time it was sent.
    for (const request of [a, b]) {
      const at = new Date(Number(request.headers['webhook-timestamp']) * 1000);
      const headers = request.headers as Record<string, string>;
      expect(() => verifyAt(request.body, headers, at)).not.to.throw();
    }
  });

  describe('answers', () => {
    for (const status of [408, 409, 425, 429, 500, 503]) {
      it(`${status} is retried`, async () => {
        receiver.answer({ status, body: 'not now' });
        const err = await deliveryError(create().deliver(push));
        expect(err).to.include({ retryable: true, status });
        expect(err.message).to.equal(`webhook/ci answered ${status}: not now`);
      });
    }

    for (const status of [400, 401, 404, 410, 422, 302]) {
      it(`${status} is dead-lettered with the receiver's answer`, async () => {
        receiver.answer({ status, body: '{"error":"unknown repo"}' });
        const err = await deliveryError(create().deliver(push));
        expect(err).to.include({ retryable: false, status });
        expect(err.message).to.equal(`webhook/ci answered ${status}: {"error":"unknown repo"}`);
      });
    }

    it('carries Retry-After (seconds or a date) for the lane', async () => {
      const emitter = create();
      receiver.answer({ status: 429, headers: { 'Retry-After': '7' } });
      expect((await deliveryError(emitter.deliver(push))).retryAfterMs).to.equal(7000);
      receiver.answer({ status: 503, headers: { 'Retry-After': new Date(Date.now() + 60_000).toUTCString() } });
      const dated = (await deliveryError(emitter.deliver(push))).retryAfterMs!;
      expect(dated).to.be.within(55_000, 60_000);
    });

    it('retries when nothing listens at the address', async () => {
      const url = receiver.url;
      await receiver.close();
      const err = await deliveryError(create({ url }).deliver(push));
      expect(err.retryable).to.equal(true);
      expect(err.message).to.match(/^webhook\/ci unreachable: .*ECONNREFUSED/);
      receiver = await FakeWebhookReceiver.start(secret);
    });
  });

  it('previews the exact request with the signature and credential headers hidden', () => {
    const emitter = create({
      url: 'https://user:pw@hooks.example.com/registry',
      headers: { Authorization: 'Bearer abc', 'X-Api-Key': 'k', 'X-Team': 'web' },
    });
    const [request] = emitter.preview(push);
    expect(request).to.include({ method: 'POST', url: 'https://hooks.example.com/registry' });
    expect(request.headers).to.include({
      Authorization: HIDDEN_CREDENTIAL,
      'X-Api-Key': HIDDEN_CREDENTIAL,
      'X-Team': 'web',
      'webhook-id': push.id,
      'webhook-signature': HIDDEN_CREDENTIAL,
      'Content-Type': 'application/json',
    });
    expect(JSON.parse(request.body!)).to.deep.equal(JSON.parse(JSON.stringify(push)));
    expect(JSON.stringify(request)).not.to.include(secret.slice(6)).and.not.to.include('abc');
  });

  describe('config', () => {
    const values = (endpoints: unknown[]) =>
      `tokens: {ci: tok-7f3a9c2e5b1d8a4f6e0c}\nemitters:\n  log: {enabled: false}\n  webhook:\n    enabled: true\n    endpoints: ${JSON.stringify(endpoints)}\n`;

    it('gives each endpoint the defaults and the routing filter the other emitters use', () => {
      const config = parseConfig(values([{ name: 'ci', url: 'http://h/x', secret, filter: { types: ['push'] } }]));
      expect(config.emitters.webhook.endpoints[0]).to.deep.include({
        format: 'event',
        mode: 'binary',
        timeoutSeconds: 10,
        headers: {},
        filter: { types: ['push'] },
      });
    });

    const refusals: [string, unknown[], RegExp][] = [
      [
        'a secret not in whsec_ form',
        [{ name: 'a', url: 'http://h', secret: 'hunter2hunter2' }],
        /secret must be whsec_ followed by the base64 of 24 to 64 random bytes \(it does not start/,
      ],
      ['a short secret', [{ name: 'a', url: 'http://h', secret: 'whsec_c2hvcnQ=' }], /\(it holds 5 bytes\)/],
      ['no secret', [{ name: 'a', url: 'http://h' }], /needs secret or secretFrom/],
      [
        'both secret forms',
        [{ name: 'a', url: 'http://h', secret, secretFrom: { env: 'X' } }],
        /takes secret or secretFrom, not both/,
      ],
      [
        'a header the signature sets',
        [{ name: 'a', url: 'http://h', secret, headers: { 'Webhook-Id': 'x' } }],
        /headers: Webhook-Id is set by the webhook target itself/,
      ],
      [
        'a filter value no provider has',
        [{ name: 'a', url: 'http://h', secret, filter: { providers: ['nope'] } }],
        /filter.providers\[0\] must be one of/,
      ],
      [
        'two endpoints of one name',
        [
          { name: 'a', url: 'http://h', secret },
          { name: 'a', url: 'http://i', secret },
        ],
        /repeats the endpoint name a/,
      ],
    ];
    it('refuses an enabled section without endpoints', () => {
      expect(() => parseConfig(values([]))).to.throw(/list at least one endpoint/);
    });

    for (const [what, endpoints, message] of refusals) {
      it(`refuses ${what}`, () => {
        expect(() => parseConfig(values(endpoints))).to.throw(message);
      });
    }
  });
});

/** The reference library's check, as a receiver would run it at `at`. */
function verifyAt(body: string, headers: Record<string, string>, at: Date): unknown {
  const webhook = new Webhook(secret);
  const realNow = Date.now;
  Date.now = () => at.getTime();
  try {
    return webhook.verify(body, headers);
  } finally {
    Date.now = realNow;
  }
}
