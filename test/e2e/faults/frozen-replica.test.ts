import { expect } from 'chai';
import { FakeBrigadeApi } from '../../fakes/brigade-api';
import {
  allReady,
  BRIGADE_TOKEN,
  createdIds,
  metric,
  phaseMs,
  settle,
  startReplicas,
  TOKEN,
} from '../../helpers/chaos';
import { FaultProxy } from '../../helpers/fault-proxy';
import { cleanupAfterEach, type GatewayProcess } from '../../helpers/gateway-process';
import { waitFor } from '../../helpers/wait';
import { requirePostgres, sharedPostgres } from '../../helpers/postgres';
import { SteadyLoad } from '../../helpers/steady-load';

const CONCURRENCY = 8;

/**
 * A replica stops (SIGSTOP: a long GC pause, a node under memory pressure) while its attempts
 * against a slow target are in flight, for longer than its lease; the other replica takes its
 * rows over and delivers them. Then it wakes (SIGCONT) with the answers to its old attempts
 * waiting, and carries on. Its leases are fenced: it records none of those outcomes, and it
 * neither crashes nor loses anything.
 *
 * Duplicate bound: the attempts the frozen replica had in flight can reach the target twice
 * (once from it, once from the replica that took the row over): its concurrency. And when it
 * froze inside a commit, the other replica's commits wait on its locks until the server ends the
 * idle transaction (5 s), holding that replica's connections, so its own lease renewals can
 * starve past a short lease and its attempts in flight be taken once the frozen one wakes: its
 * concurrency again. Twice the concurrency, and no event more than twice.
 */
describe('faults: a replica frozen past its lease (2 replicas on PostgreSQL)', function () {
  this.timeout(600_000);
  const cleanup = { push: cleanupAfterEach() };

  before(function () {
    requirePostgres(this);
  });

  it('SIGSTOP while holding leases against a slow target, then SIGCONT: fenced, nothing lost, nothing crashed', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    // A slow target: each attempt takes about a second, so attempts are in flight at any moment.
    const proxy = await FaultProxy.start(Number(new URL(api.address).port));
    proxy.set({ latencyMs: [400, 600] });
    cleanup.push(() => proxy.close());
    const gateways = await startReplicas(2, {
      brigadeAddress: `http://127.0.0.1:${proxy.port}`,
      databaseUrl: await (await sharedPostgres()).createDatabase(),
      schema: `faults_frozen_${process.pid}`,
      leaseSeconds: 2,
      concurrency: CONCURRENCY,
      timeoutSeconds: 10,
    });
    for (const g of gateways) cleanup.push(async () => (g.signal('SIGCONT'), g.kill9()));
    const [frozen, other] = gateways;
    // A Service stops sending to a pod once its readiness probe fails; a frozen pod fails it.
    const serving = new Set<GatewayProcess>(gateways);
    const load = new SteadyLoad({ replicas: () => [...serving].map((g) => g.url), token: TOKEN, prefix: 'frozen' });
    load.start();
    cleanup.push(() => load.stop());
    await load.acknowledged(50);
    await waitFor('leases in flight', async () => (await metric(frozen, 'registry_gateway_store_leases_held')) >= 2);

    serving.delete(frozen);
    frozen.signal('SIGSTOP');
    await waitFor(
      'the other replica to take over the frozen one’s rows',
      async () => (await metric(other, 'registry_gateway_store_lease_takeovers_total')) > 0,
      60_000,
    );
    await new Promise((r) => setTimeout(r, phaseMs(3)));
    frozen.signal('SIGCONT');
    const started = Date.now();
    await allReady(gateways);
    serving.add(frozen);
    await load.acknowledged(30);
    // The answers to its old attempts were waiting: it tried to record them, and was refused.
    await waitFor(
      'stale marks refused',
      async () => (await metric(frozen, 'registry_gateway_store_stale_marks_total')) > 0,
    );
    const recovered = (Date.now() - started) / 1000;

    await settle('a replica frozen (SIGSTOP) past its lease', load, api, gateways, recovered, 2 * CONCURRENCY);
    const counts = new Map<string, number>();
    for (const id of createdIds(api)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(Math.max(...counts.values()), 'deliveries of one event').to.be.at.most(2);
  });
});
