/** The bench's results file and its Markdown rendering, with the goals of issue #20 beside them. */
export interface Results {
  machine: { cores: number; cpu: string; node: string };
  load: string;
  seconds: number;
  ingest: {
    node_noop_rps: number;
    express_noop_rps: number;
    gateway_rps: number;
    gateway_p50_ms: number;
    gateway_p99_ms: number;
    gateway_max_ms: number;
    gateway_cold_rps: number;
    gateway_cold_p50_ms: number;
    gateway_cold_p99_ms: number;
    gateway_failed: number;
  };
  delivery: { delivered_per_s: number; ack_to_delivered_p99_ms: number; accepted: number; delivered: number };
  /** The warm run again with `delivery.worker: false`: delivery on the listener's event loop. */
  inline?: { gateway_rps: number; gateway_p99_ms: number; delivered_per_s: number; ack_to_delivered_p99_ms: number };
  backlog: {
    events: number;
    rss_mb: number;
    rss_mb_while_down: number;
    drain_per_s: number;
    drain_seconds: number;
    first_delivery_ms: number;
    attempts_per_s_while_down: number;
    ingest_rps_while_down: number;
    ingest_p99_ms_while_down: number;
  };
  postgres: { gateway_rps: number; gateway_p50_ms: number; gateway_p99_ms: number; failed: number };
  /** The warm SQLite run again with tracing on, every trace sampled, OTLP/HTTP to a local sink. */
  tracing?: { gateway_rps: number; gateway_p50_ms: number; gateway_p99_ms: number; exports: number; failed: number };
}

/** The comparison row: the same warm run with delivery on the listener's own thread. */
function inlineRows(r: Results): [string, string, string, boolean][] {
  const x = r.inline;
  if (!x) return [];
  return [
    [
      'the same, delivery on the listener thread (`delivery.worker: false`)',
      `${n(x.gateway_rps)} req/s, p99 ${n(x.gateway_p99_ms, 1)} ms; delivered ${n(x.delivered_per_s)}/s (${n(x.delivered_per_s / x.gateway_rps, 2)}x ingest), ack→delivered p99 ${n(x.ack_to_delivered_p99_ms)} ms`,
      '',
      true,
    ],
  ];
}

const n = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

export function markdown(r: Results): string {
  const i = r.ingest;
  const b = r.backlog;
  const rows: [string, string, string, boolean][] = [
    ['bare Node http no-op', `${n(i.node_noop_rps)} req/s`, '', true],
    ['express + express.json() no-op', `${n(i.express_noop_rps)} req/s`, '', true],
    [
      'gateway, SQLite, cold',
      `${n(i.gateway_cold_rps)} req/s, p50 ${n(i.gateway_cold_p50_ms, 1)} ms, p99 ${n(i.gateway_cold_p99_ms, 1)} ms`,
      'p99 ≤ 50 ms',
      i.gateway_cold_p99_ms <= 50,
    ],
    [
      'gateway, SQLite, warm',
      `${n(i.gateway_rps)} req/s (${n(i.gateway_rps / i.express_noop_rps, 2)}x express), p50 ${n(i.gateway_p50_ms, 1)} ms, p99 ${n(i.gateway_p99_ms, 1)} ms`,
      '≥ 0.6x express, p99 ≤ 30 ms',
      i.gateway_rps >= 0.6 * i.express_noop_rps && i.gateway_p99_ms <= 30,
    ],
    [
      'delivered during the warm run',
      `${n(r.delivery.delivered_per_s)}/s (${n(r.delivery.delivered_per_s / i.gateway_rps, 2)}x ingest), ack→delivered p99 ${n(r.delivery.ack_to_delivered_p99_ms)} ms`,
      '≥ 0.9x ingest, p99 ≤ 1 s',
      r.delivery.delivered_per_s >= 0.9 * i.gateway_rps && r.delivery.ack_to_delivered_p99_ms <= 1000,
    ],
    ...inlineRows(r),
    [
      `backlog of ${b.events} with the target down`,
      `ingest ${n(b.ingest_rps_while_down)} req/s (${n(b.ingest_rps_while_down / i.gateway_rps, 2)}x up), p99 ${n(b.ingest_p99_ms_while_down, 1)} ms; ${n(b.attempts_per_s_while_down, 2)} attempts/s at the target`,
      '≥ 0.9x ingest while up; ≤ 2 attempts/s',
      b.ingest_rps_while_down >= 0.9 * i.gateway_rps && b.attempts_per_s_while_down <= 2,
    ],
    [
      'peak RSS',
      `${n(b.rss_mb)} MiB (${n(b.rss_mb_while_down)} MiB at the end of the outage)`,
      '≤ 150 MiB',
      b.rss_mb <= 150,
    ],
    [
      'target back: drain',
      `first delivery after ${n(b.first_delivery_ms)} ms; ${n(b.drain_per_s)} events/s (all in ${n(b.drain_seconds, 1)} s)`,
      '≥ 3000/s, first within 2 s',
      b.drain_per_s >= 3000 && b.first_delivery_ms <= 2000,
    ],
    [
      'gateway, PostgreSQL',
      `${n(r.postgres.gateway_rps)} req/s (${n(r.postgres.gateway_rps / i.gateway_rps, 2)}x SQLite), p50 ${n(r.postgres.gateway_p50_ms, 1)} ms, p99 ${n(r.postgres.gateway_p99_ms, 1)} ms`,
      '≥ 0.7x SQLite, p99 ≤ 50 ms',
      r.postgres.gateway_rps >= 0.7 * i.gateway_rps && r.postgres.gateway_p99_ms <= 50,
    ],
  ];
  if (r.tracing) {
    const t = r.tracing;
    rows.splice(4, 0, [
      'gateway, SQLite, warm, tracing on (sampling 1.0)',
      `${n(t.gateway_rps)} req/s (${n(t.gateway_rps / i.gateway_rps, 2)}x tracing off), p50 ${n(t.gateway_p50_ms, 1)} ms, p99 ${n(t.gateway_p99_ms, 1)} ms; ${t.exports} OTLP exports`,
      '',
      true,
    ]);
  }
  return [
    `registry-gateway benchmark: ${r.machine.cores} cores (${r.machine.cpu}), Node ${r.machine.node}; ${r.load}; Brigade emitter to a local fake; whole run ${n(r.seconds)} s`,
    '',
    '| run | measured | goal | |',
    '|---|---|---|---|',
    ...rows.map(([run, measured, goal, ok]) => `| ${run} | ${measured} | ${goal} | ${goal ? verdict(ok) : ''} |`),
    '',
  ].join('\n');
}
