/**
 * `make bench`: everything measured side by side in one run on one machine, with wrk over
 * loopback (-t2 -c32, BENCH_SECONDS per run) and the same ACR push body shape throughout:
 *   1. ingest ceilings: bare Node http and express with express.json(), both answering 202;
 *   2. the gateway on SQLite, cold (fresh process) then warm, with unique ids and a Brigade
 *      emitter pointed at a local keep-alive fake answering 201 at once: requests/s, latency,
 *      deliveries/s during the warm run and the p99 from ack to delivered;
 *   3. a backlog of BENCH_BACKLOG events taken while that target is down (it answers 503):
 *      ingest rate, attempts/s against it and peak RSS; then the target returns: time to the
 *      first delivery and the drain rate;
 *   4. the gateway on PostgreSQL (a throwaway local cluster), unique ids;
 *   5. (run right after 2) the warm SQLite run again with tracing on, every trace sampled,
 *      exported over OTLP/HTTP to a local sink (BENCH_TRACING=0 leaves it out).
 * Besides, the warm run of 2. again with delivery on the listener's thread (`delivery.worker:
 * false`, BENCH_ONLY section `inline`), for comparison. Every gateway runs with the heap bounds
 * the chart sets for its default memory limit (BENCH_NODE_OPTIONS overrides them).
 * BENCH_ONLY=sqlite,tracing (any of ceilings, sqlite, inline, tracing, backlog, postgres) runs only
 * those and prints what they measured without writing the results files: a quick check of one row.
 * Writes bench/results/latest.json and latest.md, and fails if an acked event was not delivered.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import axiosDefault from 'axios';
import { PostgresCluster } from '../test/helpers/postgres';
import { markdown, type Results } from './report';

const ROOT = path.resolve(__dirname, '..');
// A fresh connection per call: a pooled one may sit idle through a whole wrk run.
const axios = axiosDefault.create({ httpAgent: new http.Agent({ keepAlive: false }) });
const TOKEN = 'bench-token-0a1b2c3d4e5f';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * The heap bounds the chart derives from its default memory limit (256Mi; templates/_helpers.tpl),
 * so the memory measured is the memory of the gateway as installed.
 */
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=153 --max-semi-space-size=8';
/** And the malloc arenas the image sets (Dockerfile). */
const MALLOC_ARENA_MAX = /^ENV MALLOC_ARENA_MAX=(\d+)$/m.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))![1];

interface Wrk {
  requests: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  errors: number;
  non2xx: number;
}

let runs = 0;

function wrk(url: string, env: Record<string, string> = {}, seconds = SECONDS): Wrk {
  const out = spawnSync(
    'wrk',
    ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', path.join(__dirname, 'post.lua'), url],
    {
      encoding: 'utf8',
      env: { ...process.env, BENCH_MODE: 'unique', BENCH_TOKEN: TOKEN, BENCH_RUN: String(++runs), ...env },
    },
  );
  const line = out.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error(`wrk printed no summary:\n${out.stdout}\n${out.stderr}`);
  return JSON.parse(line) as Wrk;
}

/** Starts `node <args>` and resolves with the child and the port it printed. */
async function child(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  return { proc, port };
}

const helper = (kind: string) => child(['--import', 'tsx', path.join(__dirname, 'servers.ts'), kind]);

async function ceiling(kind: string): Promise<Wrk> {
  const { proc, port } = await helper(kind);
  try {
    return wrk(`http://127.0.0.1:${port}`);
  } finally {
    proc.kill();
  }
}

async function metrics(url: string): Promise<string> {
  return (await axios.get(`${url}/metrics`)).data as string;
}

function sum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** A quantile from a Prometheus histogram's buckets, interpolated within its bucket. */
function histogramQuantile(text: string, name: string, q: number): number {
  const buckets = text
    .split('\n')
    .filter((l) => l.startsWith(`${name}_bucket{`))
    .map((l) => ({ le: Number(/le="([^"]+)"/.exec(l)![1].replace('+Inf', 'Infinity')), n: Number(l.split(' ').pop()) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (total === 0) return NaN;
  let prev = { le: 0, n: 0 };
  for (const b of buckets) {
    if (b.n >= q * total) {
      if (!Number.isFinite(b.le)) return prev.le;
      return prev.le + ((b.le - prev.le) * (q * total - prev.n)) / Math.max(1, b.n - prev.n);
    }
    prev = b;
  }
  return prev.le;
}

class Target {
  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
  ) {}
  static async start(): Promise<Target> {
    const { proc, port } = await helper('target');
    return new Target(proc, `http://127.0.0.1:${port}`);
  }
  async stats(): Promise<{ created: number; refused: number; firstCreatedAt: number; lastCreatedAt: number }> {
    return (await axios.get(`${this.url}/_stats`)).data;
  }
  async set(up: boolean): Promise<void> {
    await axios.post(`${this.url}/${up ? '_up' : '_down'}`);
  }
  stop(): void {
    this.proc.kill();
  }
}

class Gateway {
  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
  ) {}

  static async start(target: Target, storeYaml: string, env: NodeJS.ProcessEnv = {}): Promise<Gateway> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-bench-'));
    const config = path.join(dir, 'values.yaml');
    writeFileSync(
      config,
      `tokens: {bench: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${target.url}", apiToken: bench-brigade-token}
delivery: {dir: ${dir}, dedupWindowSeconds: 3600, maxPending: ${BACKLOG * 2}${storeYaml}}
server: {port: 0, bodyLimit: 64kb}
logLevel: warn
`,
    );
    const port = await freePort();
    writeFileSync(config, readFileSync(config, 'utf8').replace('port: 0', `port: ${port}`));
    const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'serve', '--config', config], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_OPTIONS, MALLOC_ARENA_MAX, ...env },
    });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await axios.get(`${url}/readyz`, { validateStatus: () => true }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 400) throw new Error('gateway did not become ready');
      await sleep(50);
    }
    return new Gateway(proc, url);
  }

  /** Peak resident set of the gateway process so far (the kernel's high-water mark), MiB. */
  peakRssMb(): number {
    const status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  async accepted(): Promise<number> {
    return sum(await metrics(this.url), 'registry_gateway_events_total{provider="acr",type="push",outcome="accepted"}');
  }

  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as import('node:net').AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits until the target has created `count` events; fails the bench past `timeoutMs`. */
async function delivered(target: Target, count: number, timeoutMs = 180_000): Promise<void> {
  const started = Date.now();
  while ((await target.stats()).created < count) {
    if (Date.now() - started > timeoutMs) {
      console.error(`not every accepted event was delivered: ${(await target.stats()).created} of ${count}`);
      process.exitCode = 1;
      return;
    }
    await sleep(50);
  }
}

async function sqliteIngest(results: Partial<Results>): Promise<void> {
  const target = await Target.start();
  const gw = await Gateway.start(target, '');
  try {
    const cold = wrk(gw.url);
    console.log(`sqlite cold: ${cold.rps.toFixed(0)} req/s, p99 ${cold.p99ms} ms`);
    const before = (await target.stats()).created;
    const warm = wrk(gw.url);
    const duringWarm = (await target.stats()).created - before;
    console.log(
      `sqlite warm: ${warm.rps.toFixed(0)} req/s, p99 ${warm.p99ms} ms; delivered meanwhile ${(duringWarm / warm.seconds).toFixed(0)}/s`,
    );
    const accepted = await gw.accepted();
    await delivered(target, accepted);
    const m = await metrics(gw.url);
    results.ingest = {
      ...results.ingest!,
      gateway_rps: warm.rps,
      gateway_p50_ms: warm.p50ms,
      gateway_p99_ms: warm.p99ms,
      gateway_max_ms: warm.maxms,
      gateway_cold_rps: cold.rps,
      gateway_cold_p50_ms: cold.p50ms,
      gateway_cold_p99_ms: cold.p99ms,
      gateway_failed: cold.errors + cold.non2xx + warm.errors + warm.non2xx,
    };
    results.delivery = {
      delivered_per_s: duringWarm / warm.seconds,
      ack_to_delivered_p99_ms: histogramQuantile(m, 'registry_gateway_delivery_latency_seconds', 0.99) * 1000,
      accepted,
      delivered: (await target.stats()).created,
    };
  } finally {
    gw.stop();
    target.stop();
  }
}

/** The warm run with delivery on the listener's own event loop, for comparison. */
async function inlineIngest(results: Partial<Results>): Promise<void> {
  const target = await Target.start();
  const gw = await Gateway.start(target, ', worker: false');
  try {
    wrk(gw.url);
    const before = (await target.stats()).created;
    const warm = wrk(gw.url);
    const duringWarm = (await target.stats()).created - before;
    console.log(`sqlite warm, delivery inline: ${warm.rps.toFixed(0)} req/s, p99 ${warm.p99ms} ms`);
    await delivered(target, await gw.accepted());
    const m = await metrics(gw.url);
    results.inline = {
      gateway_rps: warm.rps,
      gateway_p99_ms: warm.p99ms,
      delivered_per_s: duringWarm / warm.seconds,
      ack_to_delivered_p99_ms: histogramQuantile(m, 'registry_gateway_delivery_latency_seconds', 0.99) * 1000,
    };
  } finally {
    gw.stop();
    target.stop();
  }
}

async function backlog(results: Partial<Results>): Promise<void> {
  const target = await Target.start();
  await target.set(false);
  const gw = await Gateway.start(target, '');
  try {
    const refusedBefore = (await target.stats()).refused;
    // wrk runs for a duration, not a count: runs sized from the rate so far until the backlog is there.
    const run = { requests: 0, seconds: 0, p99ms: 0, rps: 0 };
    let accepted = 0;
    while (accepted < BACKLOG) {
      const rate = run.seconds > 0 ? run.requests / run.seconds : (results.ingest?.gateway_rps ?? 1000);
      const seconds = Math.ceil((0.9 * (BACKLOG - accepted)) / rate);
      // The first run is short so that the rate it measures sizes the rest without overshooting.
      const part = wrk(gw.url, {}, Math.max(1, run.seconds > 0 ? seconds : Math.min(15, seconds)));
      run.requests += part.requests;
      run.seconds += part.seconds;
      run.p99ms = Math.max(run.p99ms, part.p99ms);
      accepted = await gw.accepted();
    }
    run.rps = run.requests / run.seconds;
    const attemptsWhileDown = (await target.stats()).refused - refusedBefore;
    const rssDown = gw.peakRssMb();
    console.log(
      `backlog: ${accepted} accepted at ${run.rps.toFixed(0)}/s while the target was down; ${attemptsWhileDown} attempts against it`,
    );
    const upAt = Date.now();
    await target.set(true);
    await delivered(target, accepted, 420_000);
    const s = await target.stats();
    results.backlog = {
      events: accepted,
      rss_mb: gw.peakRssMb(),
      rss_mb_while_down: rssDown,
      ingest_rps_while_down: run.rps,
      ingest_p99_ms_while_down: run.p99ms,
      attempts_per_s_while_down: attemptsWhileDown / run.seconds,
      first_delivery_ms: s.firstCreatedAt - upAt,
      drain_per_s: accepted / Math.max(0.001, (s.lastCreatedAt - s.firstCreatedAt) / 1000),
      drain_seconds: (s.lastCreatedAt - upAt) / 1000,
    };
    console.log(
      `drain: ${results.backlog.drain_per_s.toFixed(0)}/s, first after ${results.backlog.first_delivery_ms} ms; peak RSS ${results.backlog.rss_mb.toFixed(0)} MiB`,
    );
  } finally {
    gw.stop();
    target.stop();
  }
}

async function postgresIngest(results: Partial<Results>): Promise<void> {
  const cluster = await PostgresCluster.create();
  const target = await Target.start();
  try {
    const gw = await Gateway.start(target, ', store: postgres', {
      DATABASE_URL: await cluster.createDatabase(),
    });
    try {
      const run = wrk(gw.url);
      console.log(`postgres: ${run.rps.toFixed(0)} req/s, p99 ${run.p99ms} ms`);
      const m = await metrics(gw.url);
      const commits = sum(m, 'registry_gateway_store_commit_seconds_count');
      // What a commit group came to: a group's size and time say whether the database or the listener limits.
      console.log(
        `postgres commits: ${commits}, ${(sum(m, 'registry_gateway_store_commit_batch_size_sum') / commits).toFixed(1)} requests and ${((1000 * sum(m, 'registry_gateway_store_commit_seconds_sum')) / commits).toFixed(1)} ms each`,
      );
      await delivered(target, await gw.accepted());
      results.postgres = {
        gateway_rps: run.rps,
        gateway_p50_ms: run.p50ms,
        gateway_p99_ms: run.p99ms,
        failed: run.errors + run.non2xx,
      };
    } finally {
      gw.stop();
    }
  } finally {
    target.stop();
    cluster.destroy();
  }
}

async function tracedIngest(results: Partial<Results>): Promise<void> {
  const target = await Target.start();
  const sink = await helper('otlp-sink');
  const sinkUrl = `http://127.0.0.1:${sink.port}`;
  const gw = await Gateway.start(target, '', {
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_TRACES_SAMPLER: 'always_on',
  });
  try {
    // The first run warms the process up, as the untraced warm row's cold run does.
    wrk(gw.url);
    const warm = wrk(gw.url);
    await delivered(target, await gw.accepted());
    const { exports } = (await axios.get(`${sinkUrl}/_stats`)).data as { exports: number };
    console.log(`sqlite warm, tracing on: ${warm.rps.toFixed(0)} req/s, p99 ${warm.p99ms} ms; ${exports} OTLP exports`);
    if (exports === 0) throw new Error('tracing on, but nothing reached the OTLP sink');
    results.tracing = {
      gateway_rps: warm.rps,
      gateway_p50_ms: warm.p50ms,
      gateway_p99_ms: warm.p99ms,
      exports,
      failed: warm.errors + warm.non2xx,
    };
  } finally {
    // The sink outlives the gateway, which exports its last spans as it stops.
    const exited = new Promise((resolve) => gw.proc.once('exit', resolve));
    gw.stop();
    await exited;
    target.stop();
    sink.proc.kill();
  }
}

const ONLY = process.env.BENCH_ONLY?.split(',');
const selected = (section: string) => !ONLY || ONLY.includes(section);

async function main() {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0)
    throw new Error('wrk is not installed (apt-get install wrk)');
  const started = Date.now();
  const results: Partial<Results> = {
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? '', node: process.version },
    load: `wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, loopback, unique ACR pushes`,
  };
  results.ingest = {} as Results['ingest'];
  if (selected('ceilings')) {
    const node = await ceiling('node-noop');
    const expressNoop = await ceiling('express-noop');
    console.log(`ceilings: node ${node.rps.toFixed(0)} req/s, express ${expressNoop.rps.toFixed(0)} req/s`);
    results.ingest = { node_noop_rps: node.rps, express_noop_rps: expressNoop.rps } as Results['ingest'];
  }
  if (selected('sqlite')) await sqliteIngest(results);
  // Right after the untraced warm run, so the two rows compare like with like.
  if (selected('tracing') && process.env.BENCH_TRACING !== '0') await tracedIngest(results);
  if (selected('inline')) await inlineIngest(results);
  if (selected('backlog')) await backlog(results);
  if (selected('postgres')) await postgresIngest(results);
  if (ONLY) return;
  results.seconds = (Date.now() - started) / 1000;
  mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = markdown(results as Results);
  writeFileSync(path.join(__dirname, 'results', 'latest.md'), md);
  console.log(`\n${md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
