import Joi from 'joi';
import type { RegistryEvent } from '../model/event';
import { AnnotationRefresh, listInNamespaces, type AnnotationTarget } from './annotation-refresh';
import { warehouseSubscribes } from './kargo-subscriptions';
import {
  KUBERNETES_CONNECTION_SETTINGS,
  KubernetesClient,
  objectName,
  type KubernetesConnectionSection,
} from './kubernetes-client';
import { kubernetesRefusal, listObjects, type CustomKind, type ListedObject } from './kubernetes-objects';
import type { TargetRequest } from './preview';
import { withDefaults, type Emitter, type EmitterDeps, type EmitterPlugin } from './types';
import type { EmitterSectionBase, OwnSettings } from './types';

export interface KargoSection extends EmitterSectionBase, KubernetesConnectionSection {
  /** Where Warehouses are listed; empty: every Kargo project namespace. */
  namespaces: string[];
  debounceSeconds: number;
  timeoutSeconds: number;
}

export type KargoSettings = Partial<OwnSettings<KargoSection>>;

/** The annotation Kargo reconciles a Warehouse on whenever its value changes. */
export const KARGO_REFRESH = 'kargo.akuity.io/refresh';
/** The label (value "true") that marks a namespace as a Kargo project's. */
export const KARGO_PROJECT_LABEL = 'kargo.akuity.io/project';

const WAREHOUSE: CustomKind = { group: 'kargo.akuity.io', plural: 'warehouses', kind: 'Warehouse' };
const NAMESPACE: CustomKind = { group: '', plural: 'namespaces', kind: 'Namespace' };

const settingsSchema: Joi.StrictSchemaMap<OwnSettings<KargoSection>> = {
  namespaces: Joi.array().items(objectName).unique().default([]),
  debounceSeconds: Joi.number().min(0).default(10),
  ...KUBERNETES_CONNECTION_SETTINGS,
  timeoutSeconds: Joi.number().positive().default(10),
};

/** The namespaces labelled as Kargo projects'. */
async function projectNamespaces(client: KubernetesClient): Promise<Set<string>> {
  const selector = encodeURIComponent(`${KARGO_PROJECT_LABEL}=true`);
  const answer = await client.get(`/api/v1/namespaces?labelSelector=${selector}`);
  if (answer.status !== 200) {
    throw kubernetesRefusal(
      'kargo: list of project namespaces',
      { verb: 'list', kind: NAMESPACE },
      answer.status,
      answer.body,
    );
  }
  const items = (answer.body as { items?: { metadata?: { name?: string } }[] }).items ?? [];
  return new Set(items.flatMap((n) => (n.metadata?.name ? [n.metadata.name] : [])));
}

/** With no namespaces configured: the Warehouses of the cluster that live in a project namespace. */
async function warehouses(
  client: KubernetesClient,
  version: string,
  namespaces: readonly string[],
): Promise<ListedObject[]> {
  if (namespaces.length > 0) return listInNamespaces(client, WAREHOUSE, version, namespaces, 'kargo');
  const [projects, all] = await Promise.all([
    projectNamespaces(client),
    listObjects(client, WAREHOUSE, version, undefined, 'kargo'),
  ]);
  return all.filter((w) => projects.has(w.metadata.namespace));
}

function warehouseTarget(namespaces: readonly string[]): AnnotationTarget {
  return {
    name: 'kargo',
    kind: WAREHOUSE,
    versions: ['v1alpha1'],
    annotation: KARGO_REFRESH,
    scope: namespaces.length ? `namespaces ${namespaces.join(', ')}` : 'any Kargo project namespace',
    candidates: (client, version) => warehouses(client, version, namespaces),
    matches: warehouseSubscribes,
    // Kargo acts on a value it has not handled yet: the time of the patch never repeats.
    value: () => new Date().toISOString(),
  };
}

/**
 * Tells Kargo to look for new Freight now: sets `kargo.akuity.io/refresh` on every Warehouse
 * with an image subscription to the pushed repository whose tag rules take the pushed tag.
 * docs/targets/kargo.md.
 */
export class KargoEmitter implements Emitter {
  readonly name = 'kargo';
  private readonly refresh: AnnotationRefresh;

  constructor(given: KargoSettings, deps?: Partial<EmitterDeps>, env: NodeJS.ProcessEnv = process.env) {
    const settings = withDefaults(settingsSchema, given);
    this.refresh = new AnnotationRefresh(
      new KubernetesClient(settings, env),
      warehouseTarget(settings.namespaces),
      settings.debounceSeconds * 1000,
      deps?.sharedWindows,
      deps?.logger,
    );
  }

  /** A push of a repository is new Freight to look for; nothing else is. */
  accepts(event: RegistryEvent): boolean {
    return event.repo !== undefined && event.type === 'push';
  }

  deliver(event: RegistryEvent): Promise<void> {
    return this.refresh.deliver(event);
  }

  preview(event: RegistryEvent): Promise<TargetRequest[]> {
    return this.refresh.preview(event);
  }

  close(): Promise<void> {
    return this.refresh.close();
  }
}

export const kargoEmitterPlugin: EmitterPlugin<'kargo', KargoSection> = {
  key: 'kargo',
  settings: settingsSchema,
  enabledByDefault: false,
  create: (section, deps) => new KargoEmitter(section, deps),
};
