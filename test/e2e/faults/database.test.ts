import { FakeBrigadeApi } from '../../fakes/brigade-api';
import {
  allReady,
  BRIGADE_TOKEN,
  phaseMs,
  settle,
  someNotReady,
  startReplicas,
  TOKEN,
  viaPort,
} from '../../helpers/chaos';
import { FaultProxy } from '../../helpers/fault-proxy';
import { cleanupAfterEach, type GatewayProcess } from '../../helpers/gateway-process';
import { waitFor } from '../../helpers/wait';
import { PostgresCluster, requirePostgres } from '../../helpers/postgres';
import { SteadyLoad } from '../../helpers/steady-load';

/**
 * Two replicas under steady load while their PostgreSQL misbehaves. Whatever the database does,
 * a replica answers 2xx only for what it committed and 503 with Retry-After otherwise, never
 * exits, is ready again soon after the database is, and every acknowledged event is delivered.
 *
 * Duplicate bound: the Brigade path is not what fails here, so a delivery repeats only when its
 * outcome could not be recorded (the database failed between the target's answer and the mark):
 * at most the rows in flight at each fault, concurrency (8) per replica per fault.
 */
describe('faults: the database under steady load (2 replicas on PostgreSQL)', function () {
  this.timeout(600_000);
  const cleanup = { push: cleanupAfterEach() };
  let schemas = 0;

  before(function () {
    requirePostgres(this);
  });

  async function setUp(
    databaseUrl: string,
  ): Promise<{ api: FakeBrigadeApi; gateways: GatewayProcess[]; load: SteadyLoad }> {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const gateways = await startReplicas(2, {
      brigadeAddress: api.address,
      databaseUrl,
      schema: `faults_${process.pid}_${++schemas}`,
    });
    for (const g of gateways) cleanup.push(() => g.kill9());
    const load = new SteadyLoad({ replicas: () => gateways.map((g) => g.url), token: TOKEN, prefix: `db${schemas}` });
    load.start();
    cleanup.push(() => load.stop());
    await load.acknowledged(50);
    return { api, gateways, load };
  }

  it('connections reset several times, then the database blackholed, then healed', async () => {
    const cluster = await PostgresCluster.create();
    cleanup.push(() => Promise.resolve(cluster.destroy()));
    const proxy = await FaultProxy.start(cluster.port);
    cleanup.push(() => proxy.close());
    const { api, gateways, load } = await setUp(viaPort(await cluster.createDatabase(), proxy.port));

    // Four in a short run; one every two seconds of the phase in a long one.
    const resets = Math.max(4, Math.round(phaseMs(4) / 2000));
    for (let i = 0; i < resets; i++) {
      proxy.resetAll();
      // Acknowledging again after each reset: the replicas reconnected by themselves.
      await load.acknowledged(30);
    }
    proxy.set({ blackhole: true });
    await someNotReady(gateways);
    await new Promise((r) => setTimeout(r, phaseMs(3)));
    proxy.heal();
    const started = Date.now();
    await allReady(gateways);
    await load.acknowledged(30);
    await settle(
      'database connections reset repeatedly, then blackholed',
      load,
      api,
      gateways,
      (Date.now() - started) / 1000,
      2 * 8 * (resets + 1),
    );
  });

  it('the database restarted twice (a fast shutdown, as a restart or a failover does)', async () => {
    const cluster = await PostgresCluster.create();
    cleanup.push(() => Promise.resolve(cluster.destroy()));
    const { api, gateways, load } = await setUp(await cluster.createDatabase());

    let recover = 0;
    for (let i = 0; i < 2; i++) {
      cluster.stop('fast');
      await someNotReady(gateways);
      await new Promise((r) => setTimeout(r, phaseMs(1)));
      cluster.start();
      const started = Date.now();
      await allReady(gateways);
      await load.acknowledged(30);
      recover = Math.max(recover, (Date.now() - started) / 1000);
    }
    await settle('database restarted twice (pg_ctl stop -m fast)', load, api, gateways, recover, 2 * 8 * 2);
  });

  it('failover: the primary killed, the proxy switched to its synchronous standby, the standby promoted', async () => {
    const primary = await PostgresCluster.create();
    cleanup.push(() => Promise.resolve(primary.destroy()));
    const databaseUrl = await primary.createDatabase();
    const standby = await primary.synchronousStandby();
    cleanup.push(() => Promise.resolve(standby.destroy()));
    const proxy = await FaultProxy.start(primary.port);
    cleanup.push(() => proxy.close());
    const { api, gateways, load } = await setUp(viaPort(databaseUrl, proxy.port));

    // As a Service does when its endpoint changes: new connections reach the standby, which is
    // still read-only for a moment, until it is promoted.
    primary.stop('immediate');
    proxy.switchTo(standby.port);
    // The replicas reach the standby and find it read-only (25006): not ready, for that reason.
    await waitFor('a replica to report the standby read-only', async () =>
      /read-only/.test(await someNotReady(gateways)),
    );
    await new Promise((r) => setTimeout(r, phaseMs(1)));
    standby.promote();
    const started = Date.now();
    await allReady(gateways);
    await load.acknowledged(30);
    await settle('failover to a synchronous standby', load, api, gateways, (Date.now() - started) / 1000, 2 * 8);
  });
});
