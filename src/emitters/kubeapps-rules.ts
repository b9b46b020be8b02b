import type { EventType, RegistryEvent } from '../model/event';

/** Events that change what an AppRepository lists; nothing else is worth a re-sync. */
export const KUBEAPPS_EVENT_TYPES: readonly EventType[] = ['push', 'delete', 'chart_push', 'chart_delete'];

/** One `emitters.kubeapps.repositories` entry: which pushes refresh which AppRepository. */
export interface AppRepositoryRule {
  registry: string;
  /** Matched against the start of the event's repository, as written (no implied `/`). */
  prefix: string;
  /** For OCI AppRepositories: the repository names below the prefix that the AppRepository lists. */
  ociRepositories?: string[];
  cluster: string;
  namespace: string;
  name: string;
}

/** The AppRepository a rule points at. */
export interface AppRepositoryRef {
  cluster: string;
  namespace: string;
  name: string;
}

export function appRepositoryKey(ref: AppRepositoryRef): string {
  return `${ref.cluster}/${ref.namespace}/${ref.name}`;
}

export function ruleMatches(rule: AppRepositoryRule, event: RegistryEvent): boolean {
  if (rule.registry.toLowerCase() !== event.registry) return false;
  if (event.repo === undefined || !event.repo.startsWith(rule.prefix)) return false;
  if (!rule.ociRepositories) return true;
  const rest = event.repo.slice(rule.prefix.length).replace(/^\//, '');
  return rule.ociRepositories.includes(rest);
}

/**
 * The distinct AppRepositories an event should refresh: none for types that do not change a
 * repository index, one per matching rule otherwise (two rules naming the same AppRepository
 * refresh it once).
 */
export function appRepositoriesFor(rules: readonly AppRepositoryRule[], event: RegistryEvent): AppRepositoryRef[] {
  if (!KUBEAPPS_EVENT_TYPES.includes(event.type)) return [];
  const targets = new Map<string, AppRepositoryRef>();
  for (const rule of rules) {
    if (!ruleMatches(rule, event)) continue;
    const ref = { cluster: rule.cluster, namespace: rule.namespace, name: rule.name };
    targets.set(appRepositoryKey(ref), ref);
  }
  return [...targets.values()];
}
