import type { Request, Response, Router } from 'express';
import { requestQuery, type RequestFilterInput } from '../delivery/request-query';
import type { RequestQuery } from '../delivery/store/request-log';
import type { ConsoleDeps, PageContext } from './types';
import { helpers, render } from './view';

const FILTERS = ['status', 'provider', 'token', 'since', 'until', 'before'] as const;

function filtersOf(req: Request): RequestFilterInput {
  const filters: RequestFilterInput = {};
  for (const key of FILTERS) {
    const value = req.query[key];
    if (typeof value === 'string' && value.trim() !== '') filters[key] = value.trim();
  }
  return filters;
}

/**
 * The Requests page: every request to /events with what it was answered, so "did the webhook
 * arrive at all?" has an answer. Accepted rows link to the events they created.
 */
export function requestRoutes(router: Router, deps: ConsoleDeps, clock: () => number): void {
  router.get('/requests', async (req, res: Response) => {
    const context = res.locals.console as PageContext;
    const filters = filtersOf(req);
    let query: RequestQuery;
    try {
      query = requestQuery(filters, clock());
    } catch (err) {
      render(res, 'message', { ...context, title: 'Bad filter', message: (err as Error).message }, 400);
      return;
    }
    const page = await deps.store.listRequests(query);
    const data = { ...context, page, query: filters };
    if (req.query.fragment === '1') {
      render(res, 'request-rows', data);
      return;
    }
    const live = filters.before ? undefined : helpers.url('/console/requests', { ...filters, fragment: 1 });
    render(res, 'requests', { ...data, title: 'Requests', nav: 'requests', live });
  });
}
