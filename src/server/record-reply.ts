import type { Metrics } from '../observability/metrics';
import type { Refusal, Reply } from './reply';
import type { RequestLog } from './request-log';

/**
 * `requests_total`'s outcome label of a refusal (docs/metrics.md). Refusals before a token is
 * known (401, 429, 404, 405) are not counted: a caller without a credential moves no metric.
 */
const COUNTED: Partial<Record<Refusal, string>> = {
  rejected: 'rejected',
  forbidden: 'forbidden',
  unavailable: 'unavailable',
  too_large: 'too_large',
  unsupported_media: 'unsupported_media',
  error: 'error',
};

/** The metrics and log lines of one webhook reply, read from its outcome alone. */
export function recordReply(reply: Reply, metrics: Metrics, log: RequestLog): void {
  const provider = reply.provider ?? 'unknown';
  const outcome = reply.outcome;
  const count = (label: string | undefined) => {
    if (label) metrics.requests.inc({ provider, outcome: label });
  };
  switch (outcome.result) {
    case 'accepted':
    case 'duplicate':
      for (const e of outcome.events) {
        metrics.events.inc({ provider, type: e.type, outcome: e.duplicate ? 'duplicate' : 'accepted' });
        log.write(
          'info',
          { provider, eventId: e.id, type: e.type, duplicate: e.duplicate },
          e.duplicate ? 'duplicate event' : 'accepted event',
        );
      }
      return count('accepted');
    case 'ignored':
      metrics.events.inc({ provider, type: 'none', outcome: 'ignored' });
      log.write('info', { provider, reason: outcome.reason }, 'ignored');
      return count('ignored');
    case 'answered':
      return count(reply.provider ? 'handshake' : undefined);
    case 'refused':
      return recordRefusal(reply, outcome.refusal, outcome.reason, metrics, log);
  }
}

function recordRefusal(reply: Reply, refusal: Refusal, reason: string, metrics: Metrics, log: RequestLog): void {
  const provider = reply.provider ?? 'unknown';
  const label = COUNTED[refusal];
  if (label) metrics.requests.inc({ provider, outcome: label });
  switch (refusal) {
    case 'rejected':
      metrics.events.inc({ provider, type: 'none', outcome: 'rejected' });
      log.write('info', { provider, errors: (reply.body as { errors: string[] }).errors }, 'rejected');
      return;
    case 'forbidden':
      log.write('info', { provider, scope: (reply.body as { scope: string }).scope, reason }, 'outside token scope');
      return;
    case 'unavailable':
      log.write('warn', { provider, reason }, 'cannot accept now');
      return;
    case 'unauthorized':
      // The hint only: it never carries what was presented.
      log.write('info', { reason }, 'unauthorized');
      return;
  }
}
