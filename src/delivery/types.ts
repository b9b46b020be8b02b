import type { Exchange } from '../emitters/exchange';
import type { RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';

/**
 * Where the HTTP edge hands accepted events: 202 means `accept` resolved (the durable store
 * committed them). It lives here, below the edge, so that the edge calls delivery and delivery
 * never imports the edge.
 */
export interface EventIntake {
  accept(events: RegistryEvent[]): Promise<AcceptResult[]>;
}

export interface AcceptResult {
  event: RegistryEvent;
  /** `(source, id)` was accepted before within the dedup window: nothing new was stored. */
  duplicate: boolean;
}

/** An event and the emitters it is routed to: one delivery row each. */
export interface RoutedEvent {
  event: RegistryEvent;
  emitters: string[];
  /**
   * Routing itself, for the store to run again once it has added the tag change (which a
   * `changes` filter reads and only the store's transaction knows).
   */
  route?: (event: RegistryEvent) => string[];
  /** The trace the event was accepted in, stored with it for its delivery attempts. */
  trace?: TraceContext;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/** The config's `delivery` section, defined with the other sections and read here. */
export type { DeliverySettings } from '../config/types';
/** `claim` options. */
export interface ClaimOptions {
  /**
   * Take the soonest pending rows whatever their due time: a circuit probe asks "is the target
   * back?", which any row answers, so it must not wait out one row's backoff timer.
   */
  anyDueTime?: boolean;
}

/** A target's health as the dispatcher judges it: `open` = paused, probed with one delivery. */
export type TargetState = 'closed' | 'open';

/** One target's circuit as recorded in the store, for operators in another process. */
export interface TargetRecord {
  emitter: string;
  state: TargetState;
  /** Epoch ms of the last change of state. */
  since: number;
  /** The failure that opened the circuit, or the latest failed probe. */
  lastError?: string;
  updatedAt: number;
}

/** A pending delivery whose next attempt is due, with the event it carries. */
export interface DueDelivery {
  id: number;
  emitter: string;
  /** Attempts already made (0 for a fresh or replayed row). */
  attempts: number;
  /** Epoch ms at which the event was stored: the start of the delivery latency. */
  acceptedAt: number;
  event: RegistryEvent;
  /** The trace the event was accepted in, when tracing was on then. */
  trace?: TraceContext;
}

/** One delivery as the operator sees it (`deliveries list`). Times are epoch milliseconds. */
export interface DeliveryRecord {
  id: number;
  eventId: string;
  source: string;
  provider: string;
  type: string;
  registry: string;
  repo?: string;
  emitter: string;
  state: DeliveryState;
  attempts: number;
  lastError?: string;
  acceptedAt: number;
  createdAt: number;
  updatedAt: number;
  /** When the next attempt is due; meaningful for pending rows only. */
  nextAttemptAt: number;
  deliveredAt?: number;
  /** Why the row exists besides routing ("sent again by alice"); the console's event detail only. */
  note?: string;
}

/** Selects delivery rows for the operator commands; absent fields select everything. */
export interface DeliveryFilter {
  emitter?: string;
  eventId?: string;
  source?: string;
  /** Delivery row ids as shown by `deliveries list`. */
  ids?: number[];
}

export interface ListFilter extends DeliveryFilter {
  state?: DeliveryState;
  /** Most rows returned, newest first (default 100). */
  limit?: number;
}

export interface DeliveryPage {
  rows: DeliveryRecord[];
  /** More rows matched than `limit` let through. */
  truncated: boolean;
}

export interface DropFilter extends DeliveryFilter {
  /** Only rows in this state; absent = pending and dead (delivered rows are pruned, not dropped). */
  state?: 'pending' | 'dead';
}

export interface DeliveryCounts {
  emitter: string;
  pending: number;
  dead: number;
}

export interface PruneResult {
  deliveries: number;
  events: number;
  dedupKeys: number;
  /** Rows of the request log past its retention or its cap. */
  requests: number;
}

/** One attempt at a delivery, as the dispatcher saw it: the console's attempt history. */
export interface AttemptRecord {
  deliveryId: number;
  emitter: string;
  /**
   * The row's attempt count once this attempt was made: 1 for the first attempt of a row (a
   * replay starts again at 1); an uncounted probe repeats the count before it.
   */
  attempt: number;
  /** Epoch ms at which the attempt started. */
  startedAt: number;
  durationMs: number;
  ok: boolean;
  /** The target's HTTP status, when it answered one. */
  status?: number;
  error?: string;
  /** Made as the circuit's probe of a target that was down. */
  probe?: boolean;
  /**
   * false for a probe that failed as the target's failure: it spends none of the row's attempts,
   * so `attempt` repeats the count before it. Absent = counted: the row's attempt count is the
   * number of counted attempts, and they are numbered 1 to that count.
   */
  counted?: boolean;
  /** The requests the attempt sent, credentials hidden, with each answer (the body's start). */
  exchanges?: Exchange[];
}

/** Selects events for the console; absent fields select everything. */
export interface EventQuery {
  provider?: string;
  registry?: string;
  repo?: string;
  tag?: string;
  type?: string;
  eventId?: string;
  /** Events with at least one delivery in this state. */
  state?: DeliveryState;
  /** Keyset cursor: only events stored before this sequence number. */
  before?: number;
  /** Most events returned, newest first (default 50). */
  limit?: number;
}

/** One event of the console's list, with its delivery state per target. */
export interface EventListing {
  /** The store's sequence number: unique, unlike `(source, id)` once the dedup window passed. */
  seq: number;
  id: string;
  source: string;
  provider: string;
  type: string;
  registry: string;
  repo?: string;
  tag?: string;
  acceptedAt: number;
  deliveries: { emitter: string; state: DeliveryState; attempts: number }[];
}

export interface EventListPage {
  events: EventListing[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  nextBefore?: number;
}

export interface EventDetail {
  seq: number;
  acceptedAt: number;
  event: RegistryEvent;
  deliveries: DeliveryRecord[];
  /** Oldest first. */
  attempts: AttemptRecord[];
}

/** A target's queue and recent outcomes, as the console's Targets page shows them. */
export interface TargetHealth {
  emitter: string;
  pending: number;
  dead: number;
  /** Delivered rows still kept (deliveredRetentionSeconds). */
  delivered: number;
  /** Delivered within the `recentMs` asked for. */
  deliveredRecently: number;
  lastError?: { message: string; at: number; status?: number };
  /** Epoch ms of the newest delivery still kept (deliveredRetentionSeconds). */
  lastSuccess?: number;
  /** The target's circuit, where the store keeps one; absent otherwise. */
  circuit?: { state: string; since: number; lastError?: string };
}
