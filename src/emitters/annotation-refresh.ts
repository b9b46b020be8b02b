import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import { eventRepository } from './image-reference';
import type { KubernetesClient } from './kubernetes-client';
import {
  annotate,
  annotationPatch,
  collectionPath,
  kubernetesFailure,
  listObjects,
  objectKey,
  objectPath,
  servedVersion,
  type CustomKind,
  type ListedObject,
} from './kubernetes-objects';
import { HIDDEN_CREDENTIAL, withoutUserInfo, type TargetRequest } from './preview';
import { RefreshWindows } from './refresh-windows';
import { DeliveryError, type SharedWindows } from './types';

/** How long a discovered API version is trusted before the group is asked again (an upgrade of the controller). */
const VERSION_TTL_MS = 5 * 60_000;

/** What one GitOps target (Flux, Kargo) tells the shared refresh about its kind. */
export interface AnnotationTarget {
  /** `flux`, `kargo`: the emitter's name and the prefix of its shared-window keys. */
  name: string;
  kind: CustomKind;
  /** Versions this target reads, in order of preference; discovery picks the first served. */
  versions: readonly string[];
  annotation: string;
  /** The objects that could match, in the configured scope (listing costs one request per namespace). */
  candidates(client: KubernetesClient, version: string): Promise<ListedObject[]>;
  /** Whether the object subscribes to the event's image (`repository` is normalised). */
  matches(object: ListedObject, repository: string, event: RegistryEvent): boolean;
  /** The annotation's value for a patch made now, for the newest event joined to the window. */
  value(event: RegistryEvent, object: ListedObject): string;
  /** Where the candidates are, for messages (`namespaces a, b`, `every Kargo project namespace`). */
  scope: string;
}

interface PendingPatch {
  object: ListedObject;
  version: string;
  event: RegistryEvent;
}

/**
 * Finds the objects subscribed to an event's image and sets the target's annotation on each, at
 * most once per object per debounce window across replicas (the Kubeapps refresher's windows).
 * An event no object subscribes to is delivered: nothing is waiting for it, and the log says so.
 */
export class AnnotationRefresh {
  private readonly windows: RefreshWindows<PendingPatch>;
  private discovered?: { version: string; at: number };

  constructor(
    private readonly client: KubernetesClient,
    private readonly target: AnnotationTarget,
    windowMs: number,
    shared?: SharedWindows,
    private readonly logger?: Logger,
  ) {
    this.windows = new RefreshWindows<PendingPatch>(
      windowMs,
      (patch, deliveries) => this.patch(patch, deliveries),
      shared,
      logger,
      // Deliveries of one window join in any order; the patch names the newest push among them.
      (current, joining) => (Date.parse(joining.event.time) >= Date.parse(current.event.time) ? joining : current),
    );
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const { repository, version, objects } = await this.find(event);
    if (objects.length === 0) {
      this.logger?.info(
        { emitter: this.target.name, eventId: event.id, repository, scope: this.target.scope },
        `no ${this.target.kind.kind} subscribes to the image; delivered without a patch`,
      );
      return;
    }
    const key = (object: ListedObject) => `${this.target.name}:${objectKey(object)}`;
    const outcomes = await Promise.allSettled(
      objects.map((object) => this.windows.join(key(object), { object, version, event })),
    );
    const failures = outcomes.flatMap((o) =>
      o.status === 'rejected' ? [kubernetesFailure(this.target.name, o.reason)] : [],
    );
    if (failures.length === 0) return;
    if (failures.length === 1) throw failures[0];
    // A retry patches the ones that worked again, which only asks their controller to look once more.
    throw new DeliveryError(
      failures.map((f) => f.message).join('; '),
      failures.some((f) => f.retryable),
      failures.find((f) => f.retryable)?.status ?? failures[0].status,
    );
  }

  /** The patches a delivery would make now, read from the API; or, with no match, the list that found none. */
  async preview(event: RegistryEvent): Promise<TargetRequest[]> {
    const { repository, version, objects } = await this.find(event);
    const headers = { Authorization: `Bearer ${HIDDEN_CREDENTIAL} (the service account token)` };
    const base = withoutUserInfo(this.client.apiServer);
    if (objects.length === 0) {
      return [
        {
          title:
            `No ${this.target.kind.kind} in ${this.target.scope} subscribes to ${repository}: ` +
            'a delivery is done without patching anything',
          method: 'GET',
          url: `${base}${collectionPath(this.target.kind, version)}`,
          headers,
        },
      ];
    }
    return objects.map((object) => ({
      title: `Set ${this.target.annotation} on ${this.target.kind.kind} ${objectKey(object)}`,
      method: 'PATCH',
      url: `${base}${objectPath(this.target.kind, version, object)}`,
      headers: { ...headers, 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify(annotationPatch(this.target.annotation, this.target.value(event, object)), null, 2),
    }));
  }

  /** Runs the patches still waiting in a window, so no delivery is left unsettled. */
  async close(): Promise<void> {
    await this.windows.flush();
    this.client.close();
  }

  private async find(event: RegistryEvent): Promise<{ repository: string; version: string; objects: ListedObject[] }> {
    const repository = eventRepository(event);
    if (!repository) throw new DeliveryError(`${this.target.name}: the event names no repository`, false);
    try {
      const version = await this.version();
      const candidates = await this.target.candidates(this.client, version);
      return { repository, version, objects: candidates.filter((o) => this.target.matches(o, repository, event)) };
    } catch (err) {
      // The group may have moved on (a controller upgrade): discover it again next time.
      this.discovered = undefined;
      throw kubernetesFailure(this.target.name, err);
    }
  }

  private async version(): Promise<string> {
    const now = Date.now();
    if (this.discovered && now - this.discovered.at < VERSION_TTL_MS) return this.discovered.version;
    const version = await servedVersion(this.client, this.target.kind, this.target.versions, this.target.name);
    this.discovered = { version, at: now };
    return version;
  }

  private async patch({ object, version, event }: PendingPatch, deliveries: number): Promise<void> {
    const annotation = { name: this.target.annotation, value: this.target.value(event, object) };
    const what = `${this.target.kind.kind} ${objectKey(object)}`;
    try {
      const found = await annotate(this.client, this.target.kind, version, object, annotation, this.target.name);
      this.logger?.info(
        { emitter: this.target.name, object: objectKey(object), deliveries, [annotation.name]: annotation.value },
        found ? `${what} asked to look now` : `${what} was deleted since it was listed; nothing to refresh`,
      );
    } catch (err) {
      const failure = kubernetesFailure(this.target.name, err);
      this.logger?.warn(
        { emitter: this.target.name, object: objectKey(object), deliveries, error: failure.message },
        `patch of ${what} failed`,
      );
      throw failure;
    }
  }
}

/** The candidates of a target that lists its kind in the configured namespaces, or the whole cluster. */
export async function listInNamespaces(
  client: KubernetesClient,
  kind: CustomKind,
  version: string,
  namespaces: readonly string[],
  what: string,
): Promise<ListedObject[]> {
  if (namespaces.length === 0) return listObjects(client, kind, version, undefined, what);
  const lists = await Promise.all(namespaces.map((ns) => listObjects(client, kind, version, ns, what)));
  return lists.flat();
}
