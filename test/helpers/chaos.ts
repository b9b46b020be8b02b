import { appendFileSync } from 'node:fs';
import axios from 'axios';
import { expect } from 'chai';
import type { FakeBrigadeApi } from '../fakes/brigade-api';
import { GatewayProcess } from './gateway-process';
import { waitFor } from './wait';
import { POSTGRES_PASSWORD } from './postgres';
import type { LoadTally, SteadyLoad } from './steady-load';

/**
 * The fault scenarios run short under `make test` and long under `make chaos`, which sets
 * CHAOS_SECONDS (the length of each fault phase) and CHAOS_RESULTS (where the figures go, one
 * JSON line per scenario, for scripts/reliability-report.ts to turn into docs/reliability.md).
 */
export function phaseMs(shortSeconds: number): number {
  const long = Number(process.env.CHAOS_SECONDS);
  return (long > 0 ? long : shortSeconds) * 1000;
}

export const TOKEN = 'chaos-token-5d1e2f';
export const BRIGADE_TOKEN = 'chaos-brigade-sa-77a1';

export interface ReplicaOptions {
  brigadeAddress: string;
  databaseUrl: string;
  schema: string;
  leaseSeconds?: number;
  concurrency?: number;
  /** How long a delivery attempt may take, which bounds how long a frozen attempt holds its row. */
  timeoutSeconds?: number;
}

/** The database URL goes in through DATABASE_URL, as the chart passes it from a Secret. */
function replicaConfig(o: ReplicaOptions): string {
  return `
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${o.brigadeAddress}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: ${o.timeoutSeconds ?? 5}}
delivery:
  store: postgres
  postgres: {schema: ${o.schema}, leaseSeconds: ${o.leaseSeconds ?? 3}, poolSize: 8}
  maxAttempts: 1000
  initialBackoffSeconds: 0.05
  maxBackoffSeconds: 1
  concurrency: ${o.concurrency ?? 8}
server: {port: $PORT, shutdownTimeoutSeconds: 10}
`;
}

export async function startReplicas(n: number, options: ReplicaOptions): Promise<GatewayProcess[]> {
  const yaml = replicaConfig(options);
  return Promise.all(
    Array.from({ length: n }, () => GatewayProcess.start(yaml, { env: { DATABASE_URL: options.databaseUrl } })),
  );
}

/** The same URL with another port: the gateways reach the database through a proxy. */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

/** Ids of the events Brigade stored (answered 201), repeats included. */
export function createdIds(api: FakeBrigadeApi): string[] {
  return api.createdEvents.map((e) => JSON.parse(e.payload as string).id as string);
}

/** Resolves once every replica answers /readyz 200; how long that took, in seconds. */
export async function allReady(gateways: GatewayProcess[], timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  await waitFor(
    'every replica ready',
    async () => {
      const answers = await Promise.all(
        gateways.map((g) => axios.get(`${g.url}/readyz`, { validateStatus: () => true, timeout: 2000 })),
      );
      return answers.every((a) => a.status === 200);
    },
    timeoutMs,
  );
  return (Date.now() - started) / 1000;
}

/** Resolves once some replica answers /readyz 503 (it noticed the fault); its reason. */
export async function someNotReady(gateways: GatewayProcess[], timeoutMs = 30_000): Promise<string> {
  return waitFor(
    'a replica to report not ready',
    async () => {
      for (const g of gateways) {
        const res = await axios.get(`${g.url}/readyz`, { validateStatus: () => true, timeout: 2000 });
        if (res.status === 503) return String(res.data.reason);
      }
      return undefined;
    },
    timeoutMs,
  );
}

export interface Figures {
  scenario: string;
  /** Load: seconds it ran, requests sent, requests per second. */
  seconds: number;
  sent: number;
  rate: number;
  acked: number;
  delivered: number;
  lost: number;
  duplicates: number;
  unavailable: number;
  noAnswer: number;
  /** The longest any sender waited for its answer, in seconds. */
  slowestAnswerSeconds: number;
  /** From the fault's end to every replica ready and acknowledging again. */
  recoverSeconds: number;
  /** The bound asserted on duplicates, and why it holds. */
  duplicateBound: number;
}

/**
 * The checks every scenario ends with, whatever the fault: nothing but 2xx and 503 with
 * Retry-After was answered; every 2xx reached the target; no replica exited; no password was
 * written anywhere; duplicates stay under the scenario's bound. Records the figures.
 */
export async function settle(
  scenario: string,
  load: SteadyLoad,
  api: FakeBrigadeApi,
  gateways: GatewayProcess[],
  recoverSeconds: number,
  duplicateBound: number,
): Promise<Figures> {
  const tally: LoadTally = await load.stop();
  expect(tally.unexpected, 'answers other than 2xx and 503 with Retry-After').to.deep.equal([]);
  const acked = [...tally.acked];
  expect(acked.length).to.be.greaterThan(0);
  await waitFor(
    'every acknowledged event at Brigade',
    () => {
      const created = new Set(createdIds(api));
      return acked.every((id) => created.has(id));
    },
    120_000,
  );
  // Rows still pending may yet be delivered (a repeat of an attempt whose answer was lost):
  // count duplicates once no replica has anything left to deliver.
  await waitFor('no pending deliveries on any replica', () => nothingPending(gateways), 120_000);
  const ids = createdIds(api);
  const created = new Set(ids);
  const figures: Figures = {
    scenario,
    seconds: Math.round(load.seconds),
    sent: tally.sent,
    rate: Math.round(load.rate),
    acked: acked.length,
    delivered: acked.filter((id) => created.has(id)).length,
    lost: acked.filter((id) => !created.has(id)).length,
    duplicates: ids.length - created.size,
    unavailable: tally.unavailable,
    noAnswer: tally.noAnswer,
    slowestAnswerSeconds: Math.round(tally.slowestMs / 100) / 10,
    recoverSeconds: Math.round(recoverSeconds * 10) / 10,
    duplicateBound,
  };
  for (const g of gateways) {
    expect(g.exitCode, `replica ${g.url} exited:\n${g.stderr.slice(-2000)}`).to.equal(undefined);
    expect(g.stdout + g.stderr).to.not.include(POSTGRES_PASSWORD);
  }
  expect(figures.lost).to.equal(0);
  expect(figures.duplicates, 'duplicate deliveries').to.be.at.most(duplicateBound);
  console.log(`      ${JSON.stringify(figures)}`);
  if (process.env.CHAOS_RESULTS) appendFileSync(process.env.CHAOS_RESULTS, `${JSON.stringify(figures)}\n`);
  return figures;
}

/** True once the replicas' store reports no pending deliveries (read from each one's /metrics). */
export async function nothingPending(gateways: GatewayProcess[]): Promise<boolean> {
  for (const g of gateways) {
    const res = await axios.get(`${g.url}/metrics`, { validateStatus: () => true, timeout: 2000 });
    const pending = String(res.data)
      .split('\n')
      .filter((l) => l.startsWith('registry_gateway_deliveries_pending'));
    if (pending.some((l) => Number(l.split(' ').pop()) > 0)) return false;
  }
  return true;
}

/** One sample of a metric from a replica's /metrics (summed over its labels); 0 when absent. */
export async function metric(gateway: GatewayProcess, name: string): Promise<number> {
  const res = await axios.get(`${gateway.url}/metrics`, { timeout: 2000 });
  return String(res.data)
    .split('\n')
    .filter((l) => l === name || l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
