import { FakeBrigadeApi } from '../../fakes/brigade-api';
import { allReady, BRIGADE_TOKEN, createdIds, phaseMs, settle, startReplicas, TOKEN } from '../../helpers/chaos';
import { FaultProxy } from '../../helpers/fault-proxy';
import { cleanupAfterEach } from '../../helpers/gateway-process';
import { waitFor } from '../../helpers/wait';
import { requirePostgres, sharedPostgres } from '../../helpers/postgres';
import { SteadyLoad } from '../../helpers/steady-load';

/**
 * Two replicas under steady load while the path to their target misbehaves: connections reset
 * at random with a random latency, then a path that swallows everything, then healed. Ingest
 * does not depend on the target, so every webhook is acknowledged throughout.
 *
 * Duplicate bound: a reset after Brigade stored an event but before its answer arrived makes the
 * gateway try again, so every reset of a response can cost one duplicate; a blackholed attempt
 * times out (2 s) after Brigade may have stored it, one per slot in flight. The bound is the
 * resets the proxy made plus the slots of both replicas.
 */
describe('faults: the target under steady load (2 replicas on PostgreSQL)', function () {
  this.timeout(600_000);
  const cleanup = { push: cleanupAfterEach() };

  before(function () {
    requirePostgres(this);
  });

  it('target connections reset at random (30%) with 0-200 ms latency, then blackholed, then healed', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const proxy = await FaultProxy.start(Number(new URL(api.address).port));
    cleanup.push(() => proxy.close());
    const gateways = await startReplicas(2, {
      brigadeAddress: `http://127.0.0.1:${proxy.port}`,
      databaseUrl: await (await sharedPostgres()).createDatabase(),
      schema: `faults_target_${process.pid}`,
      timeoutSeconds: 2,
    });
    for (const g of gateways) cleanup.push(() => g.kill9());
    const load = new SteadyLoad({ replicas: () => gateways.map((g) => g.url), token: TOKEN, prefix: 'target' });
    load.start();
    cleanup.push(() => load.stop());
    await load.acknowledged(50);

    const exchanges = proxy.exchanges;
    proxy.set({ resetRate: 0.3, latencyMs: [0, 200] });
    await new Promise((r) => setTimeout(r, phaseMs(4)));
    // However busy the machine, the phase lasts until the faults have really been met.
    await waitFor(
      'requests to the target made and reset',
      () => proxy.resets.random >= 3 && proxy.exchanges >= exchanges + 20,
      120_000,
    );
    proxy.set({ blackhole: true, resetRate: 0, latencyMs: [0, 0] });
    await new Promise((r) => setTimeout(r, phaseMs(3)));
    proxy.heal();
    // Open connections saw their bytes swallowed: the gateway drops them as its attempts time out.
    const started = Date.now();
    const before = createdIds(api).length;
    await waitFor('deliveries flowing again', () => createdIds(api).length > before + 20, 60_000);
    const recovered = (Date.now() - started) / 1000;
    await allReady(gateways);
    await settle(
      'target connections reset (30%, 0-200 ms), then blackholed',
      load,
      api,
      gateways,
      recovered,
      proxy.resets.random + 2 * 8,
    );
  });
});
