import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EventType } from '../../src/model/event';
import { HarborParser, hostOfResourceUrl } from '../../src/providers/harbor';
import type { ParseOutcome } from '../../src/providers/types';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { eventsOf, onlyEvent, rejection } from '../helpers/outcome';

function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'harbor', name), 'utf8'));
}

const parser = new HarborParser();

function parse(body: unknown, options: TestContextOptions = {}): ParseOutcome {
  const contentType =
    typeof body === 'object' && body !== null && 'specversion' in body
      ? 'application/cloudevents+json'
      : 'application/json';
  return parser.parse(inbound(body, contentType), parseContext('harbor', options));
}

const DIGEST = 'sha256:1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001';
const ONE_REGISTRY: TestContextOptions = { scopeRegistries: ['harbor.example.com'] };

describe('HarborParser', () => {
  describe('Default format', () => {
    it('normalises a tagged push, keeping the port of the resource_url host', () => {
      const body = fixture('default-push-tagged.json');
      const event = onlyEvent(parse(body));
      expect(event).to.deep.equal({
        id: event.id,
        provider: 'harbor',
        source: 'brigade.sh/harbor',
        type: 'push',
        registry: 'harbor.example.com:8443',
        repo: 'platform/gateway',
        tag: 'v1.0.0',
        digest: DIGEST,
        time: '2024-05-02T09:15:30Z',
        payload: body,
      });
      expect(event.id).to.match(/^harbor-[0-9a-f]{32}$/);
    });

    const defaultTypes: [string, EventType, string][] = [
      ['PUSH_ARTIFACT', 'push', 'default-push-tagged.json'],
      ['PULL_ARTIFACT', 'pull', 'default-push-tagged.json'],
      ['DELETE_ARTIFACT', 'delete', 'default-push-tagged.json'],
      ['UPLOAD_CHART', 'chart_push', 'default-upload-chart.json'],
      ['DELETE_CHART', 'chart_delete', 'default-upload-chart.json'],
      ['DOWNLOAD_CHART', 'chart_pull', 'default-upload-chart.json'],
      ['SCANNING_COMPLETED', 'scan_completed', 'default-scan-completed.json'],
      ['SCANNING_FAILED', 'scan_failed', 'default-scan-completed.json'],
      ['SCANNING_STOPPED', 'scan_stopped', 'default-scan-completed.json'],
      ['QUOTA_EXCEED', 'quota_exceeded', 'default-quota-exceed.json'],
      ['QUOTA_WARNING', 'quota_warning', 'default-quota-exceed.json'],
      ['REPLICATION', 'replication', 'default-replication.json'],
      ['TAG_RETENTION', 'tag_retention', 'default-tag-retention.json'],
      ['pushImage', 'push', 'v1-push-image.json'],
      ['pullImage', 'pull', 'v1-push-image.json'],
      ['deleteImage', 'delete', 'v1-push-image.json'],
      ['uploadChart', 'chart_push', 'default-upload-chart.json'],
      ['deleteChart', 'chart_delete', 'default-upload-chart.json'],
      ['downloadChart', 'chart_pull', 'default-upload-chart.json'],
      ['scanningCompleted', 'scan_completed', 'default-scan-completed.json'],
      ['scanningFailed', 'scan_failed', 'default-scan-completed.json'],
      ['projectQuota', 'quota_exceeded', 'default-quota-exceed.json'],
    ];
    for (const [harborType, type, file] of defaultTypes) {
      it(`maps ${harborType} to ${type}`, () => {
        const event = onlyEvent(parse({ ...fixture(file), type: harborType }, ONE_REGISTRY));
        expect(event.type).to.equal(type);
      });
    }

    it('ignores types outside the vocabulary', () => {
      expect(parse({ ...fixture('default-push-tagged.json'), type: 'REPLICATION_STARTED' })).to.deep.equal({
        kind: 'ignored',
        reason: 'Harbor event type "REPLICATION_STARTED" is not one the gateway forwards',
      });
      expect(parse({ ...fixture('default-push-tagged.json'), type: 'constructor' }).kind).to.equal('ignored');
    });

    it('omits a tag that holds the digest (untagged artifacts)', () => {
      const event = onlyEvent(parse(fixture('default-push-untagged.json')));
      expect(event).not.to.have.property('tag');
      expect(event.digest).to.equal('sha256:aa11bb22cc33dd44ee55ff6600778899aabbccddeeff00112233445566778899');
    });

    it('omits a tag that is a digest other than `digest`, and takes it as the digest when there is none', () => {
      const body = fixture('default-push-tagged.json');
      const other = 'sha256:9999999999999999999999999999999999999999999999999999999999999999';
      body.event_data.resources[0].tag = other;
      expect(onlyEvent(parse(body)))
        .to.include({ digest: DIGEST })
        .and.not.have.property('tag');
      delete body.event_data.resources[0].digest;
      expect(onlyEvent(parse(body)))
        .to.include({ digest: other })
        .and.not.have.property('tag');
    });

    it('reads chart URLs, which carry a scheme, keeping their port', () => {
      const event = onlyEvent(parse(fixture('default-upload-chart.json')));
      expect(event).to.include({
        type: 'chart_push',
        registry: 'charts.example.com:4443',
        repo: 'platform/gateway',
        tag: '2.4.0',
      });
      expect(event).not.to.have.property('digest');
    });

    it('emits one event per resource, each with its own stable id, lower-casing the host', () => {
      const body = fixture('default-push-two-resources.json');
      const events = eventsOf(parse(body));
      expect(events.map((e) => [e.registry, e.tag])).to.deep.equal([
        ['harbor.example.com', 'latest'],
        ['harbor.example.com', 'v1.1.0'],
      ]);
      expect(events[0].id).not.to.equal(events[1].id);
      expect(eventsOf(parse(fixture('default-push-two-resources.json'))).map((e) => e.id)).to.deep.equal(
        events.map((e) => e.id),
      );
    });

    it('maps the registry through the aliases', () => {
      const event = onlyEvent(
        parse(fixture('default-push-tagged.json'), { aliases: { 'harbor.example.com:8443': 'harbor.example.com' } }),
      );
      expect(event.registry).to.equal('harbor.example.com');
    });

    describe('derived id', () => {
      const idOf = (body: unknown) => onlyEvent(parse(body)).id;

      it('is the same for the same body sent twice', () => {
        expect(idOf(fixture('default-push-tagged.json'))).to.equal(idOf(fixture('default-push-tagged.json')));
      });

      it('does not depend on key order or fields outside its inputs', () => {
        const body = fixture('default-push-tagged.json');
        const reordered = {
          event_data: { ...body.event_data, custom_attributes: { x: '1' } },
          operator: body.operator,
          occur_at: body.occur_at,
          type: body.type,
        };
        expect(idOf(reordered)).to.equal(idOf(body));
      });

      for (const [what, change] of [
        ['occur_at', (b: any) => (b.occur_at += 1)],
        ['type', (b: any) => (b.type = 'DELETE_ARTIFACT')],
        ['repository', (b: any) => (b.event_data.repository.repo_full_name = 'platform/other')],
        ['digest', (b: any) => (b.event_data.resources[0].digest = 'sha256:' + 'f'.repeat(64))],
        ['tag', (b: any) => (b.event_data.resources[0].tag = 'v1.0.1')],
        ['operator', (b: any) => (b.operator = 'someone-else')],
      ] as const) {
        it(`changes with ${what}`, () => {
          const changed = fixture('default-push-tagged.json');
          change(changed);
          expect(idOf(changed)).not.to.equal(idOf(fixture('default-push-tagged.json')));
        });
      }

      it('tells apart replication events of the same second by their policy data', () => {
        const a = fixture('default-replication.json');
        const b = fixture('default-replication.json');
        b.event_data.replication.dest_resource.namespace = 'other';
        expect(idOf(a)).to.equal(idOf(fixture('default-replication.json')));
        expect(idOf(a)).not.to.equal(idOf(b));
      });
    });

    it('uses the receipt time when occur_at is missing, and still derives a stable id', () => {
      const body = fixture('default-push-tagged.json');
      delete body.occur_at;
      const before = Date.now();
      const event = onlyEvent(parse(body));
      expect(Date.parse(event.time)).to.be.within(before - 1000, Date.now() + 1000);
      expect(event.id).to.equal(onlyEvent(parse(body)).id);
    });

    it('takes operator as optional', () => {
      const body = fixture('default-push-tagged.json');
      delete body.operator;
      expect(onlyEvent(parse(body)).type).to.equal('push');
    });

    describe('events without a resource host', () => {
      it('quota: 400 naming the missing host and how to supply a registry', () => {
        expect(rejection(() => parse(fixture('default-quota-exceed.json')))).to.deep.equal([
          'host of event_data.resources[0].resource_url is missing, so the registry is unknown: ' +
            'scope the token to exactly one registry or set defaultRegistry.harbor in the config',
        ]);
      });

      it('quota: the token scope or defaultRegistry.harbor supplies the registry; repo and digest kept', () => {
        expect(onlyEvent(parse(fixture('default-quota-exceed.json'), ONE_REGISTRY))).to.include({
          type: 'quota_exceeded',
          registry: 'harbor.example.com',
          repo: 'platform/gateway',
          digest: 'sha256:2222222222222222222222222222222222222222222222222222222222222222',
        });
        const viaDefault = onlyEvent(parse(fixture('default-quota-exceed.json'), { fallback: 'Harbor.Internal' }));
        expect(viaDefault.registry).to.equal('harbor.internal');
      });

      it('a resource_url with no host part (`app:latest`, `library/app:latest`) falls back too', () => {
        for (const url of ['some-image-ref:latest', 'library/app:latest']) {
          const body = fixture('default-push-tagged.json');
          body.event_data.resources[0].resource_url = url;
          expect(rejection(() => parse(body))[0], url).to.match(
            /^host of event_data\.resources\[0\]\.resource_url is missing, so the registry is unknown/,
          );
          expect(onlyEvent(parse(body, ONE_REGISTRY)).registry, url).to.equal('harbor.example.com');
        }
      });

      it('replication and retention take harbor_hostname and carry no repository', () => {
        for (const [file, type] of [
          ['default-replication.json', 'replication'],
          ['default-tag-retention.json', 'tag_retention'],
        ] as const) {
          const event = onlyEvent(parse(fixture(file)));
          expect(event).to.include({ type, registry: 'harbor.example.com', time: event.time });
          expect(event).not.to.have.any.keys('repo', 'tag', 'digest');
        }
      });

      it('replication without harbor_hostname names that field in the 400', () => {
        const body = fixture('default-replication.json');
        delete body.event_data.replication.harbor_hostname;
        expect(rejection(() => parse(body))).to.deep.equal([
          'event_data.replication.harbor_hostname is missing, so the registry is unknown: ' +
            'scope the token to exactly one registry or set defaultRegistry.harbor in the config',
        ]);
      });
    });

    it('refuses a masked host precisely', () => {
      const body = fixture('default-push-tagged.json');
      body.event_data.resources[0].resource_url = 'harbor..../platform/gateway:v1.0.0';
      expect(rejection(() => parse(body))).to.deep.equal([
        'host of event_data.resources[0].resource_url "harbor...." is not a registry host name',
      ]);
    });

    it('lists every malformed field at once', () => {
      const body = fixture('default-push-tagged.json');
      body.occur_at = 'noon';
      body.event_data.repository.repo_full_name = 'Platform/Gateway';
      body.event_data.resources[0].digest = 'sha256:***';
      body.event_data.resources[0].tag = 'v1 beta';
      expect(rejection(() => parse(body))).to.have.members([
        'occur_at must be a number, got a string',
        'event_data.repository.repo_full_name "Platform/Gateway" is not a repository name',
        'event_data.resources[0].digest "sha256:***" is not a digest (algorithm:hex)',
        'event_data.resources[0].tag "v1 beta" is not a tag',
      ]);
    });

    it('requires the artifact and its repository for artifact events', () => {
      const body = fixture('default-push-tagged.json');
      body.event_data.resources = [];
      delete body.event_data.repository;
      expect(rejection(() => parse(body))).to.have.members([
        'event_data.repository is required',
        'event_data.resources must list the artifact the event is about',
      ]);
    });

    it('requires only repo_full_name of the repository', () => {
      const body = fixture('default-push-tagged.json');
      body.event_data.repository = { name: 'gateway' };
      expect(rejection(() => parse(body))).to.deep.equal(['event_data.repository.repo_full_name is required']);
    });

    it('requires type and event_data', () => {
      expect(rejection(() => parse({ occur_at: 1 }))).to.deep.equal(['type is required', 'event_data is required']);
      expect(rejection(() => parse({ type: 'PUSH_ARTIFACT' }))).to.deep.equal(['event_data is required']);
    });

    it('refuses an occur_at that is no time', () => {
      const body = { ...fixture('default-push-tagged.json'), occur_at: 1e300 };
      expect(rejection(() => parse(body))).to.deep.equal(['occur_at 1e+300 is not a time in unix seconds']);
    });

    it('refuses a body that is not an object', () => {
      expect(rejection(() => parse('PUSH_ARTIFACT'))[0]).to.match(/^body must be a JSON object/);
    });
  });

  describe('CloudEvents format', () => {
    it('normalises an artifact push with the CloudEvent id and time', () => {
      const body = fixture('cloudevents-artifact-pushed.json');
      expect(onlyEvent(parse(body))).to.deep.equal({
        id: '0b7c5a3e-91d2-4f6a-8e0c-1a2b3c4d5e6f',
        provider: 'harbor',
        source: 'brigade.sh/harbor',
        type: 'push',
        registry: 'harbor.example.com:8443',
        repo: 'platform/gateway',
        tag: 'v1.0.0',
        digest: DIGEST,
        time: '2024-05-02T09:15:30Z',
        payload: body,
      });
    });

    const cloudEventTypes: [string, EventType, string][] = [
      ['harbor.artifact.pushed', 'push', 'default-push-tagged.json'],
      ['harbor.artifact.pulled', 'pull', 'default-push-tagged.json'],
      ['harbor.artifact.deleted', 'delete', 'default-push-tagged.json'],
      ['harbor.scan.completed', 'scan_completed', 'default-scan-completed.json'],
      ['harbor.scan.failed', 'scan_failed', 'default-scan-completed.json'],
      ['harbor.scan.stopped', 'scan_stopped', 'default-scan-completed.json'],
      ['harbor.quota.exceeded', 'quota_exceeded', 'default-quota-exceed.json'],
      ['harbor.quota.warned', 'quota_warning', 'default-quota-exceed.json'],
      ['harbor.replication.status.changed', 'replication', 'default-replication.json'],
      ['harbor.tag_retention.finished', 'tag_retention', 'default-tag-retention.json'],
    ];
    for (const [ceType, type, file] of cloudEventTypes) {
      it(`maps ${ceType} to ${type}`, () => {
        const body = {
          specversion: '1.0',
          id: 'ce-1',
          source: '/projects/3/webhook/policies/4',
          type: ceType,
          time: '2024-05-02T09:15:30Z',
          data: fixture(file).event_data,
        };
        expect(onlyEvent(parse(body, ONE_REGISTRY))).to.include({ type, id: 'ce-1' });
      });
    }

    it('ignores harbor.* types outside the vocabulary', () => {
      const body = { ...fixture('cloudevents-artifact-pushed.json'), type: 'harbor.chart.uploaded' };
      expect(parse(body)).to.deep.equal({
        kind: 'ignored',
        reason: 'Harbor CloudEvent type "harbor.chart.uploaded" is not one the gateway forwards',
      });
    });

    it('suffixes the id per resource when there are several, the same on every delivery', () => {
      const events = eventsOf(parse(fixture('cloudevents-two-resources.json')));
      expect(events.map((e) => [e.id, e.type, e.tag])).to.deep.equal([
        ['5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a-r0', 'delete', 'v0.8.0'],
        ['5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a-r1', 'delete', 'v0.9.0'],
      ]);
    });

    it('uses the receipt time when time is missing', () => {
      const body = fixture('cloudevents-artifact-pushed.json');
      delete body.time;
      const before = Date.now();
      expect(Date.parse(onlyEvent(parse(body)).time)).to.be.within(before - 1000, Date.now() + 1000);
    });

    it('requires id, data and specversion 1.0, listing every problem', () => {
      const body = fixture('cloudevents-artifact-pushed.json');
      delete body.id;
      delete body.data;
      body.specversion = '0.3';
      body.time = '2024-05-02 09:15';
      expect(rejection(() => parse(body))).to.have.members([
        'specversion "0.3" is not a CloudEvents version this gateway reads (1.0)',
        'id is required',
        'time "2024-05-02 09:15" is not an RFC 3339 timestamp',
        'data is required',
      ]);
    });
  });

  describe('matches', () => {
    it('recognises both formats and nothing else', () => {
      const matches = (body: unknown) => parser.matches(inbound(body));
      expect(matches(fixture('default-push-tagged.json'))).to.equal(true);
      expect(matches(fixture('cloudevents-artifact-pushed.json'))).to.equal(true);
      expect(matches({ specversion: '1.0', type: 'Microsoft.ContainerRegistry.ImagePushed', data: {} })).to.equal(
        false,
      );
      expect(matches({ type: 'PUSH_ARTIFACT' })).to.equal(false);
      expect(matches([fixture('default-push-tagged.json')])).to.equal(false);
    });
  });
});

describe('hostOfResourceUrl', () => {
  const cases: [string, string | undefined][] = [
    ['harbor.example.com/library/app:v1', 'harbor.example.com'],
    ['harbor.example.com:8443/library/app@sha256:abc', 'harbor.example.com:8443'],
    ['localhost/library/app:v1', 'localhost'],
    ['10.0.0.1:5000/library/app:v1', '10.0.0.1:5000'],
    ['http://harbor.domain.com:5002/chartrepo/p/charts/c-0.1.0.tgz', 'harbor.domain.com:5002'],
    ['https://harbor/chartrepo/p/charts/c-0.1.0.tgz', 'harbor'],
    ['library/app:v1', undefined],
    ['some-image-ref:latest', undefined],
  ];
  for (const [url, host] of cases) {
    it(`${url} → ${host ?? 'no host'}`, () => {
      expect(hostOfResourceUrl(url)).to.equal(host);
    });
  }
});
