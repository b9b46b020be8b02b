/**
 * Single keys a container may set from its environment (secrets mounted as env vars), applied
 * on top of the values file before validation. The `API_*` names are brigade-acr-gateway's, so
 * its deployments carry over.
 */
export const ENV_OVERRIDES: readonly { names: string[]; path: string[]; json?: boolean }[] = [
  { names: ['PORT'], path: ['server', 'port'] },
  { names: ['LOG_LEVEL'], path: ['logLevel'] },
  { names: ['DELIVERY_DIR'], path: ['delivery', 'dir'] },
  { names: ['DATABASE_URL'], path: ['delivery', 'postgres', 'url'] },
  { names: ['BRIGADE_API_ADDRESS', 'API_ADDRESS'], path: ['emitters', 'brigade', 'apiAddress'] },
  { names: ['BRIGADE_API_TOKEN', 'API_TOKEN'], path: ['emitters', 'brigade', 'apiToken'] },
  {
    names: ['BRIGADE_API_IGNORE_CERT_WARNINGS', 'API_IGNORE_CERT_WARNINGS'],
    path: ['emitters', 'brigade', 'apiIgnoreCertWarnings'],
  },
  { names: ['KNATIVE_BROKER_URL'], path: ['emitters', 'knative', 'brokerURL'] },
  // Set by a SinkBinding (or a ContainerSource) on its subject, as JSON.
  { names: ['K_CE_OVERRIDES'], path: ['emitters', 'knative', 'ceOverrides'], json: true },
  { names: ['KUBEAPPS_TOKEN'], path: ['emitters', 'kubeapps', 'token'] },
  { names: ['FLUX_RECEIVER_TOKEN'], path: ['emitters', 'flux', 'receiver', 'token'] },
];

/**
 * Keys the environment supplies only when the values file leaves every one of `unless` empty.
 * A SinkBinding sets K_SINK on whatever it binds, so a sink named in the file must still win.
 */
export const ENV_FALLBACKS: readonly { name: string; path: string[]; unless: string[][] }[] = [
  {
    name: 'K_SINK',
    path: ['emitters', 'knative', 'sink', 'uri'],
    unless: [
      ['emitters', 'knative', 'brokerURL'],
      ['emitters', 'knative', 'sink', 'uri'],
      ['emitters', 'knative', 'sink', 'ref', 'name'],
    ],
  },
];

function valueAt(values: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = values;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function setAt(values: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = values;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** JSON text as its value; text that is not JSON is kept, for the schema to refuse with its message. */
function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function applyEnvOverrides(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const { names, path, json } of ENV_OVERRIDES) {
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    setAt(values, path, json ? parsedJson(env[name]!) : env[name]);
  }
  for (const { name, path, unless } of ENV_FALLBACKS) {
    const value = env[name];
    if (!value || unless.some((p) => valueAt(values, p))) continue;
    setAt(values, path, value);
  }
  return values;
}
