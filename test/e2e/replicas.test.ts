import { expect } from 'chai';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { cleanupAfterEach, freePort, GatewayProcess, runCli } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';
import { nothingPending } from '../helpers/chaos';
import { POSTGRES_PASSWORD, PostgresCluster, requirePostgres, sharedPostgres } from '../helpers/postgres';
import { acrPush, SteadyLoad } from '../helpers/steady-load';

const TOKEN = 'replica-token-9c2e51aa';
const BRIGADE_TOKEN = 'brigade-sa-token-31bd';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** The database URL goes in through DATABASE_URL, as the chart passes it from a Secret. */
function config(brigadeAddress: string, schema: string): string {
  return `
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${brigadeAddress}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: 2}
delivery:
  store: postgres
  postgres: {schema: ${schema}, leaseSeconds: 3, poolSize: 8}
  maxAttempts: 200
  initialBackoffSeconds: 0.05
  maxBackoffSeconds: 0.5
  concurrency: 8
server: {port: $PORT, shutdownTimeoutSeconds: 10}
`;
}

const createdIds = (api: FakeBrigadeApi) => api.createdEvents.map((e) => JSON.parse(e.payload as string).id as string);

describe('e2e: several replicas on one PostgreSQL database', function () {
  this.timeout(240_000);
  const cleanup = { push: cleanupAfterEach() };
  let databaseUrl: string;
  let schemas = 0;

  before(async function () {
    requirePostgres(this);
    databaseUrl = await (await sharedPostgres()).createDatabase();
  });

  async function replicas(n: number, brigadeAddress: string, url = databaseUrl): Promise<GatewayProcess[]> {
    const yaml = config(brigadeAddress, `e2e_${process.pid}_${++schemas}`);
    const started = await Promise.all(
      Array.from({ length: n }, () => GatewayProcess.start(yaml, { env: { DATABASE_URL: url } })),
    );
    for (const gw of started) cleanup.push(() => gw.kill9());
    return started;
  }

  function expectNoPassword(gateways: GatewayProcess[]): void {
    for (const gw of gateways) expect(gw.stdout + gw.stderr).to.not.include(POSTGRES_PASSWORD);
  }

  it('the same event sent to two replicas at the same instant is one delivery', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const [a, b] = await replicas(2, api.address);

    for (let n = 0; n < 10; n++) {
      const body = acrPush(`same-${n}`, n);
      const [ra, rb] = await Promise.all([post(`${a.url}/events`, body, auth), post(`${b.url}/events`, body, auth)]);
      expect([ra.status, rb.status]).to.deep.equal([202, 202]);
      const flags = [ra.data.events[0].duplicate === true, rb.data.events[0].duplicate === true];
      expect(flags.sort()).to.deep.equal([false, true]);
    }
    await waitFor('10 deliveries', () => new Set(createdIds(api)).size === 10);
    // Count once nothing is left to deliver, so a stray second delivery would be counted.
    await waitFor('no pending deliveries', () => nothingPending([a, b]));
    expect(createdIds(api)).to.have.length(10);
    expectNoPassword([a, b]);
  });

  it('target down, 600 events acked across 3 replicas, kill -9 one, target up: all 600 delivered', async () => {
    const brigadePort = await freePort();
    const address = `http://127.0.0.1:${brigadePort}`;
    const gateways = await replicas(3, address);

    const ids = Array.from({ length: 600 }, (_, i) => `down-${i}`);
    for (let start = 0; start < ids.length; start += 30) {
      const answers = await Promise.all(
        ids
          .slice(start, start + 30)
          .map((id, i) => post(`${gateways[(start + i) % 3].url}/events/acr`, acrPush(id, start + i), auth)),
      );
      expect(answers.map((a) => a.status)).to.deep.equal(Array(answers.length).fill(202));
    }
    await gateways[0].kill9();

    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start(brigadePort);
    cleanup.push(() => api.close());
    // The dead replica's leases lapse (3 s) and the others take its rows.
    await waitFor('all 600 at Brigade', () => new Set(createdIds(api)).size === 600, 120_000);
    expect(new Set(createdIds(api))).to.deep.equal(new Set(ids));
    const duplicates = createdIds(api).length - 600;
    // At-least-once: only attempts in flight at the kill may repeat, at most a replica's concurrency.
    expect(duplicates).to.be.at.most(8);
    console.log(`      (600 delivered, ${duplicates} duplicate deliveries after kill -9)`);
  });

  it('a rolling restart under steady load loses no acknowledged event', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const gateways = await replicas(3, api.address);
    const up = new Set(gateways);
    const client = new SteadyLoad({
      replicas: () => [...up].map((g) => g.url),
      token: TOKEN,
      prefix: 'rolling',
      workers: 1,
    });
    client.start();
    cleanup.push(() => client.stop());

    await client.acknowledged(50);
    for (let i = 0; i < gateways.length; i++) {
      const old = gateways[i];
      up.delete(old);
      expect(await old.terminate()).to.equal(0);
      const replacement = await GatewayProcess.launch(old.configPath, Number(new URL(old.url).port), {
        DATABASE_URL: databaseUrl,
      });
      cleanup.push(() => replacement.kill9());
      gateways[i] = replacement;
      up.add(replacement);
      await client.acknowledged(30);
    }
    const acked = [...(await client.stop()).acked];
    expect(acked.length).to.be.greaterThan(100);
    await waitFor(
      'every acknowledged event at Brigade',
      () => acked.every((id) => createdIds(api).includes(id)),
      60_000,
    );
    expectNoPassword(gateways);
  });

  describe('the database stopped under load', () => {
    let cluster: PostgresCluster;
    let url: string;

    before(async function () {
      requirePostgres(this);
      cluster = await PostgresCluster.create();
      url = await cluster.createDatabase();
    });

    after(() => cluster?.destroy());

    it('answers 503 (never an uncommitted 2xx), does not crash, and drains once the database is back', async () => {
      const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
      await api.start();
      cleanup.push(() => api.close());
      const gateways = await replicas(2, api.address, url);
      const client = new SteadyLoad({
        replicas: () => gateways.map((g) => g.url),
        token: TOKEN,
        prefix: 'outage',
        workers: 1,
      });
      client.start();
      cleanup.push(() => client.stop());
      await client.acknowledged(30);

      cluster.stop('fast');
      await waitFor('503s while the database is down', () => client.tally.unavailable >= 10);
      const notReady = await waitFor('readyz to turn 503', async () => {
        const res = await fetch(`${gateways[0].url}/readyz`);
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      });
      expect(notReady.reason).to.match(/database/);
      expect(client.tally.unexpected).to.deep.equal([]);

      cluster.start();
      await client.acknowledged(30);
      const acked = [...(await client.stop()).acked];
      for (const gw of gateways) expect(gw.exitCode).to.equal(undefined);

      await waitFor(
        'every acknowledged event at Brigade',
        () => acked.every((id) => createdIds(api).includes(id)),
        60_000,
      );
      expectNoPassword(gateways);

      const list = await runCli(['deliveries', 'list', '--config', gateways[0].configPath, '--limit', '5'], {
        DATABASE_URL: url,
      });
      expect(list.code).to.equal(0);
      expect(list.stdout.trim().split('\n')).to.have.length(6);
      expect(list.stderr).to.match(/newest 5 matching deliveries; more match/);
    });
  });
});
