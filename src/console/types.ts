import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types';
import type { RouteTarget } from '../delivery/routing';
import type { Inspection } from '../delivery/store/types';
import type { Emitter } from '../emitters/types';
import type { Session } from './session';

export interface ConsoleDeps {
  /** The running config: `console` is read per request, so a reload adds or revokes operators. */
  config: GatewayConfig;
  store: Inspection;
  /** The enabled emitters with their routing filters, in routing order. */
  emitters: readonly (Emitter & RouteTarget)[];
  logger: Logger;
  /** Called after an action re-queued rows, so they go now rather than at the next poll. */
  requeued?: () => void;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
}

/** What every page of a logged-in operator gets besides its own data. */
export interface PageContext {
  operator: string;
  csrf: string;
  session: Session;
}
