import { loadConfig } from '../gateway';
import { requestQuery, type RequestFilterInput } from '../delivery/request-query';
import { openStore, type RequestListing, type RequestQuery } from '../delivery/store';
import type { Output } from './output';

export interface RequestsOptions {
  status?: string;
  provider?: string;
  'token-name'?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

function outcomeOf(r: RequestListing): string {
  if (r.events.length > 0) return `${r.result} ${r.events.map((e) => e.id).join(',')}`;
  return r.reason ? `${r.result}: ${r.reason}` : r.result;
}

function table(rows: RequestListing[]): string[] {
  const header = ['TIME', 'STATUS', 'PROVIDER', 'TOKEN', 'SOURCE', 'PATH', 'MS', 'OUTCOME'];
  const lines = rows.map((r) => [
    new Date(r.receivedAt).toISOString(),
    String(r.status),
    r.provider ?? '-',
    r.token ?? '-',
    r.source,
    `${r.method} ${r.path}`,
    r.latencyMs.toFixed(1),
    outcomeOf(r).replace(/\s+/g, ' ').slice(0, 160),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((cols) =>
    cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  '),
  );
}

/**
 * `registry-gateway requests list --config F`: the request log, newest first, from the same store
 * the running gateway writes it to (rows reach it within a quarter second of the answer).
 */
export async function requestsCommand(
  action: string,
  configPath: string,
  options: RequestsOptions,
  out: Output,
): Promise<number> {
  if (action !== 'list') {
    out.error(`unknown action "${action}": use list`);
    return 2;
  }
  const input: RequestFilterInput = { ...options, token: options['token-name'] };
  let query: RequestQuery;
  try {
    query = requestQuery(input, Date.now());
  } catch (err) {
    out.error(`--${(err as Error).message.replace(/^token\b/, 'token-name')}`);
    return 2;
  }
  const config = loadConfig(configPath);
  const store = await openStore(config.delivery, { oneShot: true });
  try {
    const page = await store.listRequests(query);
    if (options.json) page.requests.forEach((r) => out.info(JSON.stringify(r)));
    else table(page.requests).forEach((l) => out.info(l));
    if (page.nextBefore !== undefined) {
      out.error(
        `showing the newest ${page.requests.length} matching requests; more match (raise --limit or narrow the filter)`,
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
