import type { EmitterSectionBase } from '../emitters/types';
import type { ProviderName } from '../model/event';
import type { DeliverySettings } from '../delivery/types';

/** A token with an optional scope (CONTRACT §4); the plain-string form has no scope. */
export interface TokenSpec {
  value: string;
  providers?: ProviderName[];
  registries?: string[];
  repos?: string[];
}

export interface ServerSettings {
  port: number;
  /** Bytes (the config accepts `1mb`-style strings and converts them). */
  bodyLimit: number;
  rateLimit: { requestsPerSecond: number; burst: number };
  tls: { enabled: boolean; certPath: string; keyPath: string };
  /** How long SIGTERM waits for requests and delivery attempts in flight. */
  shutdownTimeoutSeconds: number;
}

export interface GatewayConfig {
  host?: string;
  tokens: Record<string, string | TokenSpec>;
  /** Merged into `tokens` at load (and reload); '' for none. */
  tokensFile: string;
  sources: Record<ProviderName, string>;
  registryAliases: Record<string, string>;
  defaultRegistry: Partial<Record<ProviderName, string>>;
  providers: { distribution: { emitPulls: boolean } };
  /** Keyed by emitter plugin key; each section has `enabled` and `filter` plus its own keys. */
  emitters: Record<string, EmitterSectionBase & Record<string, unknown>>;
  delivery: DeliverySettings;
  server: ServerSettings;
  logLevel: string;
}
