import { expect } from 'chai';
import Ajv from 'ajv';
import {
  brigadeLabelValueProblem,
  brigadeMapKeyProblem,
  brigadeSourceProblem,
  LONG_TITLE_MAX_LENGTH,
  SHORT_TITLE_MAX_LENGTH,
  toBrigadeEvent,
} from '../../src/emitters/brigade-event';
import { DeliveryError } from '../../src/emitters/types';
import type { RegistryEvent } from '../../src/model/event';
import { createBrigadeEventValidator } from '../fakes/brigade-api';
import { readSchema } from '../helpers/corpus';

const DIGEST = 'sha256:' + 'a1b2c3d4e5f6'.repeat(5) + 'abcd';
const LONG_REPO = Array.from({ length: 30 }, (_, i) => `team-${i}/component`).join('/');

function registryEvent(overrides: Partial<RegistryEvent>): RegistryEvent {
  return {
    id: 'evt-1',
    provider: 'acr',
    source: 'brigade.sh/acr',
    type: 'push',
    registry: 'myregistry.azurecr.io',
    time: '2024-05-01T10:00:00Z',
    payload: { action: 'push' },
    ...overrides,
  };
}

/** A representative spread of what the providers produce, edge cases included. */
const REPRESENTATIVE: Record<string, RegistryEvent> = {
  'push with tag and digest': registryEvent({ repo: 'example-repo', tag: 'v1', digest: DIGEST }),
  'delete with digest only': registryEvent({ type: 'delete', repo: 'example-repo', digest: DIGEST }),
  'chart push': registryEvent({ type: 'chart_push', repo: 'mychart', tag: '1.0.0' }),
  'chart delete': registryEvent({ type: 'chart_delete', repo: 'mychart', tag: '1.0.0' }),
  'harbor scan without repo': registryEvent({
    provider: 'harbor',
    source: 'brigade.sh/harbor',
    type: 'scan_completed',
    registry: 'harbor.example.com',
    digest: DIGEST,
    payload: { type: 'SCANNING_COMPLETED', event_data: { resources: [] } },
  }),
  'harbor quota without repo or digest': registryEvent({
    provider: 'harbor',
    source: 'brigade.sh/harbor',
    type: 'quota_exceeded',
    registry: 'harbor.example.com',
  }),
  'tag with +': registryEvent({ repo: 'example-repo', tag: 'v1.0.0+build.5', digest: DIGEST }),
  'very long repo': registryEvent({ repo: LONG_REPO, tag: 'v1', digest: DIGEST }),
  'signature of an index': registryEvent({
    type: 'signed',
    repo: 'example-repo',
    tag: `sha256-${'ab'.repeat(32)}.sig`,
    kind: 'signature',
    subject: { digest: `sha256:${'ab'.repeat(32)}`, repo: 'example-repo', tag: 'v1' },
  }),
  'index that moved its tag': registryEvent({
    repo: 'example-repo',
    tag: 'v1',
    digest: DIGEST,
    kind: 'index',
    platforms: ['linux/amd64', 'linux/arm64/v8'],
    tagChange: 'moved',
    previousDigest: `sha256:${'cd'.repeat(32)}`,
  }),
  'distribution with a registry port': registryEvent({
    provider: 'distribution',
    source: 'brigade.sh/distribution',
    registry: 'registry.local:5000',
    repo: 'library/nginx',
    tag: 'latest',
  }),
};

/** The body the SDK posts: it adds apiVersion and kind to the event it is given. */
function asPosted(event: object): object {
  return { ...event, apiVersion: 'brigade.sh/v2', kind: 'Event' };
}

const codePoints = (text: string | undefined) => Array.from(text ?? '').length;

describe('toBrigadeEvent', () => {
  it('labels the kind, the tag change, the subject and the platforms with values Brigade takes', () => {
    expect(toBrigadeEvent(REPRESENTATIVE['index that moved its tag']).event.labels).to.deep.equal({
      repo: 'example-repo',
      tag: 'v1',
      digest: DIGEST,
      kind: 'index',
      change: 'moved',
      'previous-digest': `sha256:${'cd'.repeat(32)}`,
      platforms: 'linux/amd64.linux/arm64/v8',
    });
    const signed = toBrigadeEvent(REPRESENTATIVE['signature of an index']);
    expect(signed.droppedLabels).to.deep.equal([]);
    expect(signed.event).to.include({ type: 'signed' });
    expect(signed.event.labels).to.include({
      kind: 'signature',
      'subject-digest': `sha256:${'ab'.repeat(32)}`,
      'subject-tag': 'v1',
    });
  });

  let brigadeProblems: (body: unknown) => string[];

  before(function () {
    brigadeProblems = createBrigadeEventValidator();
  });

  for (const [name, input] of Object.entries(REPRESENTATIVE)) {
    describe(name, () => {
      it('passes Brigade’s event schema', () => {
        const { event } = toBrigadeEvent(input);
        expect(brigadeProblems(asPosted(event))).to.deep.equal([]);
      });

      it('has exactly the registry qualifier', () => {
        const { event } = toBrigadeEvent(input);
        expect(event.qualifiers).to.deep.equal({ registry: input.registry });
      });

      it('keeps titles within Brigade’s limits', () => {
        const { event } = toBrigadeEvent(input);
        expect(codePoints(event.shortTitle)).to.be.within(1, SHORT_TITLE_MAX_LENGTH);
        expect(codePoints(event.longTitle)).to.be.within(1, LONG_TITLE_MAX_LENGTH);
        expect(event.shortTitle!.startsWith(`${input.type} `)).to.equal(true);
        expect(event.longTitle!.startsWith(`${input.type} `)).to.equal(true);
      });

      it('carries source, type and the original payload as a JSON string', () => {
        const { event } = toBrigadeEvent(input);
        expect(event.source).to.equal(input.source);
        expect(event.type).to.equal(input.type);
        expect(JSON.parse(event.payload!)).to.deep.equal(input.payload);
      });
    });
  }

  it('labels repo, tag and digest when present', () => {
    const { event, droppedLabels } = toBrigadeEvent(REPRESENTATIVE['push with tag and digest']);
    expect(event.labels).to.deep.equal({ repo: 'example-repo', tag: 'v1', digest: DIGEST });
    expect(droppedLabels).to.deep.equal([]);
  });

  it('omits absent labels rather than sending empty ones', () => {
    expect(toBrigadeEvent(REPRESENTATIVE['delete with digest only']).event.labels).to.deep.equal({
      repo: 'example-repo',
      digest: DIGEST,
    });
    expect(toBrigadeEvent(REPRESENTATIVE['harbor quota without repo or digest']).event.labels).to.deep.equal({});
  });

  it('titles a tagged push as in the contract', () => {
    const { event } = toBrigadeEvent(REPRESENTATIVE['push with tag and digest']);
    expect(event.shortTitle).to.equal('push example-repo:v1');
    // The full digest would pass 100 characters, so the title names it by its first 12.
    expect(event.longTitle).to.equal('push myregistry.azurecr.io/example-repo:v1 (sha256:a1b2c3d4e5f6)');
  });

  it('keeps the full digest in the long title when it fits', () => {
    const { event } = toBrigadeEvent(registryEvent({ registry: 'r.io', repo: 'app', tag: 'v1', digest: DIGEST }));
    expect(event.longTitle).to.equal(`push r.io/app:v1 (${DIGEST})`);
  });

  it('titles a digest-only delete by repo@digest', () => {
    const { event } = toBrigadeEvent(REPRESENTATIVE['delete with digest only']);
    expect(event.shortTitle).to.equal('delete example-repo@sha256:a1b2c3d4e5f6');
    expect(event.longTitle).to.equal('delete myregistry.azurecr.io/example-repo@sha256:a1b2c3d4e5f6');
  });

  it('titles an event without a repository by its registry', () => {
    const { event } = toBrigadeEvent(REPRESENTATIVE['harbor quota without repo or digest']);
    expect(event.shortTitle).to.equal('quota_exceeded harbor.example.com');
    expect(event.longTitle).to.equal('quota_exceeded harbor.example.com');
  });

  it('shortens a very long repo from its start, keeping the image name and tag', () => {
    const { event } = toBrigadeEvent(REPRESENTATIVE['very long repo']);
    expect(event.shortTitle).to.match(/^push ….*\/team-29\/component:v1$/);
    expect(event.longTitle).to.match(/^push ….*\/team-29\/component:v1 \(sha256:a1b2c3d4e5f6\)$/);
    expect(codePoints(event.shortTitle)).to.equal(SHORT_TITLE_MAX_LENGTH);
    expect(codePoints(event.longTitle)).to.equal(LONG_TITLE_MAX_LENGTH);
  });

  it('drops only a tag Brigade would refuse, and says which and why', () => {
    const { event, droppedLabels } = toBrigadeEvent(REPRESENTATIVE['tag with +']);
    expect(event.labels).to.deep.equal({ repo: 'example-repo', digest: DIGEST });
    expect(droppedLabels).to.have.length(1);
    expect(droppedLabels[0].key).to.equal('tag');
    expect(droppedLabels[0].value).to.equal('v1.0.0+build.5');
    expect(droppedLabels[0].problem).to.include('"+"');
    // The title is free text: the tag still shows there.
    expect(event.shortTitle).to.equal('push example-repo:v1.0.0+build.5');
  });

  it('drops a repo label over 255 characters', () => {
    expect(LONG_REPO.length).to.be.greaterThan(255);
    const { event, droppedLabels } = toBrigadeEvent(REPRESENTATIVE['very long repo']);
    expect(event.labels).to.deep.equal({ tag: 'v1', digest: DIGEST });
    expect(droppedLabels.map((d) => d.key)).to.deep.equal(['repo']);
    expect(droppedLabels[0].problem).to.include('255');
  });

  it('leaves payload out when the event has none', () => {
    const { event } = toBrigadeEvent(registryEvent({ payload: undefined }));
    expect(event).to.not.have.property('payload');
  });

  describe('events that can never be sent', () => {
    const cases: [string, Partial<RegistryEvent>][] = [
      ['a registry qualifier Brigade refuses', { registry: '[fd00::1]:5000' }],
      ['a source too short', { source: 'acr' }],
      ['a source with characters Brigade refuses', { source: 'brigade.sh/acr prod' }],
      ['a type Brigade refuses', { type: 'image pushed' as RegistryEvent['type'] }],
    ];
    for (const [name, overrides] of cases) {
      it(`fail permanently for ${name}`, () => {
        let thrown: unknown;
        try {
          toBrigadeEvent(registryEvent({ repo: 'example-repo', tag: 'v1', ...overrides }));
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(DeliveryError);
        expect((thrown as DeliveryError).retryable).to.equal(false);
      });
    }
  });
});

/**
 * The runtime check is hand-written (no schema compiler in the delivery path); these pin it to
 * the schema's own definitions, value by value.
 */
describe('Brigade runtime checks agree with Brigade’s schema', () => {
  const ajv = new Ajv({ strict: false });
  let labelValid: (value: unknown) => boolean;
  let sourceValid: (value: unknown) => boolean;
  let keyPattern: RegExp;

  before(function () {
    const common = readSchema('brigade', 'common.json') as { definitions: Record<string, object> };
    labelValid = ajv.compile(common.definitions.label) as (value: unknown) => boolean;
    sourceValid = ajv.compile(common.definitions.url) as (value: unknown) => boolean;
    const event = readSchema('brigade', 'event.json') as {
      properties: { labels: { patternProperties: Record<string, unknown> } };
    };
    keyPattern = new RegExp(Object.keys(event.properties.labels.patternProperties)[0], 'u');
  });

  const values = [
    '',
    'a',
    'v1',
    'v1.0.0+build.5',
    'latest',
    'library/nginx',
    'registry.local:5000',
    DIGEST,
    'sha256:ABC',
    'a?b=c*d',
    'user@host',
    'has space',
    'tab\there',
    'ünïcode',
    'trailing\n',
    'x'.repeat(255),
    'x'.repeat(256),
    'brigade.sh/acr',
    'abcd',
    'abcde',
    'x'.repeat(63),
    'x'.repeat(64),
    'semi;colon',
    'pct%20',
  ];

  for (const value of values) {
    const shown = JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value);
    it(`label value ${shown}`, () => {
      expect(brigadeLabelValueProblem(value) === undefined).to.equal(labelValid(value));
    });
    it(`source ${shown}`, () => {
      expect(brigadeSourceProblem(value) === undefined).to.equal(sourceValid(value));
    });
  }

  for (const key of ['repo', 'tag', 'digest', 'registry', 'a', 'a-', '-a', '1a', 'a1', 'a-b', 'a_b', 'ab.c']) {
    it(`key ${JSON.stringify(key)}`, () => {
      expect(brigadeMapKeyProblem(key) === undefined).to.equal(keyPattern.test(key));
    });
  }
});
