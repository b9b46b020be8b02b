import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { toBrigadeEvent } from '../../src/emitters/brigade-event';
import { KnativeEmitter } from '../../src/emitters/knative';
import { parseConfig } from '../../src/gateway';
import { createBrigadeEventValidator } from '../fakes/brigade-api';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { startEdge, type Edge } from '../helpers/edge';
import { post } from '../helpers/http';

import { githubHeaders } from './corpus-registries';

/**
 * The six registries' sample payloads, posted to the HTTP edge as their senders post them, make
 * events that pass Brigade's event schema and reach a Knative broker as valid CloudEvents.
 */

const TOKEN = 'delivery-test-token-5b4a3c2d1e';
const PAYLOADS = path.resolve(__dirname, '..', '..', 'examples', 'payloads');

const SAMPLES: { provider: string; file: string; headers?: Record<string, string>; types: string[] }[] = [
  { provider: 'ghcr', file: 'ghcr-package-published.json', headers: githubHeaders('package'), types: ['push'] },
  { provider: 'dockerhub', file: 'dockerhub-push.json', types: ['push'] },
  { provider: 'quay', file: 'quay-repo-push.json', types: ['push', 'push'] },
  { provider: 'artifactory', file: 'artifactory-docker-pushed.json', types: ['push'] },
  { provider: 'gar', file: 'gar-pubsub-push.json', types: ['push'] },
  { provider: 'ecr', file: 'ecr-image-push.json', types: ['push'] },
];

function asPosted(event: object): object {
  return { ...event, apiVersion: 'brigade.sh/v2', kind: 'Event' };
}

describe('six more registries: from webhook to Brigade and Knative', () => {
  let edge: Edge;
  let broker: FakeKnativeBroker;
  let brigadeProblems: (body: unknown) => string[];

  before(async function () {
    brigadeProblems = createBrigadeEventValidator();
    edge = await startEdge({ config: parseConfig(`tokens: {ci: ${TOKEN}}`) });
    broker = await FakeKnativeBroker.start({ namespace: 'registry-events', broker: 'default' });
  });

  after(async () => {
    await edge?.close();
    await broker?.close();
  });

  for (const sample of SAMPLES) {
    it(`${sample.provider}: ${sample.file} is accepted on /events and /events/${sample.provider}`, async () => {
      const body = readFileSync(path.join(PAYLOADS, sample.file), 'utf8');
      const headers = { Authorization: `Bearer ${TOKEN}`, ...sample.headers };
      for (const route of ['/events', `/events/${sample.provider}`]) {
        const res = await post(`${edge.url}${route}`, body, headers);
        expect(res.status, JSON.stringify(res.data)).to.equal(202);
        expect(res.data.events.map((e: { type: string }) => e.type)).to.deep.equal(sample.types);
      }
      const events = edge.intake.received.filter((e) => e.provider === sample.provider);
      expect(events.length).to.equal(sample.types.length * 2);

      for (const event of events.slice(0, sample.types.length)) {
        expect(event.source).to.equal(`brigade.sh/${sample.provider}`);
        const { event: brigadeEvent } = toBrigadeEvent(event);
        expect(brigadeProblems(asPosted(brigadeEvent))).to.deep.equal([]);
        expect(brigadeEvent.qualifiers).to.deep.equal({ registry: event.registry });

        for (const mode of ['binary', 'structured'] as const) {
          const emitter = new KnativeEmitter({ brokerURL: broker.url, mode });
          await emitter.deliver(event);
          await emitter.close();
          const received = broker.received[broker.received.length - 1];
          expect(received.mode).to.equal(mode);
          expect(received.attributes).to.include({
            id: event.id,
            source: `brigade.sh/${sample.provider}`,
            type: `sh.brigade.${sample.provider}.${event.type}`,
            registry: event.registry,
            repo: event.repo,
          });
        }
      }
    });
  }
});
