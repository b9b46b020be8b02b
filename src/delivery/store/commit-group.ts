import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { RegistryEvent } from '../../model/event';
import type { Metrics } from '../../observability/metrics';
import type { TraceContext } from '../../observability/tracing';
import type { AcceptResult, RoutedEvent } from '../types';

/** An event ready to store: its emitters without repeats and its body serialised once. */
export interface PreparedEvent {
  event: RegistryEvent;
  emitters: string[];
  body: string;
  /** Routes the event again once the store added what only it knows (the tag change). */
  route?: (event: RegistryEvent) => string[];
  trace?: TraceContext;
}

/** One `accept()` call's events: stored together or not at all, answered per event. */
export type AcceptCall = PreparedEvent[];

/** What a commit answers for each call of the group: its results, or why that call was refused. */
export type CallOutcome = AcceptResult[] | Error;

export type CommitFn = (calls: AcceptCall[]) => Promise<CallOutcome[]>;

interface Waiting {
  call: AcceptCall;
  resolve(results: AcceptResult[]): void;
  reject(error: Error): void;
}

type GroupState = 'open' | 'draining' | 'closed';

/**
 * Group commit, shared by both engines. A durable commit costs an fsync (SQLite) or a WAL flush
 * and a round trip (PostgreSQL) whatever it holds, so every accept made before the event loop
 * next reaches its check phase joins one transaction, and all of their promises settle after
 * that single commit. A call is answered only from the commit's outcome: never a 2xx for
 * something that was not committed.
 */
export class CommitGroup {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private state: GroupState = 'open';

  constructor(
    private readonly commit: CommitFn,
    /** Turns an engine failure into what the callers see (UnavailableError for storage trouble). */
    private readonly refusal: (err: unknown) => Error,
    private readonly metrics?: Metrics,
    private readonly logger?: Logger,
    /**
     * Groups committing at once. While they are full, new calls wait and join the next group:
     * on PostgreSQL a commit is a round trip away, and a group started for each loop turn would
     * commit one or two events each, every one paying its own WAL flush (and, for pushes of one
     * repository, waiting in turn on that repository's lock).
     */
    private readonly maxInFlight = Infinity,
  ) {}

  get accepting(): boolean {
    return this.state === 'open';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  add(routed: RoutedEvent[]): Promise<AcceptResult[]> {
    if (this.state !== 'open') {
      return Promise.reject(
        new UnavailableError(this.state === 'closed' ? 'the delivery store is closed' : 'the gateway is shutting down'),
      );
    }
    let call: AcceptCall;
    try {
      // Serialised here, outside the shared transaction, so one odd event fails only its own call.
      call = routed.map(({ event, emitters, route, trace }) => {
        if (typeof event?.id !== 'string' || typeof event.source !== 'string') {
          throw new TypeError('an event to store needs a string id and source');
        }
        return { event, emitters: [...new Set(emitters)], body: JSON.stringify(event), route, trace };
      });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (call.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ call, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight.size >= this.maxInFlight) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request already read from the sockets in this loop
    // turn joins the group before the commit starts.
    setImmediate(() => void this.flush());
  }

  /** Refuses new calls; resolves once every call already taken in has its answer. */
  async drain(): Promise<void> {
    if (this.state === 'open') this.state = 'draining';
    // Calls held back by maxInFlight join a group as the ones before them finish.
    while (this.waiting.length > 0 || this.inFlight.size > 0) {
      await this.flush();
      await Promise.all(this.inFlight);
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.state = 'closed';
  }

  private flush(): Promise<void> {
    this.scheduled = false;
    const group = this.waiting;
    this.waiting = [];
    if (group.length === 0) return Promise.resolve();
    const run = this.run(group);
    this.inFlight.add(run);
    return run.finally(() => {
      this.inFlight.delete(run);
      this.schedule();
    });
  }

  private async run(group: Waiting[]): Promise<void> {
    const started = process.hrtime.bigint();
    let outcomes: CallOutcome[];
    try {
      outcomes = await this.commit(group.map((w) => w.call));
    } catch (err) {
      const refusal = this.refusal(err);
      this.logger?.error(
        { err: refusal, requests: group.length },
        'store commit failed; nothing in it was acknowledged',
      );
      for (const w of group) w.reject(refusal);
      return;
    }
    this.metrics?.commitDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics?.commitBatchSize.observe(group.length);
    outcomes.forEach((outcome, i) => {
      if (outcome instanceof Error) group[i].reject(outcome);
      else group[i].resolve(outcome);
    });
  }
}

/** Longest `last_error` kept: enough to diagnose, bounded so a chatty target cannot bloat rows. */
const MAX_ERROR_LENGTH = 2000;

export function truncateError(error: string): string {
  return error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH - 1)}…` : error;
}

/** A pending count older than this is read again before deciding on maxPending. */
export const PENDING_COUNT_TTL_MS = 1000;

/** Both engines refuse a group over `maxPending` the same way. */
export function tooManyPending(pending: number, limit: number): UnavailableError {
  return new UnavailableError(`too many undelivered events (${pending} pending, limit ${limit})`, 30);
}
