import express, { type Request, type Response, type Router } from 'express';
import type { DeliveryRecord } from '../delivery/types';
import type { ConsoleDeps, PageContext } from './types';
import { helpers, render } from './view';

/**
 * The console's four actions. Each has a confirmation page (a GET that changes nothing) whose
 * form POSTs the action with the session's CSRF token, so a link alone can never act, and each
 * is logged with the operator who did it.
 */
interface Action {
  verb: string;
  danger: boolean;
  /** The question on the confirmation page, or undefined when there is nothing to act on. */
  question(target: Target): string | undefined;
  run(deps: ConsoleDeps, target: Target): Promise<number>;
  /** Where the operator lands afterwards. */
  back(target: Target): string;
}

interface Target {
  seq?: number;
  eventId?: string;
  emitter?: string;
  deliveries: DeliveryRecord[];
}

const ids = (rows: DeliveryRecord[], keep: (row: DeliveryRecord) => boolean) => rows.filter(keep).map((r) => r.id);
const isDead = (row: DeliveryRecord) => row.state === 'dead';
const isUndelivered = (row: DeliveryRecord) => row.state !== 'delivered';
const plural = (n: number) => `${n} ${n === 1 ? 'delivery' : 'deliveries'}`;
const eventPage = (t: Target) => `/console/events/${t.seq}`;

const ACTIONS: Record<string, Action> = {
  'replay-event': {
    verb: 'Replay',
    danger: false,
    question: (t) => {
      const n = ids(t.deliveries, isDead).length;
      return n
        ? `Replay ${plural(n)} of event ${t.eventId}? Dead-lettered deliveries go back in the queue, due now.`
        : undefined;
    },
    run: (deps, t) => deps.store.replay({ ids: ids(t.deliveries, isDead) }),
    back: eventPage,
  },
  'drop-event': {
    verb: 'Drop',
    danger: true,
    question: (t) => {
      const n = ids(t.deliveries, isUndelivered).length;
      return n ? `Drop ${plural(n)} of event ${t.eventId} for good? They will never be delivered.` : undefined;
    },
    run: (deps, t) => deps.store.drop({ ids: ids(t.deliveries, isUndelivered) }),
    back: eventPage,
  },
  'replay-target': {
    verb: 'Replay all',
    danger: false,
    question: (t) => `Replay every dead delivery of ${t.emitter}?`,
    run: (deps, t) => deps.store.replay({ emitter: t.emitter }),
    back: () => '/console/targets',
  },
  'drop-target': {
    verb: 'Drop all',
    danger: true,
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
  const seq = Number(fields.seq);
  const detail = Number.isSafeInteger(seq) ? await deps.store.eventDetail(seq) : undefined;
  return detail && { seq, eventId: detail.event.id, deliveries: detail.deliveries };
}

export function actionRoutes(deps: ConsoleDeps): Router {
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
    const action = Object.hasOwn(ACTIONS, req.params.name as string) ? ACTIONS[req.params.name as string] : undefined;
    if (!action) return next();
    const target = await targetOf(deps, req.params.name as string, req.query);
    const question = target && action.question(target);
    if (!target || !question) return nothing(res);
    render(res, 'confirm', {
      ...page(res),
      title: `${action.verb}?`,
      question,
      verb: action.verb,
      danger: action.danger,
      action: `/console/actions/${req.params.name as string}`,
      fields: target.seq !== undefined ? { seq: target.seq } : { emitter: target.emitter },
      back: action.back(target),
    });
  });

  router.post('/actions/:name', async (req: Request, res, next) => {
    const name = req.params.name as string;
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (!action) return next();
    const target = await targetOf(deps, name, req.body as Record<string, unknown>);
    if (!target) return nothing(res);
    const count = await action.run(deps, target);
    deps.logger.info(
      {
        operator: page(res).operator,
        action: name,
        seq: target.seq,
        eventId: target.eventId,
        emitter: target.emitter,
        deliveries: count,
      },
      `console: ${name} by ${page(res).operator}`,
    );
    if (name.startsWith('replay') && count > 0) deps.requeued?.();
    const done = name.startsWith('replay') ? 'replayed' : 'dropped';
    res.redirect(303, helpers.url(action.back(target), { done, n: count }));
  });
  return router;
}
