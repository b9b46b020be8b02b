import http from 'node:http';
import https from 'node:https';

/**
 * The TCP keep-alive delay axios sets on the socket of every request it sends (lib/adapters/http.js
 * in axios 1.x: `setKeepAlive(true, 60000)`).
 *
 * Node's agents set their own `keepAliveMsecs` (1 s by default) whenever a socket goes back to the
 * pool, and a socket only calls the system when the value changes. With the two values apart,
 * every request flipped the socket's setting twice, each flip two setsockopt calls: 5 % of the
 * delivery thread's CPU while draining a backlog (bench/PROFILE.md). Agreeing with axios makes
 * both calls no-ops after the first.
 */
export const KEEP_ALIVE_DELAY_MS = 60_000;

/** A target's connection pools, one per scheme: kept open between deliveries (they come in bursts). */
export interface KeepAliveAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

/** TLS options apply to the https pool; the http pool is plain keep-alive. */
export function keepAliveAgents(tls: Pick<https.AgentOptions, 'ca' | 'rejectUnauthorized'>): KeepAliveAgents {
  const pooled = { keepAlive: true, keepAliveMsecs: KEEP_ALIVE_DELAY_MS };
  const agents = { http: new http.Agent(pooled), https: new https.Agent({ ...pooled, ...tls }) };
  return {
    ...agents,
    destroy: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
