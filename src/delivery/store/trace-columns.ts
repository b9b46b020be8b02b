import type { TraceContext } from '../../observability/tracing';

/**
 * The W3C trace context an event was accepted in, kept on its row so that every attempt (after a
 * restart, on another replica, after a replay) continues the same trace. Both NULL when tracing
 * is off. Schema version 6 on both engines (migrations.ts).
 */
export function addTraceColumns(events: string): string {
  return `ALTER TABLE ${events} ADD COLUMN traceparent TEXT;
ALTER TABLE ${events} ADD COLUMN tracestate TEXT;`;
}

export interface TraceColumns {
  traceparent: string | null;
  tracestate: string | null;
}

/** The stored context as the dispatcher hands it to the attempt; undefined when none was stored. */
export function storedTrace(row: TraceColumns): TraceContext | undefined {
  if (!row.traceparent) return undefined;
  return row.tracestate
    ? { traceparent: row.traceparent, tracestate: row.tracestate }
    : { traceparent: row.traceparent };
}
