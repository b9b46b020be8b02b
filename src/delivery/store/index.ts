import type { DeliverySettings } from '../types';
import type { DeliveryStore, StoreOptions } from './types';

export type { DeliveryStore, Inspection, Ledger, Queue, RequestWriter, StoreOptions, StoreStats } from './types';
export type { RequestListing, RequestPage, RequestQuery, RequestRecord } from './request-log';

/**
 * The engine `delivery.store` names: SQLite for one process, PostgreSQL for several replicas.
 * Each engine (and its driver) is required only when named, so a gateway on SQLite loads no pg
 * in either of its threads, and one on PostgreSQL no SQLite addon.
 */
export async function openStore(settings: DeliverySettings, options: StoreOptions = {}): Promise<DeliveryStore> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (settings.store === 'postgres') {
    const { PostgresStore } = require('./postgres') as typeof import('./postgres');
    return PostgresStore.open(settings, options);
  }
  const { SqliteStore } = require('./sqlite') as typeof import('./sqlite');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return SqliteStore.open(settings, options);
}
