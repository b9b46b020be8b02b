import { expect } from 'chai';
import pg from 'pg';
import { PostgresStore } from '../../../src/delivery/store/postgres';
import type { CollapseOptions } from '../../../src/delivery/store/held-parts';
import { POSTGRES_SCHEMA_VERSION } from '../../../src/delivery/store/postgres-schema';
import { createPool } from '../../../src/delivery/store/postgres-connection';
import type { DeliverySettings } from '../../../src/delivery/types';
import { KubeappsEmitter } from '../../../src/emitters/kubeapps';
import type { AppRepositoryRule } from '../../../src/emitters/kubeapps-rules';
import { UnavailableError } from '../../../src/model/errors';
import { Metrics } from '../../../src/observability/metrics';
import { FakeKubeappsApi } from '../../fakes/kubeapps-api';
import { POSTGRES_PASSWORD, PostgresCluster, requirePostgres, sharedPostgres } from '../../helpers/postgres';
import { capturingLogger, makeEvent, settings, tempDir } from '../support';
import { waitFor } from '../../helpers/wait';
import { rejection, rows, storeBehaviour } from './behaviour';
import { expectLegacyRowsKept, legacyDdl, legacyRows } from './legacy-schema';

let databaseUrl = '';
let schemas = 0;
let schema = '';

function pgSettings(overrides: Partial<DeliverySettings> = {}, url = databaseUrl): DeliverySettings {
  const base = settings(tempDir().dir, overrides);
  return {
    ...base,
    store: 'postgres',
    postgres: { url, poolSize: 4, schema, leaseSeconds: 60, ...overrides.postgres },
  };
}

describe('PostgreSQL store', function () {
  this.timeout(60_000);

  before(async function () {
    requirePostgres(this);
    databaseUrl = await (await sharedPostgres()).createDatabase();
  });

  storeBehaviour({
    name: 'postgres',
    fresh: () => {
      schema = `behaviour_${++schemas}`;
      return Promise.resolve();
    },
    open: (clock, overrides, metrics, options) =>
      PostgresStore.open(pgSettings(overrides), { clock, metrics, ...options }),
  });

  describe('across replicas', () => {
    let opened: PostgresStore[];
    const now = Date.parse('2024-05-01T12:00:00Z');

    async function replica(
      overrides: Partial<DeliverySettings> = {},
      options: { clock?: () => number; owner?: string; metrics?: Metrics; collapse?: CollapseOptions } = {},
    ) {
      const store = await PostgresStore.open(pgSettings(overrides), {
        clock: options.clock ?? (() => now),
        owner: options.owner,
        metrics: options.metrics,
        collapse: options.collapse,
      });
      opened.push(store);
      return store;
    }

    beforeEach(() => {
      schema = `replicas_${++schemas}`;
      opened = [];
    });

    afterEach(async () => {
      for (const store of opened) await store.close();
    });

    it('migrates once when several replicas start at the same instant', async () => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => replica()));
      expect(stores.every((s) => s.notReadyReason() === undefined)).to.equal(true);
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows: versions } = await client.query(`SELECT version FROM ${schema}.schema_version`);
        expect(versions).to.deep.equal([{ version: POSTGRES_SCHEMA_VERSION }]);
      } finally {
        await client.end();
      }
    });

    it('upgrades a version 1 schema in place, keeping its rows', async () => {
      const first = await replica();
      await first.accept([{ event: makeEvent('kept'), emitters: ['log'] }]);
      await first.close();
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      // What a version 1 schema had: none of version 2's targets, version 3's console tables,
      // version 4's lease generation, version 5's tag state and held parts, version 6's trace
      // context or version 7's attempt columns and note.
      await client.query(
        `DROP TABLE ${schema}.targets; DROP TABLE ${schema}.attempts; ALTER TABLE ${schema}.events DROP COLUMN tag;
         ALTER TABLE ${schema}.events DROP COLUMN traceparent, DROP COLUMN tracestate;
         ALTER TABLE ${schema}.deliveries DROP COLUMN lease_generation, DROP COLUMN note;
         DROP TABLE ${schema}.tag_state; DROP TABLE ${schema}.held_parts;
         DROP INDEX ${schema}.events_by_provider, ${schema}.events_by_registry, ${schema}.events_by_repo,
           ${schema}.events_by_type, ${schema}.deliveries_by_state_event;
         UPDATE ${schema}.schema_version SET version = 1`,
      );
      await client.end();
      const upgraded = await replica();
      expect((await rows(upgraded)).map((r) => r.eventId)).to.deep.equal(['kept']);
      await upgraded.saveTarget({ emitter: 'log', state: 'open', since: now, updatedAt: now });
      expect((await upgraded.targets()).map((t) => t.state)).to.deep.equal(['open']);
    });

    it("opens a schema at main's version 5 and upgrades it keeping every row", async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(legacyDdl('postgres-v5.sql', schema));
        await client.query(legacyRows((table) => `${schema}.${table}`));
        // The rows were seeded with their ids: the sequences go on from there, as they would have.
        await client.query(
          `SELECT setval(pg_get_serial_sequence('${schema}.events', 'seq'), 2),
                  setval(pg_get_serial_sequence('${schema}.deliveries', 'id'), 2)`,
        );
        await expectLegacyRowsKept(await replica());
        const { rows: versions } = await client.query(`SELECT version FROM ${schema}.schema_version`);
        expect(versions).to.deep.equal([{ version: POSTGRES_SCHEMA_VERSION }]);
      } finally {
        await client.end();
      }
    });

    it('keeps one tag state across replicas pushing the same tag at once: one created, every other a move', async () => {
      const [a, b] = await Promise.all([replica({}, { owner: 'replica-a' }), replica({}, { owner: 'replica-b' })]);
      const digests = Array.from({ length: 16 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
      const results = await Promise.all(
        digests.map((digest, i) =>
          (i % 2 ? a : b).accept([{ event: makeEvent(`p${i}`, { digest }), emitters: ['log'] }]),
        ),
      );
      const events = results.map(([r]) => r.event);
      expect(events.filter((e) => e.tagChange === 'created')).to.have.length(1);
      expect(events.filter((e) => e.tagChange === 'moved')).to.have.length(digests.length - 1);
      // Each move starts where another push left the tag: the moves chain every digest once.
      const previous = events.map((e) => e.previousDigest).filter((d) => d !== undefined);
      expect(new Set(previous).size).to.equal(digests.length - 1);
      for (const digest of previous) expect(digests).to.include(digest);
    });

    it('collapses pushes whose parts and tag reach different replicas at once, whichever commits first', async () => {
      let clock = now;
      const collapse: CollapseOptions = { windowSeconds: 10, orphans: 'deliver' };
      const [a, b] = await Promise.all([
        replica({}, { owner: 'replica-a', collapse, clock: () => clock }),
        replica({}, { owner: 'replica-b', collapse, clock: () => clock }),
      ]);
      const repos = Array.from({ length: 12 }, (_, i) => `team/app-${i}`);
      const digest = (r: number, n: number) => `sha256:${(r * 100 + n).toString(16).padStart(64, '0')}`;
      await Promise.all(
        repos.flatMap((repo, r) => [
          ...[1, 2, 3, 4].map((n) =>
            (n % 2 ? a : b).accept([
              {
                event: makeEvent(`${repo}-m${n}`, { repo, tag: undefined, digest: digest(r, n) }),
                emitters: ['brigade'],
              },
            ]),
          ),
          (r % 2 ? a : b).accept([
            { event: makeEvent(`${repo}-index`, { repo, digest: digest(r, 0) }), emitters: ['brigade'] },
          ]),
        ]),
      );
      clock += 60_000;
      const [ra, rb] = await Promise.all([a.releaseHeldParts(clock), b.releaseHeldParts(clock)]);
      expect(ra.released + rb.released, 'no part left over as an orphan').to.equal(0);
      expect((await rows(a)).map((r) => r.eventId).sort()).to.deep.equal(repos.map((repo) => `${repo}-index`).sort());
      expect(await a.listHeldParts({ state: 'absorbed', limit: 1000 })).to.have.length(repos.length * 4);
    });

    it('releases the parts a replica held when it is gone, from another replica, once', async () => {
      let clock = now;
      const collapse: CollapseOptions = { windowSeconds: 10, orphans: 'deliver' };
      const a = await replica({}, { owner: 'replica-a', collapse, clock: () => clock });
      const b = await replica({}, { owner: 'replica-b', collapse, clock: () => clock });
      await a.accept([
        { event: makeEvent('lone', { tag: undefined, digest: `sha256:${'1'.repeat(64)}` }), emitters: ['brigade'] },
      ]);
      await a.close();
      clock += 10_000;
      const c = await replica({}, { owner: 'replica-c', collapse, clock: () => clock });
      const results = await Promise.all([b.releaseHeldParts(clock), c.releaseHeldParts(clock)]);
      expect(results.map((r) => r.released).sort()).to.deep.equal([0, 1]);
      expect((await rows(b)).map((r) => [r.eventId, r.emitter, r.state])).to.deep.equal([
        ['lone', 'brigade', 'pending'],
      ]);
    });

    it('a probe claim never takes a row another replica holds, even when nothing else is pending', async () => {
      const [a, b] = await Promise.all([replica({}, { owner: 'replica-a' }), replica({}, { owner: 'replica-b' })]);
      await a.accept([{ event: makeEvent('only'), emitters: ['brigade'] }]);
      const [held] = await a.claim('brigade', now, 1);
      expect(held.event.id).to.equal('only');
      expect(await b.claim('brigade', now, 1, { anyDueTime: true })).to.deep.equal([]);
      await a.markRetry(held.id, 1, now + 3600_000, 'HTTP 503');
      expect((await b.claim('brigade', now, 1, { anyDueTime: true })).map((d) => d.event.id)).to.deep.equal(['only']);
    });

    it('refuses a schema written by a newer gateway rather than misread it', async () => {
      await (await replica()).close();
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`UPDATE ${schema}.schema_version SET version = 99`);
      await client.end();
      const err = await rejection(PostgresStore.open(pgSettings(), {}));
      expect((err as Error).message).to.match(/newer registry-gateway \(version 99/);
    });

    it('stores the same event posted to two replicas at once once; the other sender gets duplicate', async () => {
      const [a, b] = await Promise.all([replica(), replica()]);
      for (let round = 0; round < 20; round++) {
        const event = makeEvent(`race-${round}`);
        const [ra, rb] = await Promise.all([
          a.accept([{ event, emitters: ['log'] }]),
          b.accept([{ event, emitters: ['log'] }]),
        ]);
        expect([ra[0].duplicate, rb[0].duplicate].sort()).to.deep.equal([false, true]);
      }
      expect(await rows(a)).to.have.length(20);
    });

    it('never hands one row to two replicas, and lets another take the rows of one that died', async () => {
      let t = now;
      const clock = () => t;
      const [a, b] = await Promise.all([
        replica({ postgres: { leaseSeconds: 30 } as DeliverySettings['postgres'] }, { clock, owner: 'replica-a' }),
        replica({ postgres: { leaseSeconds: 30 } as DeliverySettings['postgres'] }, { clock, owner: 'replica-b' }),
      ]);
      await a.accept(Array.from({ length: 10 }, (_, i) => ({ event: makeEvent(`r${i}`), emitters: ['log'] })));
      const [fromA, fromB] = await Promise.all([a.claim('log', t, 6), b.claim('log', t, 6)]);
      const ids = [...fromA, ...fromB].map((d) => d.event.id);
      expect(new Set(ids).size).to.equal(10);
      expect(ids).to.have.length(10);

      // Replica A dies holding its rows; B finishes its own. B sees when A's come free.
      for (const d of fromB) await b.markDelivered(d.id, 1);
      expect(await b.nextDueAt('log')).to.equal(t + 30_000);
      expect(await b.claim('log', t + 29_000, 10)).to.deep.equal([]);
      const metrics = new Metrics();
      const c = await PostgresStore.open(
        pgSettings({ postgres: { leaseSeconds: 30 } as DeliverySettings['postgres'] }),
        {
          clock,
          owner: 'replica-c',
          metrics,
        },
      );
      opened.push(c);
      t += 30_000;
      const takenOver = await c.claim('log', t, 10);
      expect(takenOver.map((d) => d.event.id).sort()).to.deep.equal(fromA.map((d) => d.event.id).sort());
      expect((await metrics.leaseTakeovers.get()).values[0].value).to.equal(fromA.length);
      // A's late outcome no longer counts: the row is C's now.
      expect(await a.markDelivered(fromA[0].id, 1)).to.equal(false);
      expect(await c.markDelivered(fromA[0].id, 1)).to.equal(true);
    });

    it('fences by lease generation: a replica stalled past its lease settles nothing taken since, and renews nothing', async () => {
      let t = now;
      const clock = () => t;
      const lease = { postgres: { leaseSeconds: 5 } as DeliverySettings['postgres'] };
      const metrics = new Metrics();
      const [a, b] = await Promise.all([
        replica(lease, { clock, owner: 'replica-a', metrics }),
        replica(lease, { clock, owner: 'replica-b' }),
      ]);
      await a.accept(
        [{ event: makeEvent('frozen') }, { event: makeEvent('other') }].map((r) => ({ ...r, emitters: ['log'] })),
      );
      const held = await a.claim('log', t, 2);
      expect(held).to.have.length(2);

      // A stalls past its lease; B takes both rows, fails one attempt and gives it back for later.
      t += 5_000;
      const [first, second] = await b.claim('log', t, 2);
      expect(await b.markRetry(first.id, 1, t, 'HTTP 503')).to.equal(true);
      // A wakes: its old attempts' outcomes are refused, the row B holds included.
      expect(await a.markDelivered(first.id, 1)).to.equal(false);
      expect(await a.markDead(second.id, 1, 'late')).to.equal(false);
      expect((await metrics.staleMarks.get()).values[0].value).to.equal(2);
      expect(await b.markDelivered(second.id, 1)).to.equal(true);

      // A claims the pending row anew and stalls past that lease too: its own next claim finds the
      // row lapsed, leases it again, and hands it to the attempt still running, never to a second.
      const [again] = await a.claim('log', t, 2);
      expect(again?.id).to.equal(first.id);
      t += 5_000;
      expect(await a.claim('log', t, 2), 'the row is not handed out twice to one process').to.deep.equal([]);
      expect(await a.markDelivered(first.id, 2)).to.equal(true);
      const [row] = (await a.list({ ids: [first.id] })).rows;
      expect([row.state, row.attempts]).to.deep.equal(['delivered', 2]);
    });

    it('wakes every replica when one stores rows or an operator replays', async () => {
      const [a, b] = await Promise.all([replica(), replica()]);
      const woken: string[][] = [];
      b.onWake((emitters) => woken.push([...emitters]));
      // The listener connects in the background: until it does, a notification finds nobody (the
      // poll covers that), so store rows until one wakes B.
      for (let n = 0; !woken.some((w) => w.includes('brigade')); n++) {
        expect(n, 'a notification within 10 s').to.be.lessThan(20);
        await a.accept([{ event: makeEvent(`n${n}`), emitters: ['brigade', 'knative'] }]);
        await waitFor('notification', () => woken.some((w) => w.includes('brigade')), 500).catch(() => undefined);
      }
      expect(woken.find((w) => w.includes('brigade'))!.sort()).to.deep.equal(['brigade', 'knative']);

      const [row] = await a.claim('brigade', now, 1);
      await a.markDead(row.id, 1, 'HTTP 400');
      woken.length = 0;
      expect(await a.replay({ emitter: 'brigade', ids: [row.id] })).to.equal(1);
      await waitFor('replay notification', () => woken.some((w) => w.includes('brigade')));
    });
  });

  it('listens for other replicas only once something delivers from it', async () => {
    const listening = async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`,
          [`LISTEN "registry_gateway_${schema}"`],
        );
        return rows[0].n;
      } finally {
        await client.end();
      }
    };
    schema = `listen_${++schemas}`;
    const store = await PostgresStore.open(pgSettings());
    try {
      await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      expect(await listening()).to.equal(0);
      store.onWake(() => undefined);
      await waitFor('the LISTEN connection', async () => (await listening()) === 1, 10_000);
    } finally {
      await store.close();
    }
  });

  it("commits a delivery-only store's writes without waiting for the WAL flush, and only those", async () => {
    const setting = async (pool: pg.Pool) => {
      try {
        return (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit;
      } finally {
        await pool.end();
      }
    };
    const { postgres } = pgSettings();
    expect(await setting(createPool(postgres, 'test'))).to.equal('on');
    expect(await setting(createPool(postgres, 'test', false))).to.equal('off');
  });

  describe('shared windows (one Kubeapps refresh per window across replicas)', () => {
    const rule: AppRepositoryRule = {
      registry: 'myregistry.azurecr.io',
      prefix: 'helm',
      cluster: 'default',
      namespace: 'kubeapps',
      name: 'acr-charts',
    };
    const chartPush = (id: string) =>
      makeEvent(id, { type: 'chart_push', registry: 'myregistry.azurecr.io', repo: 'helm/nginx' });
    let kubeapps: FakeKubeappsApi;
    let stores: PostgresStore[];
    let emitters: KubeappsEmitter[];

    beforeEach(async () => {
      schema = `windows_${++schemas}`;
      kubeapps = await FakeKubeappsApi.start({ token: 'kubeapps-token-77c1e0' });
      kubeapps.addAppRepository('default', 'kubeapps', 'acr-charts');
      stores = await Promise.all([PostgresStore.open(pgSettings()), PostgresStore.open(pgSettings())]);
      emitters = stores.map(
        (store) =>
          new KubeappsEmitter(
            { repositories: [rule], address: kubeapps.url, token: 'kubeapps-token-77c1e0', debounceSeconds: 0.5 },
            { sharedWindows: store.sharedWindows },
          ),
      );
    });

    afterEach(async () => {
      for (const e of emitters) await e.close();
      for (const s of stores) await s.close();
      await kubeapps.close();
    });

    it('opens a window once: the other opener learns when it started and ends', async () => {
      const [a, b] = stores.map((s) => s.sharedWindows);
      const claims = await Promise.all([a.open('k', 1000, 500), b.open('k', 1000, 500)]);
      expect(claims.filter((c) => c.opened)).to.have.length(1);
      expect(claims.find((c) => !c.opened)).to.deep.equal({ opened: false, startedAt: 1000, endsAt: 1500 });
      expect(await b.open('k', 1500, 500)).to.deep.equal({ opened: true });
    });

    it('makes one refresh for pushes delivered by two replicas within one window', async () => {
      await Promise.all([emitters[0].deliver(chartPush('p1')), emitters[1].deliver(chartPush('p2'))]);
      expect(kubeapps.refreshes).to.have.length(1);
    });

    it('still refreshes after a push that came after the other replica had refreshed', async () => {
      await emitters[0].deliver(chartPush('p1'));
      // Replica B's push lands after A's refresh began: A's refresh cannot include it.
      await emitters[1].deliver(chartPush('p2'));
      expect(kubeapps.refreshes).to.have.length(2);
    });
  });

  describe('when the database goes away', () => {
    let cluster: PostgresCluster;
    let url: string;
    let store: PostgresStore | undefined;

    before(async function () {
      requirePostgres(this);
      this.timeout(120_000);
      // A cluster of its own: stopping the shared one would break the other suites.
      cluster = await PostgresCluster.create();
      url = await cluster.createDatabase();
    });

    after(() => cluster?.destroy());

    afterEach(async () => {
      cluster.start();
      await store?.close();
      store = undefined;
    });

    beforeEach(() => {
      schema = `outage_${++schemas}`;
      cluster.start();
    });

    it('refuses with 503 and says why, never leaks the password, and recovers by itself', async () => {
      const { logger, lines } = capturingLogger();
      store = await PostgresStore.open(pgSettings({}, url), { logger });
      await store.accept([{ event: makeEvent('before'), emitters: ['log'] }]);

      cluster.stop('fast');
      const refused = await rejection(store.accept([{ event: makeEvent('during'), emitters: ['log'] }]));
      expect(refused).to.be.instanceOf(UnavailableError);
      await waitFor('not ready', () => store!.notReadyReason() !== undefined, 15_000);
      expect(store.notReadyReason()).to.match(/database/);
      // Fails fast while down rather than making each sender wait out a connection timeout.
      const started = Date.now();
      expect(await rejection(store.accept([{ event: makeEvent('during2'), emitters: ['log'] }]))).to.be.instanceOf(
        UnavailableError,
      );
      expect(Date.now() - started).to.be.lessThan(1000);

      cluster.start();
      await waitFor('recovery', () => store!.notReadyReason() === undefined, 20_000);
      const [after] = await store.accept([{ event: makeEvent('after'), emitters: ['log'] }]);
      expect(after.duplicate).to.equal(false);
      expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['before', 'after']);

      const everything = JSON.stringify(lines) + String(refused) + (store.notReadyReason() ?? '');
      expect(everything).to.not.include(POSTGRES_PASSWORD);
      expect(lines.some((l) => /database is unavailable/.test(String(l.msg)))).to.equal(true);
    });

    it('starts without the database, answers 503, and becomes ready when it appears', async () => {
      cluster.stop('fast');
      store = await PostgresStore.open(pgSettings({}, url), {});
      expect(store.notReadyReason()).to.match(/not reachable yet/);
      expect(await rejection(store.accept([{ event: makeEvent('early'), emitters: ['log'] }]))).to.be.instanceOf(
        UnavailableError,
      );
      cluster.start();
      await waitFor('ready', () => store!.notReadyReason() === undefined, 20_000);
      const [accepted] = await store.accept([{ event: makeEvent('late'), emitters: ['log'] }]);
      expect(accepted.duplicate).to.equal(false);
    });

    it('tells the one-shot CLI at once, without the password', async () => {
      cluster.stop('fast');
      const err = await rejection(PostgresStore.open(pgSettings({}, url), { oneShot: true }));
      expect((err as Error).message).to.not.include(POSTGRES_PASSWORD);
      const wrong = url.replace(encodeURIComponent(POSTGRES_PASSWORD), 'not-the-password-123');
      cluster.start();
      const refused = await rejection(PostgresStore.open(pgSettings({}, wrong), { oneShot: true }));
      expect((refused as Error).message).to.match(/password authentication failed/);
      expect((refused as Error).message).to.not.include('not-the-password-123');
    });
  });
});
