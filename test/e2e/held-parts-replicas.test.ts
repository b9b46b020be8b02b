import { expect } from 'chai';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { BRIGADE_TOKEN, startReplicas, TOKEN } from '../helpers/chaos';
import { cleanupAfterEach } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';
import { requirePostgres, sharedPostgres } from '../helpers/postgres';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
const auth = { Authorization: `Bearer ${TOKEN}` };
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, 'c')}`;

/** An ACR push, by digest (no tag) or by tag, as ACR sends one per manifest PUT. */
function acrPush(id: string, mediaType: string, d: string, tag?: string) {
  return {
    id,
    timestamp: new Date().toISOString(),
    action: 'push',
    target: { mediaType, digest: d, repository: 'team/multi', ...(tag ? { tag } : {}) },
    request: { id: `r-${id}`, host: 'myregistry.azurecr.io', method: 'PUT' },
  };
}

/**
 * The parts of one push reach a replica that is then killed (kill -9) while it holds them; the
 * tagged push reaches the other replica. The parts were committed before their 202, so the
 * surviving replica folds them into the tagged push: one push event at Brigade, nothing lost.
 */
describe('e2e: held parts across replicas on PostgreSQL, one killed while holding them', function () {
  this.timeout(180_000);
  const cleanup = { push: cleanupAfterEach() };

  before(function () {
    requirePostgres(this);
  });

  it('the tagged push on the surviving replica absorbs the parts the killed one took in', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const [doomed, survivor] = await startReplicas(2, {
      brigadeAddress: api.address,
      databaseUrl: await (await sharedPostgres()).createDatabase(),
      schema: `held_parts_${process.pid}`,
    });
    cleanup.push(() => doomed.kill9());
    cleanup.push(() => survivor.kill9());

    for (let n = 1; n <= 4; n++) {
      const answer = await post(`${doomed.url}/events/acr`, acrPush(`part-${n}`, IMAGE, digest(n)), auth);
      expect(answer.status).to.equal(202);
    }
    await doomed.kill9();
    const tagged = await post(`${survivor.url}/events/acr`, acrPush('tagged', INDEX, digest(99), 'v1'), auth);
    expect(tagged.status).to.equal(202);

    await waitFor('the push at Brigade', () => api.createdEvents.length >= 1);
    const [event] = api.createdEvents;
    expect(event.type).to.equal('push');
    expect((event.labels as Record<string, string>).parts).to.equal('4');
    expect(JSON.parse(event.payload as string)).to.deep.include({ id: 'tagged' });
    // All four parts were absorbed by the tagged push (counted where it was accepted), so none
    // is left to be released as a push of its own: Brigade has the one push and nothing else.
    await waitFor('four parts counted absorbed', async () => {
      const metrics = String((await fetch(`${survivor.url}/metrics`).then((r) => r.text())) ?? '');
      return /registry_gateway_push_parts_total\{outcome="absorbed"\} 4/.test(metrics);
    });
    expect(api.createdEvents.map((e) => e.type)).to.deep.equal(['push']);
  });
});
