/**
 * The config's types. Each section's joi schema is declared against its type with
 * `Joi.object<Type, true>`, so the compiler refuses a schema that misses a key, adds one, or
 * gives one the wrong kind: the types say what the code reads, the schemas say how the values
 * file is checked and every default, and neither can drift from the other. (Deriving the types
 * from joi schemas would need a type-level reader of joi that joi does not ship.)
 */

/** An emitter's routing filter: every listed dimension must match; absent or empty lists match all. */
export interface EventFilter {
  providers?: string[];
  types?: string[];
  registries?: string[];
  repos?: string[];
  /**
   * What a tagged push did to its tag (`created`, `moved`, `unchanged`). Events that carry no
   * tag change (deletes, scans, pushes by digest) are not about a tag moving and pass.
   */
  changes?: string[];
}

/** Settings every emitter section has, whatever its target. */
export interface EmitterSectionBase {
  enabled: boolean;
  filter: EventFilter;
}

/**
 * How a request proves it holds a token (docs/configuration.md, Tokens and scopes): the Authorization header,
 * a signature of the body (GitHub, JFrog), the last path segment, or a Google-signed OIDC token.
 */
export const TOKEN_VERIFICATIONS = ['bearer', 'github-hmac', 'jfrog', 'path', 'google-oidc'] as const;
export type TokenVerification = (typeof TOKEN_VERIFICATIONS)[number];

/** A token with an optional scope (docs/configuration.md, Tokens and scopes); the plain-string form has no scope. */
export interface TokenSpec {
  /** The secret; empty for `google-oidc`, where Google's signature is the proof. */
  value: string;
  /** Default `bearer`. */
  verify?: TokenVerification;
  /** `google-oidc`: the `aud` the push subscription puts in its tokens. */
  audience?: string;
  /** `google-oidc`: the service account (`email` claim) the subscription signs as. */
  serviceAccount?: string;
  /** `google-oidc`: where Google's signing keys are published (tests point it at their own). */
  jwksUrl?: string;
  providers?: string[];
  registries?: string[];
  repos?: string[];
}

export interface ServerSettings {
  port: number;
  /**
   * The console, /metrics and the probes on a listener of their own, so the webhook port can
   * face the internet while these stay inside; null serves everything on `port`.
   */
  adminPort: number | null;
  /** Bytes (the config accepts `1mb`-style strings and converts them). */
  bodyLimit: number;
  rateLimit: { requestsPerSecond: number; burst: number };
  tls: { enabled: boolean; certPath: string; keyPath: string };
  /** How long SIGTERM waits for requests and delivery attempts in flight. */
  shutdownTimeoutSeconds: number;
}

/** `console`: the operator console under /console. */
export interface ConsoleSettings {
  enabled: boolean;
  /** Operator name to token; the name is who the log says acted. */
  tokens: Record<string, string>;
  /** A YAML file of more operator tokens (a mounted Secret), merged over `tokens`; '' for none. */
  tokensFile: string;
  /** How long a login lasts. */
  sessionMinutes: number;
}

export type StoreEngine = 'sqlite' | 'postgres';

/** `delivery.postgres`: the engine several replicas share. */
export interface PostgresSettings {
  /** postgres://user:password@host:port/database; the password never reaches a log or an error. */
  url: string;
  poolSize: number;
  /** Schema holding the gateway's tables; several gateways may share a database with their own. */
  schema: string;
  /** How long a claimed delivery stays with a replica before another may take it over. */
  leaseSeconds: number;
  /** Read by the chart only: the Secret it turns into DATABASE_URL. */
  urlSecret?: { name?: string; key?: string };
}

/** `delivery`: the store and the dispatcher's retry rules. */
/** A registry the gateway may read manifests from, to learn an index's platforms. */
export interface ManifestSource {
  /** The `registry` of events it serves (host and port, as events name it). */
  host: string;
  /** Where its distribution API answers, e.g. https://registry.example.com. */
  endpoint: string;
  /** Pull credential, from a Secret; anonymous when both are empty. */
  username: string;
  password: string;
  /** A file holding the password (a mounted Secret); read at each use, so a rotation needs no restart. */
  passwordFile: string;
}

/** `collapse`: one event per push of a tag (docs/pushes.md). */
export interface CollapseSettings {
  /** Pushes by digest within this many seconds of a tagged push of their repository are its parts; 0 = off. */
  windowSeconds: number;
  /** A part no tagged push claimed: delivered on its own as a push, or dropped. */
  orphans: 'deliver' | 'drop';
  /** Registries whose manifests may be read for platforms: an allowlist, never a payload's host. */
  manifests: {
    timeoutMs: number;
    maxBytes: number;
    registries: ManifestSource[];
  };
}

/** `requests`: the request log of every request to /events (docs/configuration.md). */
export interface RequestLogSettings {
  /** Requests older than this are pruned. */
  retentionHours: number;
  /** The most rows kept; the oldest go first. */
  maxRows: number;
  /** Keep the body (up to 64 KB) of refused requests; off by default, as a body may carry anything. */
  keepRefusedBodies: boolean;
}

export interface DeliverySettings {
  store: StoreEngine;
  /** SQLite: the directory holding the store file. */
  dir: string;
  postgres: PostgresSettings;
  maxAttempts: number;
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
  dedupWindowSeconds: number;
  /** Undelivered rows over which new events are refused with 503 (0 = no limit). */
  maxPending: number;
  /** Attempts in flight per emitter. */
  concurrency: number;
  /**
   * Deliver from a worker thread with its own store connection, so attempts never hold up the
   * webhook listener; false runs delivery on the listener's own event loop.
   */
  worker: boolean;
  /** How long delivered rows are kept before pruning. */
  deliveredRetentionSeconds: number;
  /**
   * SQLite: the most bytes the store file may take; new events are refused before it is reached
   * so marks and prunes always find room. 0 = derived from the free space when the store opens.
   */
  maxStoreBytes: number;
}

/**
 * The whole values file after validation. The emitter sections and provider options are typed
 * by the wiring from the plugin and provider lists (`Config` in `gateway.ts`); parts that read
 * only the common keys take this general form.
 */
export interface GatewayConfig<
  Emitters extends Record<string, EmitterSectionBase> = Record<string, EmitterSectionBase>,
  ProviderOptions extends Record<string, unknown> = Record<string, unknown>,
> {
  host?: string;
  tokens: Record<string, string | TokenSpec>;
  /** Merged into `tokens` at load (and reload); '' for none. */
  tokensFile: string;
  /** Keyed by provider name. */
  sources: Record<string, string>;
  registryAliases: Record<string, string>;
  /** Keyed by provider name; only the providers given one. */
  defaultRegistry: Record<string, string>;
  /** `providers.<name>` for each provider that has options. */
  providers: ProviderOptions;
  /** Keyed by emitter plugin key. */
  emitters: Emitters;
  delivery: DeliverySettings;
  collapse: CollapseSettings;
  requests: RequestLogSettings;
  server: ServerSettings;
  console: ConsoleSettings;
  logLevel: string;
  /** OpenTelemetry traces, exported as the OTEL_* environment variables say (docs/tracing.md). */
  tracing: { enabled: boolean };
}
