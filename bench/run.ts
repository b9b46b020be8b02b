/**
 * `make bench`: the gateway process under wrk load on loopback. Three request kinds show where
 * time goes: an ignored ping (HTTP, auth, parsing), a duplicate (plus a dedup lookup and a
 * commit-free answer) and a unique push (plus the durable group commit). Afterwards it reads the
 * store's commit metrics and waits until every accepted event was delivered, so the numbers are
 * for events that were really kept and sent on. Then the unique pushes again on PostgreSQL. Prints
 * a Markdown table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import axiosDefault from 'axios';
import { PostgresCluster } from '../test/helpers/postgres';

const ROOT = path.resolve(__dirname, '..');
// A fresh connection per call: a pooled one may sit idle through a whole wrk run.
const axios = axiosDefault.create({ httpAgent: new http.Agent({ keepAlive: false }) });
const TOKEN = 'bench-token-0a1b2c3d4e5f';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function metricSum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

interface Row {
  store: string;
  mode: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  failed: number;
  groups: number;
  perCommit: string;
}

/**
 * Starts one gateway on `storeYaml`, puts each mode under wrk load, then waits until every accepted
 * push was delivered (so the numbers are for events really kept and sent on).
 */
async function benchGateway(
  store: string,
  storeYaml: string,
  modes: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-bench-'));
  const port = await freePort();
  const config = path.join(dir, 'values.yaml');
  writeFileSync(
    config,
    `tokens: {bench: ${TOKEN}}
emitters: {log: {enabled: true}}
delivery: {dir: ${dir}, dedupWindowSeconds: 3600${storeYaml}}
server: {port: ${port}, bodyLimit: 64kb}
logLevel: warn
`,
  );
  const gateway = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ok = await axios.get(`${url}/readyz`, { validateStatus: () => true }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 200) throw new Error('gateway did not become ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const rows: Row[] = [];
    let commitsBefore = 0;
    let batchedBefore = 0;
    for (const mode of modes) {
      const wrk = spawnSync(
        'wrk',
        ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', path.join(__dirname, 'post.lua'), url],
        { encoding: 'utf8', env: { ...process.env, BENCH_MODE: mode, BENCH_TOKEN: TOKEN } },
      );
      const line = wrk.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
      if (!line) throw new Error(`wrk printed no summary:\n${wrk.stdout}\n${wrk.stderr}`);
      const r = JSON.parse(line);
      const m = (await axios.get(`${url}/metrics`)).data as string;
      const commits = metric(m, 'registry_gateway_store_commit_seconds_count');
      const batched = metric(m, 'registry_gateway_store_commit_batch_size_sum');
      const groups = commits - commitsBefore;
      const perCommit = groups > 0 ? ((batched - batchedBefore) / groups).toFixed(1) : '-';
      commitsBefore = commits;
      batchedBefore = batched;
      rows.push({
        store,
        mode,
        rps: r.rps,
        p50ms: r.p50ms,
        p99ms: r.p99ms,
        requests: r.requests,
        failed: r.non2xx + r.errors,
        groups,
        perCommit,
      });
    }
    const m = (await axios.get(`${url}/metrics`)).data as string;
    const accepted = metricSum(m, 'registry_gateway_events_total{provider="acr",type="push",outcome="accepted"}');
    const started = Date.now();
    let pending = NaN;
    while (Date.now() - started < 120_000) {
      const text = (await axios.get(`${url}/metrics`)).data as string;
      pending = metricSum(text, 'registry_gateway_deliveries_pending');
      if (pending === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const delivered = metricSum(
      (await axios.get(`${url}/metrics`)).data as string,
      'registry_gateway_deliveries_total{emitter="log",outcome="succeeded"}',
    );
    const drainSeconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `${store}: accepted pushes ${accepted}; delivered ${delivered}; pending after the run ${pending} (drained ${drainSeconds}s after load)`,
    );
    if (pending !== 0 || delivered < accepted) {
      console.error(`${store}: not every accepted event was delivered`);
      process.exitCode = 1;
    }
    return rows;
  } finally {
    gateway.kill('SIGTERM');
  }
}

async function main() {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0)
    throw new Error('wrk is not installed (apt-get install wrk)');
  const rows = await benchGateway('sqlite', '', ['ignored', 'duplicate', 'unique']);
  // The same unique-push load against the PostgreSQL engine, on a throwaway local cluster.
  const cluster = await PostgresCluster.create();
  try {
    const url = await cluster.createDatabase();
    rows.push(...(await benchGateway('postgres', ', store: postgres', ['unique'], { DATABASE_URL: url })));
  } finally {
    cluster.destroy();
  }
  console.log(
    `\nregistry-gateway benchmark: ${os.cpus().length} cores, wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, loopback, log emitter`,
  );
  console.log(
    '\n| store | requests | req/s | p50 ms | p99 ms | total | non-2xx/errors | store commits | requests per commit |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.store} | ${r.mode} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.requests} | ${r.failed} | ${r.groups} | ${r.perCommit} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
