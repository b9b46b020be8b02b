/**
 * Single keys a container may set from its environment (secrets mounted as env vars), applied
 * on top of the values file before validation. The `API_*` names are brigade-acr-gateway's, so
 * its deployments carry over.
 */
export const ENV_OVERRIDES: readonly { names: string[]; path: string[] }[] = [
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
  { names: ['KUBEAPPS_TOKEN'], path: ['emitters', 'kubeapps', 'token'] },
];

export function applyEnvOverrides(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const { names, path } of ENV_OVERRIDES) {
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    let node: Record<string, unknown> = values;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = env[name];
  }
  return values;
}
