import type { Express, Request, Response } from 'express';
import type { Logger } from 'pino';
import { presentedCredential, type Credential } from '../auth/credential';
import type { Metrics } from '../observability/metrics';
import { bearerTokenReader } from './bearer-token';
import { bodyErrorReply, rawBodyReader } from './body-reader';
import { internalError } from './error-reply';
import type { Receiver } from './receive';
import { recordReply } from './record-reply';
import { refused, type Reply } from './reply';
import { loggablePath, requestIdFrom, RequestLog } from './request-log';
import type { RequestRecorder } from './request-recorder';
import { setJsonApiHeaders, writeReply } from './write-reply';

export interface WebhookRouteDeps {
  receiver: Receiver;
  metrics: Metrics;
  logger: Logger;
  bodyLimit: number;
  /** The request log; absent, nothing is recorded. */
  requests?: RequestRecorder;
}

/** What a step learned that the request log may keep: the body, once read. */
interface Seen {
  body?: Buffer;
}

const PATHS = ['/events', '/events/:provider', '/events/:provider/:secret'];

/**
 * `/events` and its provider paths over HTTP: the request's credential, its body once admitted,
 * and the Receiver's Reply written back, recorded and logged. Registered before helmet and the
 * admin routes' request context, so a webhook pays only for what it uses.
 */
export function webhookRoutes(app: Express, deps: WebhookRouteDeps): void {
  const readBearer = bearerTokenReader();
  const readBody = rawBodyReader(deps.bodyLimit);

  async function credentialOf(req: Request, res: Response): Promise<Credential> {
    const secret = req.params.secret as string | undefined;
    if (secret !== undefined) return { form: 'path', token: secret };
    // Query-string tokens are refused whatever the header says: proxies and access logs keep URLs.
    if (req.url.includes('access_token') && new URLSearchParams(req.url.split('?')[1] ?? '').has('access_token')) {
      return { form: 'query' };
    }
    const token = await readBearer(req, res);
    return token !== undefined ? { form: 'bearer', token } : presentedCredential(req.headers);
  }

  const post = async (req: Request, res: Response, log: RequestLog, seen: Seen): Promise<Reply> => {
    const provider = req.params.provider as string | undefined;
    const inbound = { provider, credential: await credentialOf(req, res), headers: req.headers };
    const admitted = await deps.receiver.admit(inbound);
    if ('outcome' in admitted) return admitted;
    let rawBody: Buffer;
    try {
      rawBody = await readBody(req, res);
      seen.body = rawBody;
    } catch (err) {
      const token = 'scope' in admitted ? admitted.scope.name : undefined;
      const reply = bodyErrorReply(err as Error, { token, provider });
      if (reply) return reply;
      throw err;
    }
    return deps.receiver.receive({ ...inbound, rawBody, requestId: log.id }, admitted);
  };

  const handshake = async (req: Request, res: Response): Promise<Reply> =>
    deps.receiver.handshake({ credential: await credentialOf(req, res), headers: req.headers });

  const notAllowed = (req: Request): Promise<Reply> => {
    const reply = refused('not_allowed', 405, [`${req.method} is not allowed here; webhooks are POSTed`], {
      headers: { Allow: 'POST, OPTIONS' },
      provider: deps.receiver.providerNamed(req.params.provider as string | undefined),
    });
    return Promise.resolve(reply);
  };

  // Deeper paths are no webhook's, but still requests to /events*: answered and recorded here.
  const noRoute = (req: Request): Promise<Reply> =>
    Promise.resolve(refused('not_found', 404, [`no route ${req.method} ${loggablePath(req.path)}`]));

  app.post(PATHS, answer(deps, post));
  app.options(['/events', '/events/eventgrid'], answer(deps, handshake));
  app.all(PATHS, answer(deps, notAllowed));
  app.all('/events/*rest', answer(deps, noRoute));
}

/** Runs one step that answers a Reply, then writes, records and logs it; a bug becomes a logged 500. */
function answer(
  deps: WebhookRouteDeps,
  step: (req: Request, res: Response, log: RequestLog, seen: Seen) => Promise<Reply>,
): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const receivedAt = Date.now();
    const started = process.hrtime.bigint();
    const seen: Seen = {};
    const log = new RequestLog(deps.logger, requestIdFrom(req.headers));
    res.setHeader('X-Request-Id', log.id);
    setJsonApiHeaders(res);
    let reply: Reply;
    try {
      reply = await step(req, res, log, seen);
    } catch (err) {
      log.write('error', { err }, 'unhandled error');
      reply = internalError(log.id);
    }
    writeReply(res, reply);
    recordReply(reply, deps.metrics, log);
    const path = loggablePath(req.path);
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    log.write(
      'info',
      { method: req.method, path, status: reply.status, provider: reply.provider, durationMs: latencyMs },
      'request',
    );
    const source = req.ip ?? req.socket.remoteAddress ?? '';
    deps.requests?.record({ receivedAt, source, method: req.method, path, reply, latencyMs, body: seen.body });
  };
}
