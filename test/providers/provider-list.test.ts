import { expect } from 'chai';
import Joi from 'joi';
import { ConfigError, parseConfigText } from '../../src/config/load';
import { createConfigSchema } from '../../src/config/schema';
import type { GatewayConfig } from '../../src/config/types';
import { EMITTER_PLUGINS } from '../../src/emitters';
import type { RegistryEvent } from '../../src/model/event';
import { contentTypeFor, PROVIDERS } from '../../src/providers';
import type { RegistryProvider } from '../../src/providers/types';
import { startEdge, type Edge } from '../helpers/edge';
import { post } from '../helpers/http';

/**
 * The provider list is the single source of everything about registries: a provider that exists
 * only in this test, added to the list, gets its config keys, its detection, its path, its media
 * type and `send`'s Content-Type, with nothing else in the gateway edited.
 */

interface ExampleOptions {
  forwardBuilds: boolean;
}

const EXAMPLE_MEDIA_TYPE = 'application/vnd.example.notification+json';

interface ExampleNotification {
  repository: string;
  image_url: string;
  updated_tags?: string[];
  build_id?: string;
}

/** Example's repository notifications, reduced to what this test needs: pushes, and builds on request. */
const example: RegistryProvider<ExampleOptions> = {
  name: 'example',
  title: 'Example Registry',
  defaultSource: 'example.com/example',
  mediaTypes: [EXAMPLE_MEDIA_TYPE],
  options: Joi.object<ExampleOptions, true>({ forwardBuilds: Joi.boolean().default(false) }),
  matches: (request) => typeof (request.body as Partial<ExampleNotification> | null)?.image_url === 'string',
  parse(request, context) {
    const body = request.body as ExampleNotification;
    if (body.build_id !== undefined && !context.options.forwardBuilds) {
      return { kind: 'ignored', reason: 'Example build (providers.example.forwardBuilds is off)' };
    }
    const registry = context.registry.resolve(body.image_url.split('/')[0], 'image_url');
    const events = (body.updated_tags ?? ['latest']).map((tag): RegistryEvent => ({
      id: `example-${body.build_id ?? 'push'}-${tag}`,
      provider: 'example',
      source: context.source,
      type: 'push',
      registry,
      repo: body.repository,
      tag,
      time: '2024-05-01T12:00:00Z',
      payload: body,
    }));
    return { kind: 'events', events };
  },
};

const providers: readonly RegistryProvider[] = [...PROVIDERS, example];
const schema = createConfigSchema({ providers, emitters: EMITTER_PLUGINS });
const TOKEN = 'example-token-0123456789';
const PUSH: ExampleNotification = {
  repository: 'team/app',
  image_url: 'example.example.com/team/app',
  updated_tags: ['v1'],
};
const BUILD: ExampleNotification = { ...PUSH, build_id: 'b-42' };

function config(yaml = ''): GatewayConfig {
  return parseConfigText(schema, `tokens: {ci: ${TOKEN}}\n${yaml}`);
}

function problems(yaml: string): string[] {
  try {
    config(yaml);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('a provider added to the list', () => {
  describe('config', () => {
    it('gets sources.<name> with its default, and providers.<name> with its options and defaults', () => {
      const values = config();
      expect(values.sources.example).to.equal('example.com/example');
      expect(values.providers.example).to.deep.equal({ forwardBuilds: false });
      expect(config('sources: {example: example.example.com/events}').sources.example).to.equal(
        'example.example.com/events',
      );
      expect(config('providers: {example: {forwardBuilds: true}}').providers.example).to.deep.equal({
        forwardBuilds: true,
      });
    });

    it('checks those keys like any other provider', () => {
      expect(problems('sources: {example: "no spaces allowed"}\nproviders: {example: {colour: blue}}')).to.have.members(
        ['sources.example must be a Brigade source (5-63 of [\\w:/-.?=@])', 'providers.example.colour is not allowed'],
      );
    });

    it('may be named in token scopes, routing filters and defaultRegistry', () => {
      const values = parseConfigText(
        schema,
        `
tokens: {ci: ${TOKEN}, scoped: {value: other-token-for-example-1a2b, providers: [example]}}
defaultRegistry: {example: EXAMPLE.example.com}
emitters: {log: {enabled: true, filter: {providers: [example]}}}
`,
      );
      expect(values.defaultRegistry.example).to.equal('example.example.com');
      expect(values.emitters.log.filter.providers).to.deep.equal(['example']);
    });

    it('is unknown to the config of the gateway that does not list it', () => {
      const gateway = createConfigSchema({ providers: PROVIDERS, emitters: EMITTER_PLUGINS });
      expect(() => parseConfigText(gateway, `tokens: {ci: ${TOKEN}}\nproviders: {example: {}}`)).to.throw(
        ConfigError,
        'providers.example is not allowed',
      );
    });
  });

  describe('HTTP edge', () => {
    let edge: Edge;
    const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': EXAMPLE_MEDIA_TYPE };

    afterEach(() => edge.close());

    it('is detected on POST /events and sent with its own source', async () => {
      edge = await startEdge({ config: config(), providers });
      const res = await post(`${edge.url}/events`, PUSH, headers);
      expect(res.status, JSON.stringify(res.data)).to.equal(202);
      expect(edge.intake.accepted).to.have.length(1);
      expect(edge.intake.accepted[0]).to.include({
        provider: 'example',
        source: 'example.com/example',
        registry: 'example.example.com',
        repo: 'team/app',
      });
    });

    it('has its own path /events/<name>, and its options reach its parser', async () => {
      edge = await startEdge({ config: config('providers: {example: {forwardBuilds: true}}'), providers });
      const res = await post(`${edge.url}/events/example`, BUILD, headers);
      expect(res.status, JSON.stringify(res.data)).to.equal(202);
      expect(edge.intake.accepted.map((e) => e.id)).to.deep.equal(['example-b-42-v1']);
    });

    it('ignores what its options turn off, as its parser decides', async () => {
      edge = await startEdge({ config: config(), providers });
      const res = await post(`${edge.url}/events/example`, BUILD, headers);
      expect(res.status).to.equal(200);
      expect(res.data).to.deep.equal({
        status: 'ignored',
        reason: 'Example build (providers.example.forwardBuilds is off)',
      });
    });

    it('brings its media type: accepted with it, refused (415) by a gateway without it', async () => {
      edge = await startEdge({ config: config(), providers });
      expect((await post(`${edge.url}/events/example`, PUSH, headers)).status).to.equal(202);
      await edge.close();

      edge = await startEdge({ config: config() });
      const res = await post(`${edge.url}/events/example`, PUSH, headers);
      expect(res.status).to.equal(404);
      const detected = await post(`${edge.url}/events`, PUSH, headers);
      expect(detected.status).to.equal(415);
      expect(detected.data.errors[0].split('send one of')[1]).not.to.include(EXAMPLE_MEDIA_TYPE);
    });
  });

  it("is what send's Content-Type follows", () => {
    expect(contentTypeFor(PUSH, providers)).to.equal(EXAMPLE_MEDIA_TYPE);
    expect(contentTypeFor(PUSH)).to.equal('application/json');
  });
});
