import type { RegistryEvent } from '../model/event';

export interface AcceptResult {
  event: RegistryEvent;
  /** `(source, id)` was accepted before within the dedup window: nothing new was stored. */
  duplicate: boolean;
}

/** An event and the emitters it is routed to: one delivery row each. */
export interface RoutedEvent {
  event: RegistryEvent;
  emitters: string[];
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

export interface DeliverySettings {
  dir: string;
  maxAttempts: number;
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
  dedupWindowSeconds: number;
  /** Undelivered rows over which new events are refused with 503 (0 = no limit). */
  maxPending: number;
  /** Attempts in flight per emitter. */
  concurrency: number;
  /** How long delivered rows are kept before pruning. */
  deliveredRetentionSeconds: number;
}
