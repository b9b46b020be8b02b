import axios from 'axios';
import { expect } from 'chai';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { GatewayProcess, runCli, cleanupAfterEach } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';

const TOKEN = 'e2e-token-headroom-31c8';
const BRIGADE_TOKEN = 'brigade-sa-token-headroom';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** An ACR push with a large annotation-like blob in its request, so that a small budget fills fast. */
function push(n: number) {
  return {
    id: `room-${n}`,
    timestamp: '2026-11-20T10:00:00Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${n.toString(16).padStart(64, '0')}`,
      repository: 'team/app',
      tag: `v${n}`,
    },
    request: { id: `r-${n}-${'x'.repeat(4000)}`, host: 'myregistry.azurecr.io', method: 'PUT' },
  };
}

describe('e2e: a full store (real gateway process)', function () {
  this.timeout(120_000);
  const cleanup = { push: cleanupAfterEach() };

  it('refuses with 503 and Retry-After and turns not ready; delivers every acked event once the target is back; then takes events again', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN, answer: 'unavailable' });
    await api.start();
    cleanup.push(() => api.close());
    const gw = await GatewayProcess.start(`
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${api.address}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: 2}
delivery: {dir: $DIR, maxStoreBytes: 1mb, initialBackoffSeconds: 30, maxBackoffSeconds: 60, concurrency: 4}
server: {port: $PORT}
`);
    cleanup.push(() => gw.kill9());

    const acked: string[] = [];
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    for (let n = 0; n < 2000 && !refused; n++) {
      const answer = await post(`${gw.url}/events/acr`, push(n), auth);
      if (answer.status === 202) acked.push(`room-${n}`);
      else refused = answer;
    }
    expect(refused?.status).to.equal(503);
    expect(refused?.headers['retry-after']).to.equal('30');
    expect(acked.length).to.be.greaterThan(20);
    const ready = await axios.get(`${gw.url}/readyz`, { validateStatus: () => true });
    expect(ready.status).to.equal(503);
    expect(ready.data.reason).to.match(/store is full/);

    // The operator sees the target paused as down.
    await waitFor('the circuit in `deliveries list`', async () =>
      /target brigade: DOWN since/.test(
        (await runCli(['deliveries', 'list', '--config', gw.configPath, '--limit', '1'])).stderr,
      ),
    );

    api.answer = 'created';
    const created = () => new Set(api.createdEvents.map((e) => JSON.parse(e.payload as string).id as string));
    await waitFor('every acked event at Brigade', () => acked.every((id) => created().has(id)), 60_000);
    await waitFor(
      'ready again',
      async () => (await axios.get(`${gw.url}/readyz`, { validateStatus: () => true })).status === 200,
      30_000,
    );
    expect((await post(`${gw.url}/events/acr`, push(99_999), auth)).status).to.equal(202);
    await waitFor('the new event delivered', () => created().has('room-99999'));
  });
});
