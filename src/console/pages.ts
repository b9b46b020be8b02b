import express, { type Request, type Response, type Router } from 'express';
import { explain } from '../delivery/routing';
import type { EventDetail } from '../delivery/types';
import { EVENT_TYPES } from '../model/event';
import { requestRoutes } from './request-pages';
import { eventQuery, filtersOf } from './filters';
import { retrySettings, targetRows } from './health';
import type { ConsoleDeps, PageContext } from './types';
import { helpers, render } from './view';

/** The Targets page's rate window: long enough to smooth bursts, short enough to show an outage. */
const RECENT_MINUTES = 5;
/** A short confirmation of what an action just did, from the redirect's query; nothing echoed verbatim. */
export function noticeOf(req: Request): string | undefined {
  const count = Number(req.query.n);
  const n = Number.isSafeInteger(count) && count >= 0 ? count : 0;
  const rows = `${n} ${n === 1 ? 'delivery' : 'deliveries'}`;
  if (req.query.done === 'replayed') return `Replayed ${rows}: they are pending again and go out now.`;
  if (req.query.done === 'dropped') return `Dropped ${rows}.`;
  if (req.query.done === 'retried') return `Retrying ${rows} now.`;
  if (req.query.done === 'resent') return `Sending again: ${rows} made, pending and going out now.`;
  return undefined;
}

/** What each emitter that has, or would have, a delivery of the event is sent for it. */
function previews(deps: ConsoleDeps, detail: EventDetail) {
  const relevant = new Set(detail.deliveries.map((d) => d.emitter));
  return Promise.all(
    deps.emitters
      .filter((emitter) => relevant.has(emitter.name))
      .map(async (emitter) => {
        if (!emitter.preview)
          return { emitter: emitter.name, requests: [], error: 'This target cannot show its request.' };
        try {
          return { emitter: emitter.name, requests: await emitter.preview(detail.event) };
        } catch (err) {
          return { emitter: emitter.name, requests: [], error: `Cannot be sent: ${(err as Error).message}` };
        }
      }),
  );
}

export function pageRoutes(deps: ConsoleDeps, clock: () => number): Router {
  const router = express.Router();
  const page = (res: Response) => res.locals.console as PageContext;

  router.get('/', (_req, res) => res.redirect(303, '/console/events'));

  router.get('/events', async (req, res) => {
    const filters = filtersOf(req.query);
    const result = await deps.store.listEvents(eventQuery(filters));
    const data = { ...page(res), page: result, query: filters, types: EVENT_TYPES, notice: noticeOf(req) };
    if (req.query.fragment === '1') {
      render(res, 'event-rows', data);
      return;
    }
    // Only the newest page refreshes itself: an older page holding still is what a reader wants.
    const live = filters.before ? undefined : helpers.url('/console/events', { ...filters, fragment: 1 });
    render(res, 'events', { ...data, title: 'Events', nav: 'events', live });
  });

  router.get('/targets', async (req, res) => {
    const health = await deps.store.targetHealth(clock(), RECENT_MINUTES * 60_000);
    const data = {
      ...page(res),
      targets: targetRows(deps, health, clock(), RECENT_MINUTES),
      retry: retrySettings(deps.config.delivery),
      recentMinutes: RECENT_MINUTES,
      notice: noticeOf(req),
    };
    render(res, req.query.fragment === '1' ? 'target-rows' : 'targets', { ...data, title: 'Targets', nav: 'targets' });
  });

  requestRoutes(router, deps, clock);

  router.get('/events/:seq', async (req, res, next) => {
    const seq = Number(req.params.seq);
    const detail = Number.isSafeInteger(seq) ? await deps.store.eventDetail(seq) : undefined;
    if (!detail) {
      next();
      return;
    }
    const data = { ...page(res), detail, notice: noticeOf(req) };
    if (req.query.fragment === '1') {
      render(res, 'event-deliveries', data);
      return;
    }
    render(res, 'event', {
      ...data,
      title: `Event ${detail.event.id}`,
      nav: 'events',
      routing: explain(detail.event, deps.emitters),
      previews: await previews(deps, detail),
      // The pushes by digest this tagged push stands for: held, then absorbed instead of delivered.
      parts: await deps.store.listHeldParts({ push: { source: detail.event.source, id: detail.event.id } }),
    });
  });
  return router;
}
