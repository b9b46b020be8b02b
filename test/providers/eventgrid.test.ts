import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EventGridParser, registryHostOfArmId } from '../../src/providers/eventgrid';
import type { InboundRequest, ParseOutcome } from '../../src/providers/types';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { eventsOf, onlyEvent, rejection } from '../helpers/outcome';

function fixture(name: string): any {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'eventgrid', name), 'utf8'));
}

const parser = new EventGridParser();

function parseRequest(request: InboundRequest, options: TestContextOptions = {}): ParseOutcome {
  return parser.parse(request, parseContext('eventgrid', options));
}

function parse(body: unknown, options: TestContextOptions = {}): ParseOutcome {
  return parseRequest(inbound(body), options);
}

const DIGEST = 'sha256:0d1c3b3e8f5a0f4e6c7b9a8d2e1f3c5b7a9d0e2f4a6c8e0b2d4f6a8c0e2b4d6f';
const PLACEHOLDER_TOPIC =
  '/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}/providers/Microsoft.ContainerRegistry/registries/{name}';
const NO_REGISTRY_MESSAGE =
  'data.request.host is missing, so the registry is unknown: scope the token to exactly one registry ' +
  'or set defaultRegistry.eventgrid in the config';

function binaryRequest(headers: Record<string, string>, body = fixture('binary-mode-data.json')): InboundRequest {
  return inbound(body, 'application/json', {
    'ce-specversion': '1.0',
    'ce-type': 'Microsoft.ContainerRegistry.ImageDeleted',
    'ce-id': 'bin-0001',
    'ce-source': '/subscriptions/1/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/contoso',
    'ce-time': '2024-05-02T10:00:00.5Z',
    ...headers,
  });
}

describe('EventGridParser', () => {
  describe('Event Grid schema', () => {
    it('turns each ACR event of an array into an event and skips the others', () => {
      const body = fixture('eventgrid-batch.json');
      const events = eventsOf(parse(body));
      expect(events.map((e) => [e.id, e.type, e.registry, e.repo, e.tag, e.time])).to.deep.equal([
        [
          'e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8',
          'push',
          'contoso.azurecr.io',
          'team/web',
          'v2.3.1',
          '2024-05-02T09:15:30.4567891Z',
        ],
        [
          'e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f9',
          'delete',
          'contoso.azurecr.io',
          'team/web',
          undefined,
          '2024-05-02T10:00:00.1Z',
        ],
        [
          'e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7fa',
          'chart_push',
          'contoso.azurecr.io',
          'charts',
          'web-1.4.0.tgz',
          '2024-05-02T11:30:00.9Z',
        ],
      ]);
      expect(events[0]).to.include({ provider: 'eventgrid', source: 'brigade.sh/acr', digest: DIGEST });
      expect(events[1]).not.to.have.property('tag');
      expect(events.map((e) => e.payload)).to.deep.equal(body.slice(0, 3));
    });

    it('maps every Event Grid ACR type, long and short (2019 docs) forms', () => {
      const [push, del, chart] = fixture('eventgrid-batch.json');
      const cases = [
        [push, 'ImagePushed', 'push'],
        [del, 'ImageDeleted', 'delete'],
        [chart, 'ChartPushed', 'chart_push'],
        [{ ...chart, data: { ...chart.data, action: 'chart_delete' } }, 'ChartDeleted', 'chart_delete'],
      ] as const;
      for (const [event, name, type] of cases) {
        for (const eventType of [`Microsoft.ContainerRegistry.${name}`, name]) {
          expect(onlyEvent(parse([{ ...event, eventType }])).type, eventType).to.equal(type);
        }
      }
    });

    it('accepts one bare event object, as the REST spec examples show', () => {
      const [push] = fixture('eventgrid-batch.json');
      expect(onlyEvent(parse(push)).id).to.equal('e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8');
    });

    it('answers the subscription validation handshake', () => {
      expect(parse(fixture('subscription-validation.json'))).to.deep.equal({
        kind: 'reply',
        status: 200,
        body: { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' },
      });
    });

    it('refuses a validation event without its code', () => {
      const [validation] = fixture('subscription-validation.json');
      delete validation.data.validationCode;
      expect(rejection(() => parse([validation]))).to.deep.equal(['[0].data.validationCode is required']);
    });

    it('ignores an array with no ACR event, saying why', () => {
      const [, , , storage] = fixture('eventgrid-batch.json');
      expect(parse([storage, { ...storage, eventType: 'Microsoft.ContainerRegistry.ImageQuarantined' }])).to.deep.equal(
        {
          kind: 'ignored',
          reason:
            'Event Grid event type "Microsoft.Storage.BlobCreated" is not an ACR event the gateway forwards; ' +
            'Event Grid event type "Microsoft.ContainerRegistry.ImageQuarantined" is not an ACR event the gateway forwards',
        },
      );
    });

    it('falls back to data.timestamp when eventTime is missing', () => {
      const [push] = fixture('eventgrid-batch.json');
      delete push.eventTime;
      expect(onlyEvent(parse([push])).time).to.equal('2024-05-02T09:15:30.1234567Z');
    });

    it('refuses an action that contradicts the event type', () => {
      const [push] = fixture('eventgrid-batch.json');
      push.eventType = 'Microsoft.ContainerRegistry.ImageDeleted';
      expect(rejection(() => parse([push]))).to.deep.equal([
        '[0].data.action "push" contradicts [0].eventType "Microsoft.ContainerRegistry.ImageDeleted"',
      ]);
    });

    it('names fields by their place in the array', () => {
      const [push, del] = fixture('eventgrid-batch.json');
      delete del.id;
      del.data.target.repository = 'Team/Web';
      expect(rejection(() => parse([push, del]))).to.have.members([
        '[1].id is required',
        '[1].data.target.repository "Team/Web" is not a repository name',
      ]);
    });

    it('refuses empty arrays, non-object elements and ACR events without data', () => {
      expect(rejection(() => parse([]))).to.deep.equal([
        'body is an empty array: Event Grid delivers at least one event',
      ]);
      expect(rejection(() => parse([fixture('eventgrid-batch.json')[0], 'x']))).to.deep.equal([
        '[1] must be an object, got a string',
      ]);
      const [push] = fixture('eventgrid-batch.json');
      delete push.data;
      expect(rejection(() => parse([push]))).to.deep.equal(['[0].data is required']);
      expect(rejection(() => parse(42))[0]).to.match(/^body must be an Event Grid event array/);
    });
  });

  describe('chart events, whose registry is in the ARM id', () => {
    const chartWithTopic = (topic: string) => {
      const [, , chart] = fixture('eventgrid-batch.json');
      return [{ ...chart, topic }];
    };

    it('take <name>.azurecr.io from .../registries/<name>', () => {
      expect(
        onlyEvent(
          parse(
            chartWithTopic(
              '/subscriptions/1/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myRegistry01',
            ),
          ),
        ).registry,
      ).to.equal('myregistry01.azurecr.io');
    });

    it('map the derived host through the aliases', () => {
      const event = onlyEvent(
        parse(chartWithTopic('/x/registries/contoso'), { aliases: { 'contoso.azurecr.io': 'registry.contoso.com' } }),
      );
      expect(event.registry).to.equal('registry.contoso.com');
    });

    it('refuse a placeholder ARM id with a 400 that names it and how to supply a registry', () => {
      expect(rejection(() => parse(chartWithTopic(PLACEHOLDER_TOPIC)))).to.deep.equal([
        `[0].topic ${JSON.stringify(PLACEHOLDER_TOPIC)} does not name an ACR registry (.../registries/<name>, where <name> is 5-50 letters or digits)`,
        `[0].${NO_REGISTRY_MESSAGE}`,
      ]);
    });

    it('refuse names that cannot be ACR names (too short, punctuation)', () => {
      for (const name of ['abc', 'my-registry', '<name>']) {
        expect(rejection(() => parse(chartWithTopic(`/x/registries/${name}`)))[0], name).to.match(
          /does not name an ACR registry/,
        );
      }
    });

    it('say so when there is no topic at all', () => {
      const [, , chart] = fixture('eventgrid-batch.json');
      delete chart.topic;
      expect(rejection(() => parse([chart]))).to.deep.equal(['[0].topic is missing', `[0].${NO_REGISTRY_MESSAGE}`]);
    });

    it('take the registry from a token scoped to one registry, or defaultRegistry', () => {
      expect(
        onlyEvent(parse(chartWithTopic(PLACEHOLDER_TOPIC), { scopeRegistries: ['contoso.azurecr.io'] })).registry,
      ).to.equal('contoso.azurecr.io');
      expect(onlyEvent(parse(chartWithTopic(PLACEHOLDER_TOPIC), { fallback: 'contoso.azurecr.io' })).registry).to.equal(
        'contoso.azurecr.io',
      );
    });
  });

  describe('CloudEvents structured mode', () => {
    it('normalises an image push with the CloudEvent id and time', () => {
      const body = fixture('cloudevent-image-pushed.json');
      expect(onlyEvent(parseRequest(inbound(body, 'application/cloudevents+json')))).to.deep.equal({
        id: 'c0ffee00-1234-4abc-8def-0123456789ab',
        provider: 'eventgrid',
        source: 'brigade.sh/acr',
        type: 'push',
        registry: 'contoso.azurecr.io',
        repo: 'team/web',
        tag: 'v2.3.1',
        digest: DIGEST,
        time: '2024-05-02T09:15:30.4567891Z',
        kind: 'image',
        payload: body,
      });
    });

    it('takes a chart event registry from source', () => {
      expect(onlyEvent(parse(fixture('cloudevent-chart-deleted.json')))).to.include({
        type: 'chart_delete',
        registry: 'contoso.azurecr.io',
        repo: 'charts',
      });
    });

    it('names source in the 400 when it holds a placeholder', () => {
      const body = { ...fixture('cloudevent-chart-deleted.json'), source: PLACEHOLDER_TOPIC };
      expect(rejection(() => parse(body))).to.deep.equal([
        `source ${JSON.stringify(PLACEHOLDER_TOPIC)} does not name an ACR registry (.../registries/<name>, where <name> is 5-50 letters or digits)`,
        NO_REGISTRY_MESSAGE,
      ]);
    });

    it("accepts `specVersion`, the typo in Microsoft's image_deleted example, like `specversion`", () => {
      const body = fixture('cloudevent-image-pushed.json');
      body.specVersion = body.specversion;
      delete body.specversion;
      expect(parser.matches(inbound(body))).to.equal(true);
      expect(onlyEvent(parse(body)).id).to.equal('c0ffee00-1234-4abc-8def-0123456789ab');
    });

    it('reads a batch (application/cloudevents-batch+json)', () => {
      const batch = [fixture('cloudevent-image-pushed.json'), fixture('cloudevent-chart-deleted.json')];
      const events = eventsOf(parseRequest(inbound(batch, 'application/cloudevents-batch+json')));
      expect(events.map((e) => e.type)).to.deep.equal(['push', 'chart_delete']);
    });

    it('requires specversion 1.0, id and data', () => {
      const body = fixture('cloudevent-image-pushed.json');
      body.specversion = '0.3';
      delete body.id;
      expect(rejection(() => parse(body))).to.deep.equal([
        'specversion "0.3" is not a CloudEvents version this gateway reads (1.0)',
      ]);
      body.specversion = '1.0';
      delete body.data;
      expect(rejection(() => parse(body))).to.have.members(['id is required', 'data is required']);
    });

    it('reads structured mode even when ce-* headers are also present', () => {
      const request = inbound(fixture('cloudevent-image-pushed.json'), 'application/cloudevents+json', {
        'ce-specversion': '1.0',
        'ce-type': 'Microsoft.ContainerRegistry.ImageDeleted',
        'ce-id': 'header-id',
      });
      expect(onlyEvent(parseRequest(request))).to.include({ id: 'c0ffee00-1234-4abc-8def-0123456789ab', type: 'push' });
    });
  });

  describe('CloudEvents binary mode', () => {
    it('takes the attributes from ce-* headers and the ACR data from the body', () => {
      const request = binaryRequest({});
      expect(onlyEvent(parseRequest(request))).to.deep.equal({
        id: 'bin-0001',
        provider: 'eventgrid',
        source: 'brigade.sh/acr',
        type: 'delete',
        registry: 'contoso.azurecr.io',
        repo: 'team/web',
        digest: DIGEST,
        time: '2024-05-02T10:00:00.5Z',
        kind: 'image',
        payload: request.body,
      });
    });

    it('takes a chart event registry from ce-source', () => {
      const [, , chart] = fixture('eventgrid-batch.json');
      const request = binaryRequest({ 'ce-type': 'Microsoft.ContainerRegistry.ChartPushed' }, chart.data);
      expect(onlyEvent(parseRequest(request))).to.include({ type: 'chart_push', registry: 'contoso.azurecr.io' });
    });

    it('names missing headers in the 400', () => {
      const request = binaryRequest({});
      delete (request.headers as Record<string, string>)['ce-id'];
      (request.headers as Record<string, string>)['ce-time'] = 'now';
      expect(rejection(() => parseRequest(request))).to.have.members([
        'headers.ce-id is required',
        'headers.ce-time "now" is not an RFC 3339 timestamp',
      ]);
    });

    it('ignores non-ACR types', () => {
      expect(parseRequest(binaryRequest({ 'ce-type': 'Microsoft.Storage.BlobCreated' })).kind).to.equal('ignored');
    });
  });

  describe('matches', () => {
    const matches = (request: InboundRequest) => parser.matches(request);

    it('recognises arrays of Event Grid events, bare events, ACR CloudEvents and binary mode', () => {
      expect(matches(inbound(fixture('eventgrid-batch.json')))).to.equal(true);
      expect(matches(inbound(fixture('subscription-validation.json')))).to.equal(true);
      expect(matches(inbound(fixture('eventgrid-batch.json')[0]))).to.equal(true);
      expect(matches(inbound(fixture('cloudevent-image-pushed.json')))).to.equal(true);
      expect(matches(binaryRequest({}))).to.equal(true);
    });

    it('leaves alone what is not Event Grid ACR', () => {
      expect(matches(inbound([]))).to.equal(false);
      expect(matches(inbound([{ action: 'push' }]))).to.equal(false);
      expect(matches(inbound(fixture('binary-mode-data.json')))).to.equal(false);
      expect(matches(inbound({ specversion: '1.0', type: 'harbor.artifact.pushed', data: {} }))).to.equal(false);
      expect(matches(binaryRequest({ 'ce-type': 'dev.example.other' }))).to.equal(false);
    });
  });
});

describe('registryHostOfArmId', () => {
  it('reads the registry name from an ARM resource id', () => {
    expect(
      registryHostOfArmId('/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/jolovcr'),
    ).to.equal('jolovcr.azurecr.io');
    expect(registryHostOfArmId('/x/registries/UPPER12345/')).to.equal('upper12345.azurecr.io');
  });

  it('gives nothing for placeholders, bad names and other resources', () => {
    for (const id of [
      undefined,
      PLACEHOLDER_TOPIC,
      '/x/registries/<name>',
      '/x/registries/a'.padEnd(70, 'b'),
      '/x/storageAccounts/artifacts',
    ]) {
      expect(registryHostOfArmId(id), String(id)).to.equal(undefined);
    }
  });
});
