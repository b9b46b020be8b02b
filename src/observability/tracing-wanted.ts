import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

/**
 * Whether `serve` traces: on when the values file says `tracing.enabled: true` or when an OTLP
 * endpoint is in the environment (the standard way to point an SDK at a collector), off when
 * `OTEL_SDK_DISABLED=true`. Decided from argv and the raw file because it has to be known before
 * anything that the instrumentations patch (http, express, pg) is loaded, that is before the
 * configuration module and its schema are. Apart from the SDK's start: the delivery worker starts
 * the SDK on the main thread's word, and loads no YAML parser for it.
 */
export function tracingWanted(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' } },
  });
  if (positionals[0] !== 'serve') return false;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return true;
  if (typeof values.config !== 'string') return false;
  try {
    const config = parse(readFileSync(values.config, 'utf8')) as { tracing?: { enabled?: unknown } } | null;
    return config?.tracing?.enabled === true;
  } catch {
    // The configuration loader reports an unreadable file with its line; tracing stays off.
    return false;
  }
}
