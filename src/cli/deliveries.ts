import { loadConfig } from '../gateway';
import { openStore } from '../delivery/store';
import type { HeldPart } from '../delivery/store/held-parts';
import type { DeliveryRecord, DeliveryState, ListFilter, TargetRecord } from '../delivery/types';
import type { Output } from './output';

export interface DeliveriesOptions {
  state?: string;
  emitter?: string;
  id?: string;
  delivery?: string[];
  limit?: string;
  json?: boolean;
}

const STATES: DeliveryState[] = ['pending', 'delivered', 'dead'];

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function table(rows: DeliveryRecord[]): string[] {
  const header = [
    'DELIVERY',
    'STATE',
    'EMITTER',
    'ATTEMPTS',
    'EVENT',
    'TYPE',
    'REGISTRY/REPO',
    'NEXT/DONE',
    'LAST ERROR',
  ];
  const lines = rows.map((r) => [
    String(r.id),
    r.state,
    r.emitter,
    String(r.attempts),
    r.eventId,
    r.type,
    r.repo ? `${r.registry}/${r.repo}` : r.registry,
    r.state === 'pending' ? iso(r.nextAttemptAt) : iso(r.deliveredAt ?? r.updatedAt),
    (r.lastError ?? '').replace(/\s+/g, ' ').slice(0, 120),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((cols) =>
    cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  '),
  );
}

/** One line per target: whether the gateway is delivering to it or has paused it as down. */
function targetLine(t: TargetRecord): string {
  const state =
    t.state === 'open'
      ? `DOWN since ${iso(t.since)}: deliveries paused, probed one at a time`
      : `up since ${iso(t.since)}`;
  const error =
    t.state === 'open' && t.lastError ? `; last error: ${t.lastError.replace(/\s+/g, ' ').slice(0, 200)}` : '';
  return `target ${t.emitter}: ${state}${error}`;
}

/**
 * A push by digest the store holds: no delivery row yet, and none if a tagged push of its
 * repository absorbs it before the window ends.
 */
function heldLine(p: HeldPart, orphans: 'deliver' | 'drop'): string {
  return (
    `held part ${p.id}: ${p.registry}/${p.repo}@${p.digest} (${p.kind}), waiting for a tagged push of its ` +
    `repository until ${iso(p.releaseAt)}, then ${orphans === 'drop' ? 'dropped' : 'delivered on its own'}`
  );
}

/**
 * `registry-gateway deliveries list|replay|drop --config F`: the operator's view of the store.
 * It opens the same store as the running gateways (the SQLite file, which WAL lets both use, or
 * the PostgreSQL schema); they notice replayed rows at once (PostgreSQL's NOTIFY) or on their
 * next poll.
 */
export async function deliveriesCommand(
  action: string,
  configPath: string,
  options: DeliveriesOptions,
  out: Output,
): Promise<number> {
  if (options.state !== undefined && !STATES.includes(options.state as DeliveryState)) {
    out.error(`--state must be one of ${STATES.join(', ')}`);
    return 2;
  }
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    out.error('--limit must be a positive whole number');
    return 2;
  }
  const ids = options.delivery?.map(Number);
  if (ids?.some((n) => !Number.isInteger(n))) {
    out.error('--delivery takes delivery numbers as shown by "deliveries list"');
    return 2;
  }
  const filter: ListFilter = {
    state: options.state as DeliveryState | undefined,
    emitter: options.emitter,
    eventId: options.id,
    ids,
    limit,
  };

  const config = loadConfig(configPath);
  const store = await openStore(config.delivery, { oneShot: true });
  try {
    switch (action) {
      case 'list': {
        const { rows, truncated } = await store.list(filter);
        if (options.json) rows.forEach((r) => out.info(JSON.stringify(r)));
        else table(rows).forEach((l) => out.info(l));
        if (truncated) {
          out.error(
            `showing the newest ${rows.length} matching deliveries; more match (raise --limit or narrow the filter)`,
          );
        }
        // On stderr, like the note above: stdout stays one delivery per line for scripts.
        for (const t of await store.targets()) {
          if (!options.emitter || t.emitter === options.emitter) out.error(targetLine(t));
        }
        for (const part of await store.listHeldParts({ state: 'held' }))
          out.error(heldLine(part, config.collapse.orphans));
        return 0;
      }
      case 'replay': {
        if (filter.state && filter.state !== 'dead') {
          out.error('replay re-queues dead-lettered deliveries only (--state dead)');
          return 2;
        }
        const n = await store.replay(filter);
        out.info(`re-queued ${n} dead-lettered deliver${n === 1 ? 'y' : 'ies'}`);
        return 0;
      }
      case 'drop': {
        if (filter.state === 'delivered') {
          out.error('delivered rows are pruned automatically; drop takes --state pending or dead');
          return 2;
        }
        if (!filter.state && !filter.emitter && !filter.eventId && !filter.ids) {
          out.error(
            'drop needs a filter (--state, --emitter, --id or --delivery) so it never empties the store by accident',
          );
          return 2;
        }
        const dropped = await store.drop({ ...filter, state: filter.state });
        out.info(`dropped ${dropped} deliver${dropped === 1 ? 'y' : 'ies'}`);
        return 0;
      }
      default:
        out.error(`unknown action "${action}": use list, replay or drop`);
        return 2;
    }
  } finally {
    await store.close();
  }
}
