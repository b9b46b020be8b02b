import express, { type Request, type Response, type Router } from 'express';
import type { DeliveryRecord, EventQuery } from '../delivery/types';
import { eventQuery, filtersOf, type Filters } from './filters';
import type { ConsoleDeps, PageContext } from './types';
import { helpers, render } from './view';

/**
 * The console's actions. Each has a confirmation page (a GET that changes nothing) whose form
 * POSTs the action with the session's CSRF token, so a link alone can never act, and each is
 * logged with the operator who did it.
 */
interface Action {
  verb: string;
  danger: boolean;
  /** What the notice after it says was done: `replayed`, `dropped`, `retried`, `resent`. */
  done: string;
  /** The question on the confirmation page, or undefined when there is nothing to act on. */
  question(target: Target): string | undefined;
  run(deps: ConsoleDeps, target: Target, by: { operator: string; now: number }): Promise<number>;
  /** Where the operator lands afterwards. */
  back(target: Target): string;
}

interface Target {
  seq?: number;
  eventId?: string;
  emitter?: string;
  /** The events page's filter a bulk action acts on, and the dead rows it selects. */
  filters?: Filters;
  deliveries: DeliveryRecord[];
}

const ids = (rows: DeliveryRecord[], keep: (row: DeliveryRecord) => boolean) => rows.filter(keep).map((r) => r.id);
const isDead = (row: DeliveryRecord) => row.state === 'dead';
const isPending = (row: DeliveryRecord) => row.state === 'pending';
const isDelivered = (row: DeliveryRecord) => row.state === 'delivered';
const isUndelivered = (row: DeliveryRecord) => row.state !== 'delivered';
const plural = (n: number) => `${n} ${n === 1 ? 'delivery' : 'deliveries'}`;
const eventPage = (t: Target) => `/console/events/${t.seq}`;
const targetNames = (rows: DeliveryRecord[]) => [...new Set(rows.map((r) => r.emitter))].join(', ');

const ACTIONS: Record<string, Action> = {
  'replay-event': {
    verb: 'Replay',
    danger: false,
    done: 'replayed',
    question: (t) => {
      const n = ids(t.deliveries, isDead).length;
      return n
        ? `Replay ${plural(n)} of event ${t.eventId}? Dead-lettered deliveries go back in the queue, due now.`
        : undefined;
    },
    run: (deps, t) => deps.store.replay({ ids: ids(t.deliveries, isDead) }),
    back: eventPage,
  },
  'retry-event': {
    verb: 'Retry now',
    danger: false,
    done: 'retried',
    question: (t) => {
      const rows = t.deliveries.filter(isPending);
      return rows.length
        ? `Retry ${plural(rows.length)} of event ${t.eventId} to ${targetNames(rows)} now, without waiting for the backoff?`
        : undefined;
    },
    run: (deps, t, by) => deps.store.retryNow(ids(t.deliveries, isPending), by.now),
    back: eventPage,
  },
  'resend-event': {
    verb: 'Send again',
    danger: false,
    done: 'resent',
    question: (t) => {
      const rows = t.deliveries.filter(isDelivered);
      return rows.length
        ? `Send event ${t.eventId} again to ${targetNames(rows)}? It was delivered; a new delivery is made and recorded as sent again, the first one stays as it was.`
        : undefined;
    },
    run: (deps, t, by) => deps.store.sendAgain(ids(t.deliveries, isDelivered), `sent again by ${by.operator}`, by.now),
    back: eventPage,
  },
  'drop-event': {
    verb: 'Drop',
    danger: true,
    done: 'dropped',
    question: (t) => {
      const n = ids(t.deliveries, isUndelivered).length;
      return n ? `Drop ${plural(n)} of event ${t.eventId} for good? They will never be delivered.` : undefined;
    },
    run: (deps, t) => deps.store.drop({ ids: ids(t.deliveries, isUndelivered) }),
    back: eventPage,
  },
  'replay-filter': {
    verb: 'Replay all',
    danger: false,
    done: 'replayed',
    question: (t) => {
      const n = t.deliveries.length;
      const shown = Object.entries(t.filters ?? {})
        .map(([k, v]) => `${k} = ${v}`)
        .join(', ');
      return n
        ? `Replay ${plural(n)}: every dead delivery of the events ${shown ? `matching ${shown}` : 'stored'}?`
        : undefined;
    },
    run: (deps, t) => deps.store.replay({ ids: t.deliveries.map((d) => d.id) }),
    back: (t) => helpers.url('/console/events', { ...t.filters }),
  },
  'replay-target': {
    verb: 'Replay all',
    danger: false,
    done: 'replayed',
    question: (t) => `Replay every dead delivery of ${t.emitter}?`,
    run: (deps, t) => deps.store.replay({ emitter: t.emitter }),
    back: () => '/console/targets',
  },
  'drop-target': {
    verb: 'Drop all',
    danger: true,
    done: 'dropped',
    question: (t) => `Drop every dead delivery of ${t.emitter} for good?`,
    run: (deps, t) => deps.store.drop({ emitter: t.emitter, state: 'dead' }),
    back: () => '/console/targets',
  },
};

/** What the action acts on, from the query (confirmation) or the form (action); undefined if nothing. */
async function targetOf(deps: ConsoleDeps, name: string, fields: Record<string, unknown>): Promise<Target | undefined> {
  if (name.endsWith('-target')) {
    const emitter = typeof fields.emitter === 'string' ? fields.emitter : '';
    return /^[A-Za-z0-9._-]{1,64}$/.test(emitter) ? { emitter, deliveries: [] } : undefined;
  }
  if (name.endsWith('-filter')) {
    const filters = filtersOf(fields);
    delete filters.before;
    const query: EventQuery = eventQuery(filters);
    const dead = await deps.store.deadIds(query);
    // Only the ids matter to the action; the rest of each record is not read.
    return { filters, deliveries: dead.map((id) => ({ id, state: 'dead' }) as DeliveryRecord) };
  }
  const seq = Number(fields.seq);
  const detail = Number.isSafeInteger(seq) ? await deps.store.eventDetail(seq) : undefined;
  if (!detail) return undefined;
  // One delivery of the event when the form names one (a row's own button), else all of them.
  const one = Number(fields.delivery);
  const deliveries = Number.isSafeInteger(one) ? detail.deliveries.filter((d) => d.id === one) : detail.deliveries;
  return { seq, eventId: detail.event.id, deliveries };
}

/** The confirmation form's hidden fields: what `targetOf` reads back when it is posted. */
function fieldsOf(target: Target, query: Record<string, unknown>): Record<string, string | number> {
  if (target.emitter !== undefined) return { emitter: target.emitter };
  if (target.filters !== undefined) return { ...target.filters };
  const delivery = Number(query.delivery);
  return Number.isSafeInteger(delivery) ? { seq: target.seq!, delivery } : { seq: target.seq! };
}

function actionOf(name: string): Action | undefined {
  return Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
}

export function actionRoutes(deps: ConsoleDeps, clock: () => number): Router {
  const router = express.Router();
  const page = (res: Response) => res.locals.console as PageContext;
  const nothing = (res: Response) =>
    render(
      res,
      'message',
      { ...page(res), title: 'Nothing to do', message: 'There is nothing left to act on here.' },
      404,
    );

  router.get('/actions/:name', async (req: Request, res, next) => {
    const name = req.params.name as string;
    const action = actionOf(name);
    if (!action) return next();
    const target = await targetOf(deps, name, req.query);
    const question = target && action.question(target);
    if (!target || !question) return nothing(res);
    render(res, 'confirm', {
      ...page(res),
      title: `${action.verb}?`,
      question,
      verb: action.verb,
      danger: action.danger,
      action: `/console/actions/${name}`,
      fields: fieldsOf(target, req.query),
      back: action.back(target),
    });
  });

  router.post('/actions/:name', async (req: Request, res, next) => {
    const name = req.params.name as string;
    const action = actionOf(name);
    if (!action) return next();
    const target = await targetOf(deps, name, req.body as Record<string, unknown>);
    if (!target) return nothing(res);
    const { operator } = page(res);
    const count = await action.run(deps, target, { operator, now: clock() });
    deps.logger.info(
      { operator, action: name, seq: target.seq, eventId: target.eventId, emitter: target.emitter, deliveries: count },
      `console: ${name} by ${operator}`,
    );
    if (action.done !== 'dropped' && count > 0) deps.requeued?.();
    const back = action.back(target);
    const notice = new URLSearchParams({ done: action.done, n: String(count) });
    res.redirect(303, `${back}${back.includes('?') ? '&' : '?'}${notice.toString()}`);
  });
  return router;
}
