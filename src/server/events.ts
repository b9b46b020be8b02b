import type { Request, Response } from 'express';
import { checkEventScope, checkProviderScope } from '../auth/scope';
import type { GatewayConfig } from '../config/types';
import type { EventIntake } from '../delivery/types';
import { summarise } from '../model/event';
import { PayloadError } from '../model/errors';
import type { Metrics } from '../observability/metrics';
import { inSpan } from '../observability/tracing';
import { detectProvider, protocolHeaders, readRequest } from '../providers';
import { createParseContext } from '../providers/context';
import type { InboundRequest, RegistryProvider } from '../providers/types';
import { mediaType, parseJsonBody } from './body';

export interface EventsHandlerDeps {
  config: GatewayConfig;
  providers: readonly RegistryProvider[];
  intake: EventIntake;
  metrics: Metrics;
}

/**
 * `POST /events` (provider detected from the body) and `POST /events/<provider>`. Parsing and
 * scope checks happen before anything is stored; the sender gets 202 only once the intake has
 * the events safe.
 */
export function eventsHandler(deps: EventsHandlerDeps) {
  const byName = new Map(deps.providers.map((p) => [p.name, p]));
  const names = deps.providers.map((p) => p.name).join(', ');

  return async (req: Request, res: Response) => {
    const scope = req.tokenScope!;
    const named = req.params.provider as string | undefined;
    const namedParser = named ? byName.get(named) : undefined;
    // Detection may look at any provider's headers; a parser gets only the ones it declares.
    const inbound: InboundRequest = {
      body: parseJsonBody(req),
      contentType: mediaType(req),
      headers: protocolHeaders(req.headers, namedParser ? [namedParser] : deps.providers),
    };
    const parser = namedParser ?? (named ? undefined : detectProvider(inbound, deps.providers));
    if (!parser) {
      throw new PayloadError(
        `the body matches no accepted webhook shape (${names}); ` +
          'see docs/registries.md for each registry, or post to /events/<provider>',
      );
    }
    const provider = parser.name;
    req.provider = provider;
    req.refusedStatus = parser.refusedStatus;
    checkProviderScope(scope, provider);

    const outcome = inSpan(`parse ${provider}`, { 'registry_gateway.provider': provider }, () =>
      readRequest(
        parser,
        { ...inbound, headers: protocolHeaders(req.headers, [parser]) },
        createParseContext(parser, deps.config, scope.registries, req.id),
      ),
    );

    switch (outcome.kind) {
      case 'reply':
        deps.metrics.requests.inc({ provider, outcome: 'handshake' });
        res.status(outcome.status).json(outcome.body);
        return;
      case 'ignored':
        deps.metrics.requests.inc({ provider, outcome: 'ignored' });
        deps.metrics.events.inc({ provider, type: 'none', outcome: 'ignored' });
        req.log.info({ provider, reason: outcome.reason }, 'ignored');
        res.status(200).json({ status: 'ignored', reason: outcome.reason });
        return;
      case 'events': {
        for (const event of outcome.events) checkEventScope(scope, event);
        const results = await deps.intake.accept(outcome.events);
        for (const r of results) {
          deps.metrics.events.inc({
            provider,
            type: r.event.type,
            outcome: r.duplicate ? 'duplicate' : 'accepted',
          });
          req.log.info(
            { provider, eventId: r.event.id, type: r.event.type, duplicate: r.duplicate },
            r.duplicate ? 'duplicate event' : 'accepted event',
          );
        }
        deps.metrics.requests.inc({ provider, outcome: 'accepted' });
        res.status(202).json({
          status: 'accepted',
          events: results.map((r) => (r.duplicate ? { ...summarise(r.event), duplicate: true } : summarise(r.event))),
        });
        return;
      }
    }
  };
}
