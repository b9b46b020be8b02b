import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DistributionParser } from '../../src/providers/distribution';
import type { ParseOutcome } from '../../src/providers/types';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { eventsOf, rejection } from '../helpers/outcome';

function fixture(name: string): any {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'distribution', name), 'utf8'));
}

const parser = new DistributionParser();
const MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

function parse(body: unknown, options: TestContextOptions = {}): ParseOutcome {
  return parser.parse(inbound(body, MEDIA_TYPE), parseContext('distribution', options));
}

const envelopeOf = (...events: unknown[]) => ({ events });

describe('DistributionParser', () => {
  it('emits manifest pushes, tagged or not, and skips blob pushes in the same envelope', () => {
    const body = fixture('push-sequence.json');
    const events = eventsOf(parse(body));
    expect(events).to.deep.equal([
      {
        id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02',
        provider: 'distribution',
        source: 'brigade.sh/distribution',
        type: 'push',
        registry: 'registry.example.com:5000',
        repo: 'team/web',
        tag: 'v2.3.1',
        digest: 'sha256:7777777777777777777777777777777777777777777777777777777777777777',
        time: '2024-05-02T09:15:29.900000000Z',
        kind: 'image',
        payload: body.events[1],
      },
      {
        id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c03',
        provider: 'distribution',
        source: 'brigade.sh/distribution',
        type: 'push',
        registry: 'registry.example.com:5000',
        repo: 'team/web',
        digest: 'sha256:8888888888888888888888888888888888888888888888888888888888888888',
        time: '2024-05-02T09:15:30Z',
        kind: 'index',
        payload: body.events[2],
      },
    ]);
  });

  it('emits a manifest delete (digest only) and a tag delete (tag only), ignoring a repository delete', () => {
    const events = eventsOf(parse(fixture('deletes.json')));
    expect(events.map((e) => [e.id, e.type, e.repo, e.tag, e.digest])).to.deep.equal([
      [
        '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d01',
        'delete',
        'team/web',
        undefined,
        'sha256:7777777777777777777777777777777777777777777777777777777777777777',
      ],
      ['1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d02', 'delete', 'team/web', 'v2.3.1', undefined],
    ]);
    expect(events[0]).not.to.have.property('tag');
    expect(events[1]).not.to.have.property('digest');
  });

  it('ignores pulls unless providers.distribution.emitPulls, and blob pulls always', () => {
    expect(parse(fixture('pulls.json'))).to.deep.equal({
      kind: 'ignored',
      reason: 'no manifest event to forward: manifest pull (providers.distribution.emitPulls is off); blob pull',
    });
    const events = eventsOf(parse(fixture('pulls.json'), { options: { emitPulls: true } }));
    expect(events.map((e) => [e.type, e.tag])).to.deep.equal([['pull', 'v2.3.1']]);
  });

  it('ignores blob mounts', () => {
    expect(parse(fixture('blob-mount.json'))).to.deep.equal({
      kind: 'ignored',
      reason: 'no manifest event to forward: blob mount',
    });
  });

  it('tells blobs from manifests by url first, then by media type', () => {
    const [blob, manifest] = fixture('push-sequence.json').events;
    const urlOnly = { ...blob, target: { ...blob.target, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' } };
    const mediaTypeOnly = { ...blob, target: { ...blob.target, url: undefined } };
    expect(parse(envelopeOf(urlOnly)).kind).to.equal('ignored');
    expect(parse(envelopeOf(mediaTypeOnly)).kind).to.equal('ignored');
    const noUrl = { ...manifest, target: { ...manifest.target, url: undefined } };
    expect(eventsOf(parse(envelopeOf(noUrl)))[0].type).to.equal('push');
  });

  it('ignores unknown actions and says so', () => {
    const [, manifest] = fixture('push-sequence.json').events;
    expect(parse(envelopeOf({ ...manifest, action: 'copy' }))).to.deep.equal({
      kind: 'ignored',
      reason: 'no manifest event to forward: action "copy"',
    });
  });

  it('lower-cases the host, keeps its port and maps it through the aliases', () => {
    const events = eventsOf(
      parse(fixture('push-sequence.json'), { aliases: { 'registry.example.com:5000': 'registry.example.com' } }),
    );
    expect(events.map((e) => e.registry)).to.deep.equal(['registry.example.com', 'registry.example.com']);
  });

  it('falls back when request.host is missing, naming the event in the 400', () => {
    const [, manifest] = fixture('push-sequence.json').events;
    delete manifest.request;
    const body = envelopeOf(manifest);
    expect(rejection(() => parse(body))).to.deep.equal([
      'events[0].request.host is missing, so the registry is unknown: scope the token to exactly one ' +
        'registry or set defaultRegistry.distribution in the config',
    ]);
    expect(eventsOf(parse(body, { fallback: 'registry.example.com' }))[0].registry).to.equal('registry.example.com');
  });

  it('uses the receipt time when timestamp is missing', () => {
    const [, manifest] = fixture('push-sequence.json').events;
    delete manifest.timestamp;
    const before = Date.now();
    expect(Date.parse(eventsOf(parse(envelopeOf(manifest)))[0].time)).to.be.within(before - 1000, Date.now() + 1000);
  });

  it('lists every malformed field of forwarded events at once', () => {
    const [blob, manifest] = fixture('push-sequence.json').events;
    const broken = {
      ...manifest,
      id: undefined,
      target: { ...manifest.target, repository: 'Team/Web', digest: 'md5' },
    };
    expect(rejection(() => parse(envelopeOf(blob, broken, { target: {} })))).to.have.members([
      'events[1].id is required',
      'events[1].target.repository "Team/Web" is not a repository name',
      'events[1].target.digest "md5" is not a digest (algorithm:hex)',
      'events[2].action is required',
    ]);
  });

  it('refuses envelopes that are not {"events": [objects]}', () => {
    expect(rejection(() => parse({ events: [] }))).to.deep.equal([
      'events is empty: a notification carries at least one event',
    ]);
    expect(rejection(() => parse({ events: ['x'] }))).to.deep.equal(['events[0] must be an object, got a string']);
    expect(rejection(() => parse({}))).to.deep.equal(['events is required']);
    expect(rejection(() => parse([]))[0]).to.match(/^body must be a JSON object/);
  });

  it('matches only an object with an events array', () => {
    expect(parser.matches(inbound(fixture('deletes.json')))).to.equal(true);
    expect(parser.matches(inbound({ events: {} }))).to.equal(false);
    expect(parser.matches(inbound([fixture('deletes.json')]))).to.equal(false);
  });
});
