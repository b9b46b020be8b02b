import { MIN_TOKEN_LENGTH } from '../config/token-strength';
import { authenticate, verifySignature, type Authentication } from '../auth/authenticate';
import { presentedCredential, type Credential } from '../auth/credential';
import type { Credentials } from '../auth/credentials';
import { checkEventScope } from '../auth/scope';
import type { TokenScope } from '../auth/tokens';
import type { GatewayConfig } from '../config/types';
import type { EventIntake } from '../delivery/types';
import { summarise } from '../model/event';
import { acceptedMediaTypes } from '../providers';
import type { RegistryEvent } from '../model/event';
import type { RegistryProvider } from '../providers/types';
import { abuseProtectionHandshake } from './abuse-protection';
import { errorReply, tooLarge, type ErrorContext } from './error-reply';
import { refusedMediaType } from './media-type';
import type { RateLimit } from './rate-limit';
import { readEvents } from './read-events';
import { ignored, refused, type Reply } from './reply';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface ReceiveDeps {
  config: GatewayConfig;
  /** Every token, by how requests present it (`verify:`). */
  credentials: Credentials;
  /** The registries the gateway takes webhooks from. */
  providers: readonly RegistryProvider[];
  intake: EventIntake;
  /** The gateway's one bucket, shared by every transport; none means no limit. */
  rateLimit?: RateLimit;
}

/** One webhook request, whatever carried it. Header names are lower-case. */
export interface Inbound {
  /** The provider named by the path (`/events/<provider>`); detected from the body when absent. */
  provider?: string;
  /** Read from `headers` when absent. */
  credential?: Credential;
  headers: Headers;
  rawBody: Buffer;
  /** Passed to the parsers, for events that take their id from the request. */
  requestId?: string;
}

/** A request past the steps that need no body: authenticated (and counted), or waiting for its signature. */
export type Admission = { scope: TokenScope } | { awaitsSignature: true };

function unauthorized(auth: Extract<Authentication, { refused: string }>, provider?: string): Reply {
  return refused('unauthorized', 401, [auth.refused], {
    headers: auth.challenge ? { 'WWW-Authenticate': auth.challenge } : {},
    provider,
  });
}

/**
 * The gateway's edge without a transport: authenticate, detect, parse, scope, accept, and a
 * `Reply` saying what to answer and what happened. The HTTP adapter calls `admit` before it
 * reads a body and `receive` after; any other caller calls `receive` alone.
 */
export class Receiver {
  private readonly byName: Map<string, RegistryProvider>;
  private readonly mediaTypes: string[];

  constructor(private readonly deps: ReceiveDeps) {
    this.byName = new Map(deps.providers.map((p) => [p.name, p]));
    this.mediaTypes = acceptedMediaTypes(deps.providers);
  }

  /** What needs no body: a known provider (404), a credential (401), the rate limit (429), the media type (415). */
  async admit(request: Omit<Inbound, 'rawBody'>): Promise<Admission | Reply> {
    const named = request.provider;
    if (named !== undefined && !this.byName.has(named)) {
      const known = [...this.byName.keys()].join(',');
      // No provider name is as long as a token: a longer segment may be a credential in the wrong place.
      const said =
        named.length < MIN_TOKEN_LENGTH ? `"${named}"` : `of that name (${named.length} characters, not repeated)`;
      return refused('not_found', 404, [`no provider ${said}; use /events or /events/{${known}}`]);
    }
    // A provider the path names is known before any body: every answer says which it was.
    const credential = request.credential ?? presentedCredential(request.headers);
    const auth = await authenticate(this.deps.credentials, credential, request.headers, { signatures: true });
    if ('refused' in auth) return unauthorized(auth, named);
    if ('scope' in auth) {
      const limited = this.limit(auth.scope.name, named);
      if (limited) return limited;
    }
    const badType = refusedMediaType(request.headers, this.mediaTypes);
    if (badType) return refused('unsupported_media', 415, [badType], { token: this.tokenOf(auth), provider: named });
    return auth;
  }

  /** One webhook request, from its credential to the events safe in the intake. */
  async receive(inbound: Inbound, admission?: Admission): Promise<Reply> {
    const admitted = admission ?? (await this.admit(inbound));
    if ('outcome' in admitted) return admitted;
    const named = inbound.provider;
    if (inbound.rawBody.length > this.deps.config.server.bodyLimit)
      return tooLarge({ token: this.tokenOf(admitted), provider: named });
    let scope: TokenScope;
    if ('scope' in admitted) scope = admitted.scope;
    else {
      // Signed requests (GitHub, JFrog) are authenticated here, from the body as received.
      const auth = verifySignature(this.deps.credentials, inbound.headers, inbound.rawBody);
      if ('refused' in auth) return unauthorized(auth, named);
      if (!('scope' in auth)) throw new Error('a signature check answers a scope or a refusal');
      const limited = this.limit(auth.scope.name, named);
      if (limited) return limited;
      scope = auth.scope;
    }
    const context: ErrorContext = { token: scope.name, provider: named };
    try {
      return await this.read(inbound, scope, context);
    } catch (err) {
      const reply = errorReply(err, context);
      if (reply) return reply;
      throw err;
    }
  }

  /** `name` when a registry has it: what a path names, for answers that never reach `admit` (405). */
  providerNamed(name: string | undefined): string | undefined {
    return name !== undefined && this.byName.has(name) ? name : undefined;
  }

  /** The CloudEvents abuse-protection OPTIONS: authenticated like a delivery, no body. */
  async handshake(request: Omit<Inbound, 'rawBody' | 'provider'>): Promise<Reply> {
    const credential = request.credential ?? presentedCredential(request.headers);
    const auth = await authenticate(this.deps.credentials, credential, request.headers, { signatures: false });
    if ('refused' in auth) return unauthorized(auth);
    const token = this.tokenOf(auth);
    return this.limit(token) ?? abuseProtectionHandshake(request.headers, token);
  }

  private async read(inbound: Inbound, scope: TokenScope, context: ErrorContext): Promise<Reply> {
    const named = inbound.provider === undefined ? undefined : this.byName.get(inbound.provider);
    const { provider, outcome } = readEvents(
      this.deps.config,
      this.deps.providers,
      { ...inbound, named, scope },
      context,
    );
    const who = { provider: provider.name, token: scope.name };
    switch (outcome.kind) {
      case 'reply':
        return {
          status: outcome.status,
          headers: {},
          body: outcome.body,
          outcome: { result: 'answered', reason: 'protocol reply' },
          ...who,
        };
      case 'ignored':
        return ignored(outcome.reason, who);
      case 'events':
        for (const event of outcome.events) checkEventScope(scope, event);
        return accepted(await this.deps.intake.accept(outcome.events), who);
    }
  }

  private limit(token: string | undefined, provider?: string): Reply | undefined {
    const wait = this.deps.rateLimit?.take();
    if (wait === undefined) return undefined;
    return refused('rate_limited', 429, [`over ${this.deps.rateLimit!.perSecond} requests per second; retry later`], {
      headers: { 'Retry-After': String(wait) },
      token,
      provider,
    });
  }

  private tokenOf(auth: Admission | Authentication): string | undefined {
    return 'scope' in auth ? auth.scope.name : undefined;
  }
}

/** 202 once the intake has every event safe; duplicates are named, so a retrying sender sees them. */
function accepted(
  results: { event: RegistryEvent; duplicate: boolean }[],
  who: { provider: string; token: string },
): Reply {
  const events = results.map((r) => ({ id: r.event.id, type: r.event.type, duplicate: r.duplicate }));
  return {
    status: 202,
    headers: {},
    body: {
      status: 'accepted',
      events: results.map((r) => (r.duplicate ? { ...summarise(r.event), duplicate: true } : summarise(r.event))),
    },
    outcome: { result: events.length > 0 && events.every((e) => e.duplicate) ? 'duplicate' : 'accepted', events },
    ...who,
  };
}
