import type { DeliverySettings } from '../types';
import { PostgresStore } from './postgres';
import { SqliteStore } from './sqlite';
import type { DeliveryStore, StoreOptions } from './types';

export type { DeliveryStore, Inspection, Ledger, Queue, RequestWriter, StoreOptions, StoreStats } from './types';
export type { RequestListing, RequestPage, RequestQuery, RequestRecord } from './request-log';

/** The engine `delivery.store` names: SQLite for one process, PostgreSQL for several replicas. */
export async function openStore(settings: DeliverySettings, options: StoreOptions = {}): Promise<DeliveryStore> {
  return settings.store === 'postgres' ? PostgresStore.open(settings, options) : SqliteStore.open(settings, options);
}
