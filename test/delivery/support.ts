import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { DeliverySettings } from '../../src/delivery/types';
import type { RegistryEvent } from '../../src/model/event';
import { memoryLogger } from '../helpers/logger';

/** A fresh store directory per test; removed by cleanup(). */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-delivery-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function settings(dir: string, overrides: Partial<DeliverySettings> = {}): DeliverySettings {
  return {
    store: 'sqlite',
    dir,
    postgres: { url: '', poolSize: 4, schema: 'registry_gateway', leaseSeconds: 60 },
    maxAttempts: 5,
    initialBackoffSeconds: 0.005,
    maxBackoffSeconds: 0.02,
    dedupWindowSeconds: 3600,
    maxPending: 0,
    concurrency: 4,
    worker: false,
    deliveredRetentionSeconds: 3600,
    maxStoreBytes: 0,
    ...overrides,
  };
}

/** An ACR push; an override of `undefined` removes the field, as a parser would omit it. */
export function makeEvent(id: string, overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  const event: RegistryEvent = {
    id,
    provider: 'acr',
    source: 'brigade.sh/acr',
    type: 'push',
    registry: 'myreg.azurecr.io',
    repo: 'library/app',
    tag: 'v1',
    time: '2024-05-01T12:00:00Z',
    payload: { id, action: 'push' },
    ...overrides,
  };
  for (const [key, value] of Object.entries(event)) {
    if (value === undefined) delete (event as unknown as Record<string, unknown>)[key];
  }
  return event;
}

/** The shared in-memory logger at debug level, its parsed lines as `lines`. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const { logger, records } = memoryLogger('debug');
  return { logger, lines: records };
}
