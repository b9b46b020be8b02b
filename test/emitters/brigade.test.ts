import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { core } from '@brigadecore/brigade-sdk';
import { expect } from 'chai';
import Joi from 'joi';
import pino from 'pino';
import {
  BrigadeEmitter,
  brigadeEmitterPlugin,
  classifyBrigadeFailure,
  DEFAULT_BRIGADE_API_ADDRESS,
  type BrigadeSettings,
} from '../../src/emitters/brigade';
import { toBrigadeEvent } from '../../src/emitters/brigade-event';
import type { RegistryEvent } from '../../src/model/event';
import { FakeBrigadeApi, type FakeBrigadeAnswer } from '../fakes/brigade-api';

import { deliveryError } from '../helpers/delivery';
import { memoryLogger } from '../helpers/logger';

const TOKEN = 'brigade-sa-token-5f2c9a7e1d';
const DIGEST = 'sha256:' + '0123456789abcdef'.repeat(4);

const PUSH: RegistryEvent = {
  id: 'a1b2c3',
  provider: 'acr',
  source: 'brigade.sh/acr',
  type: 'push',
  registry: 'myregistry.azurecr.io',
  repo: 'example-repo',
  tag: 'v1',
  digest: DIGEST,
  time: '2024-05-01T10:00:00Z',
  payload: { id: 'a1b2c3', action: 'push', target: { repository: 'example-repo', tag: 'v1' } },
};

function emitterFor(apiAddress: string, overrides: Partial<BrigadeSettings> = {}) {
  const { logger, records: lines } = memoryLogger('debug');
  const settings: BrigadeSettings = {
    apiAddress,
    apiToken: TOKEN,
    apiIgnoreCertWarnings: true,
    timeoutSeconds: 5,
    ...overrides,
  };
  return { emitter: new BrigadeEmitter(settings, logger), lines };
}

/** An address nothing listens on: a port just released by the OS. */
async function closedPortAddress(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('BrigadeEmitter against a fake Brigade API', () => {
  let brigade: FakeBrigadeApi;

  beforeEach(async () => {
    brigade = new FakeBrigadeApi({
      token: TOKEN,
      badRequestDetails: ["labels.tag: Does not match pattern '^[\\w:/\\-\\.\\?=\\*]*$'"],
    });
    await brigade.start();
  });

  afterEach(async () => {
    await brigade.close();
  });

  it('creates the event Brigade answers 201 to, with the service-account token', async () => {
    const { emitter } = emitterFor(brigade.address);
    await emitter.deliver(PUSH);

    expect(brigade.received).to.have.length(1);
    expect(brigade.received[0]).to.include({ method: 'POST', path: '/v2/events', status: 201 });
    expect(brigade.received[0].authorization).to.equal(`Bearer ${TOKEN}`);
    expect(brigade.createdEvents).to.deep.equal([
      { ...toBrigadeEvent(PUSH).event, apiVersion: 'brigade.sh/v2', kind: 'Event' },
    ]);
  });

  it('accepts an API address with a trailing slash', async () => {
    const { emitter } = emitterFor(`${brigade.address}/`);
    await emitter.deliver(PUSH);
    expect(brigade.received[0].path).to.equal('/v2/events');
  });

  it('sends the event without a label Brigade would refuse, and logs a warning naming it', async () => {
    const { emitter, lines } = emitterFor(brigade.address);
    await emitter.deliver({ ...PUSH, tag: 'v1.0.0+build.7' });

    expect(brigade.createdEvents[0].labels).to.deep.equal({ repo: 'example-repo', digest: DIGEST });
    const warnings = lines.filter((line) => line.level === pino.levels.values.warn);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include({ label: 'tag', value: 'v1.0.0+build.7', eventId: PUSH.id });
    expect(warnings[0].msg).to.include('"tag"');
  });

  it('does not call Brigade for an event it can never accept', async () => {
    const { emitter } = emitterFor(brigade.address);
    const err = await deliveryError(emitter.deliver({ ...PUSH, registry: '[fd00::1]:5000' }));
    expect(err.retryable).to.equal(false);
    expect(brigade.received).to.have.length(0);
  });

  describe('classifies what Brigade answers', () => {
    const cases: {
      name: string;
      answer?: FakeBrigadeAnswer;
      token?: string;
      status: number | undefined;
      retryable: boolean;
      text: RegExp;
    }[] = [
      {
        name: '401 for an unknown token',
        token: 'some-other-token',
        status: 401,
        retryable: false,
        text: /Session not found/,
      },
      { name: '401 for an empty token', token: '', status: 401, retryable: false, text: /Authorization/ },
      {
        name: '403 for a source the account may not emit',
        answer: 'forbidden',
        status: 403,
        retryable: false,
        text: /not authorized/,
      },
      {
        name: '400 with the validation details',
        answer: 'bad-request',
        status: 400,
        retryable: false,
        text: /failed JSON validation.*labels\.tag: Does not match pattern/,
      },
      { name: '500', answer: 'internal-error', status: 500, retryable: true, text: /internal server error/ },
      { name: '429 from a proxy', answer: 'too-many-requests', status: 429, retryable: true, text: /429/ },
      { name: '503 from a proxy', answer: 'unavailable', status: 503, retryable: true, text: /503/ },
      {
        name: 'a dropped connection',
        answer: 'drop-connection',
        status: undefined,
        retryable: true,
        text: /socket hang up|ECONNRESET/,
      },
    ];

    for (const c of cases) {
      it(`${c.name}: ${c.retryable ? 'retryable' : 'permanent'}`, async () => {
        if (c.answer) brigade.answer = c.answer;
        const { emitter } = emitterFor(brigade.address, c.token === undefined ? {} : { apiToken: c.token });
        const err = await deliveryError(emitter.deliver(PUSH));
        expect(err.retryable).to.equal(c.retryable);
        expect(err.status).to.equal(c.status);
        expect(err.message).to.match(c.text);
      });
    }

    it('connection refused: retryable', async () => {
      const { emitter } = emitterFor(await closedPortAddress());
      const err = await deliveryError(emitter.deliver(PUSH));
      expect(err.retryable).to.equal(true);
      expect(err.status).to.equal(undefined);
      expect(err.message).to.include('ECONNREFUSED');
    });

    it('a target that never answers: retryable once timeoutSeconds pass', async () => {
      brigade.answer = 'hang';
      const { emitter } = emitterFor(brigade.address, { timeoutSeconds: 0.2 });
      const started = Date.now();
      const err = await deliveryError(emitter.deliver(PUSH));
      expect(Date.now() - started).to.be.within(150, 3000);
      expect(err.retryable).to.equal(true);
      expect(err.message).to.include('did not answer within 0.2s');
      expect(brigade.received).to.have.length(1);
    });

    it('succeeds on the attempt after a retryable failure', async () => {
      brigade.queue('unavailable');
      const { emitter } = emitterFor(brigade.address);
      const first = await deliveryError(emitter.deliver(PUSH));
      expect(first.retryable).to.equal(true);
      await emitter.deliver(PUSH);
      expect(brigade.received.map((r) => r.status)).to.deep.equal([503, 201]);
    });

    it('Brigade’s own schema check: an event it refuses gets 400 with the details named', async () => {
      // Straight through the SDK: the emitter itself never sends an event that fails the schema.
      const client = new core.EventsClient(brigade.address, TOKEN);
      let sdkError: unknown;
      try {
        await client.create({ source: 'brigade.sh/acr', type: 'push', labels: { tag: 'v1+build' } });
      } catch (err) {
        sdkError = err;
      }
      expect(brigade.received[0].status).to.equal(400);
      const err = classifyBrigadeFailure(sdkError, TOKEN);
      expect(err.retryable).to.equal(false);
      expect(err.status).to.equal(400);
      expect(err.message).to.include('labels.tag');
      expect(err.message).to.include('must match pattern');
    });
  });

  it('never puts the token in a DeliveryError message', async () => {
    const messages: string[] = [];
    const collect = async (work: Promise<unknown>) => messages.push((await deliveryError(work)).message);

    for (const answer of [
      'forbidden',
      'bad-request',
      'internal-error',
      'too-many-requests',
      'unavailable',
      'drop-connection',
    ] as const) {
      brigade.answer = answer;
      await collect(emitterFor(brigade.address).emitter.deliver(PUSH));
    }
    brigade.answer = 'created';
    await collect(emitterFor(brigade.address, { apiToken: `${TOKEN}-revoked` }).emitter.deliver(PUSH));
    brigade.answer = 'hang';
    await collect(emitterFor(brigade.address, { timeoutSeconds: 0.1 }).emitter.deliver(PUSH));
    await collect(emitterFor(await closedPortAddress()).emitter.deliver(PUSH));

    // A proxy that echoes the request's Authorization header back in its error.
    const echoing = new FakeBrigadeApi({
      token: TOKEN,
      answer: 'bad-request',
      badRequestDetails: [`Authorization: Bearer ${TOKEN}`],
    });
    await echoing.start();
    try {
      await collect(emitterFor(echoing.address).emitter.deliver(PUSH));
    } finally {
      await echoing.close();
    }

    expect(messages).to.have.length(10);
    for (const message of messages) expect(message).to.not.include(TOKEN);
    expect(messages[messages.length - 1]).to.include('Authorization: Bearer [redacted]');
  });
});

describe('Brigade SDK transport', () => {
  it('resolves axios 1.x from the SDK (package.json overrides), not the 0.21 it declares', () => {
    const sdkClient = require.resolve('@brigadecore/brigade-sdk/dist/rest_machinery/client.js');
    const axiosManifest = require.resolve('axios/package.json', { paths: [path.dirname(sdkClient)] });
    const { version } = JSON.parse(readFileSync(axiosManifest, 'utf8')) as { version: string };
    expect(Number(version.split('.')[0])).to.be.at.least(1);
    expect(axiosManifest).to.equal(require.resolve('axios/package.json'));
  });

  it('delivers through it to the fake Brigade API', async function () {
    const brigade = new FakeBrigadeApi({ token: TOKEN });
    await brigade.start();
    try {
      await emitterFor(brigade.address).emitter.deliver(PUSH);
      expect(brigade.createdEvents).to.have.length(1);
    } finally {
      await brigade.close();
    }
  });

  it('does not follow a redirect: the event and the token stay with the configured address', async () => {
    const elsewhere: string[] = [];
    const other = http.createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(201).end('{}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const redirecting = http.createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${target}${req.url}` }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const { emitter } = emitterFor(`http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`);
    try {
      const err = await deliveryError(emitter.deliver(PUSH));
      expect(err.message).to.match(/Brigade API answered 307/);
      expect(err.retryable).to.equal(false);
      expect(elsewhere).to.deep.equal([]);
    } finally {
      await emitter.close();
      await new Promise((resolve) => redirecting.close(resolve));
      await new Promise((resolve) => other.close(resolve));
    }
  });

  describe('over https, as Brigade serves', () => {
    let keyPair: { key: Buffer; cert: Buffer };

    before(() => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'brigade-tls-'));
      try {
        execFileSync(
          'openssl',
          ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1']
            .concat(['-addext', 'subjectAltName=IP:127.0.0.1'])
            .concat(['-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')]),
          { stdio: 'ignore' },
        );
        keyPair = { key: readFileSync(path.join(dir, 'tls.key')), cert: readFileSync(path.join(dir, 'tls.crt')) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps one connection open across events instead of a handshake per event', async () => {
      const brigade = new FakeBrigadeApi({ token: TOKEN, tls: keyPair });
      await brigade.start();
      const { emitter } = emitterFor(brigade.address, { apiIgnoreCertWarnings: true });
      try {
        for (let i = 0; i < 20; i++) await emitter.deliver({ ...PUSH, id: `event-${i}` });
        expect(brigade.createdEvents).to.have.length(20);
        expect(brigade.connections).to.equal(1);
      } finally {
        await emitter.close();
        await brigade.close();
      }
    });

    it('still refuses a certificate it cannot verify when apiIgnoreCertWarnings is off', async () => {
      const brigade = new FakeBrigadeApi({ token: TOKEN, tls: keyPair });
      await brigade.start();
      const { emitter } = emitterFor(brigade.address, { apiIgnoreCertWarnings: false });
      try {
        const err = await deliveryError(emitter.deliver(PUSH));
        expect(err.message).to.match(/self-signed certificate/);
        expect(err.retryable).to.equal(true);
        expect(brigade.createdEvents).to.have.length(0);
      } finally {
        await emitter.close();
        await brigade.close();
      }
    });

    it('leaves requests to other addresses alone once closed', async () => {
      const brigade = new FakeBrigadeApi({ token: TOKEN, tls: keyPair });
      await brigade.start();
      const first = emitterFor(brigade.address, { apiIgnoreCertWarnings: true }).emitter;
      await first.deliver(PUSH);
      await first.close();
      // With the first emitter's interceptor gone, a strict second emitter for the same address
      // gets its own verifying agent, not the first one's lenient pooled connection.
      const strict = emitterFor(brigade.address, { apiIgnoreCertWarnings: false }).emitter;
      try {
        const err = await deliveryError(strict.deliver(PUSH));
        expect(err.message).to.match(/self-signed certificate/);
        expect(brigade.createdEvents).to.have.length(1);
      } finally {
        await strict.close();
        await brigade.close();
      }
    });
  });
});

describe('classifyBrigadeFailure on the SDK’s other answers', () => {
  const cases: [string, unknown, number | undefined, boolean][] = [
    ['404', new Error('undefined "undefined" not found.'), 404, false],
    ['409 (the bare conflict reason)', new Error('Event "x" already exists.'), 409, false],
    ['409 without a reason', new Error(), 409, false],
    ['501', new Error('Request not supported: undefined'), 501, false],
    ['502', new Error('received 502 from API server'), 502, true],
    ['504', new Error('received 504 from API server'), 504, true],
    ['408', new Error('received 408 from API server'), 408, true],
    ['413', new Error('received 413 from API server'), 413, false],
    [
      'a network error',
      Object.assign(new Error('read ETIMEDOUT'), { isAxiosError: true, code: 'ETIMEDOUT' }),
      undefined,
      true,
    ],
    [
      'an unresolvable host',
      Object.assign(new Error('getaddrinfo ENOTFOUND brigade.invalid'), { isAxiosError: true, code: 'ENOTFOUND' }),
      undefined,
      true,
    ],
    [
      'an unsupported protocol',
      Object.assign(new Error('Unsupported protocol ftp:'), { isAxiosError: true, code: 'ERR_NOT_SUPPORT' }),
      undefined,
      false,
    ],
    ['something unexpected', new TypeError("Cannot read properties of null (reading 'reason')"), undefined, true],
  ];
  for (const [name, thrown, status, retryable] of cases) {
    it(`${name}: ${retryable ? 'retryable' : 'permanent'}`, () => {
      const err = classifyBrigadeFailure(thrown, TOKEN);
      expect(err.status).to.equal(status);
      expect(err.retryable).to.equal(retryable);
    });
  }

  it('keeps a multi-line 400 on one line, every detail in it', () => {
    const err = classifyBrigadeFailure(
      new Error('Bad request: Request body failed JSON validation\n  0. labels.tag: bad\n  1. type: bad'),
      TOKEN,
    );
    expect(err.message).to.equal(
      'Brigade API answered 400: Bad request: Request body failed JSON validation 0. labels.tag: bad 1. type: bad',
    );
  });
});

describe('brigadeEmitterPlugin', () => {
  // As the config schema builds every emitter section: `enabled` and `filter` plus the settings.
  const section = Joi.object({
    enabled: Joi.boolean().default(brigadeEmitterPlugin.enabledByDefault),
    filter: Joi.object().default({}),
    ...brigadeEmitterPlugin.settings,
  });
  const validate = (value: object) => section.validate(value, { abortEarly: false });

  it('is the `brigade` section, off by default, with the contract’s defaults', () => {
    expect(brigadeEmitterPlugin.key).to.equal('brigade');
    const { value, error } = validate({});
    expect(error).to.equal(undefined);
    expect(value).to.deep.equal({
      enabled: false,
      filter: {},
      apiAddress: DEFAULT_BRIGADE_API_ADDRESS,
      apiToken: '',
      apiIgnoreCertWarnings: true,
      timeoutSeconds: 30,
    });
  });

  it('requires a non-empty token when enabled', () => {
    expect(validate({ enabled: true }).error?.message).to.match(/apiToken.*required/);
    expect(validate({ enabled: true, apiToken: '' }).error?.message).to.match(/apiToken.*must not be empty/);
    expect(validate({ enabled: true, apiToken: TOKEN }).error).to.equal(undefined);
  });

  it('takes environment-style strings for the flag', () => {
    expect(validate({ apiIgnoreCertWarnings: 'false' }).value.apiIgnoreCertWarnings).to.equal(false);
  });

  it('refuses an address that is not an http(s) URI and a non-positive timeout', () => {
    const { error } = validate({ apiAddress: 'brigade-apiserver:443', timeoutSeconds: 0 });
    expect(error?.details.map((d) => d.path.join('.'))).to.have.members(['apiAddress', 'timeoutSeconds']);
  });

  it('creates a BrigadeEmitter named `brigade`', () => {
    const { value } = validate({ enabled: true, apiToken: TOKEN });
    const emitter = brigadeEmitterPlugin.create(value, { logger: pino({ enabled: false }) });
    expect(emitter).to.be.instanceOf(BrigadeEmitter);
    expect(emitter.name).to.equal('brigade');
  });
});
