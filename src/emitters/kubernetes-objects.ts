import { bodyExcerpt, statusFailure, transportFailure, type FailurePolicy } from './http';
import { isKubernetesStatus, KubernetesCredentialsError, type KubernetesClient } from './kubernetes-client';
import { DeliveryError } from './types';

/**
 * Listing custom objects and annotating one of them, for the targets that tell a controller
 * "look now" (Flux, Kargo): group discovery, paged lists, a merge patch of one annotation, and
 * failures that name what the service account lacks.
 */

/** One kind as the API serves it: its group, the plural its paths use, and its Kind for messages. */
export interface CustomKind {
  group: string;
  plural: string;
  kind: string;
}

/** The fields of a listed object the targets read. */
export interface ListedObject {
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

/**
 * A 409 is another writer in the middle of an update; anything else the API server refuses
 * (403 without the grant, 404 without the CRD, 422 a bad patch) repeats until someone acts.
 */
export const KUBERNETES_POLICY: FailurePolicy = { retryStatuses: [409] };

/** Objects per page: the API server's own default is unlimited, which on a big cluster is one huge answer. */
const PAGE_SIZE = 500;

export function collectionPath(kind: CustomKind, version: string, namespace?: string): string {
  const where = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `/apis/${kind.group}/${version}${where}/${kind.plural}`;
}

export function objectPath(kind: CustomKind, version: string, object: ListedObject): string {
  return `${collectionPath(kind, version, object.metadata.namespace)}/${encodeURIComponent(object.metadata.name)}`;
}

/** `namespace/name`, as kubectl names an object. */
export function objectKey(object: ListedObject): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

/** The merge patch that sets one annotation and touches nothing else. */
export function annotationPatch(name: string, value: string): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [name]: value } } };
}

/**
 * A refusal as a DeliveryError. A 403 names the verb and the resource the service account needs,
 * so the fix (a Role rule) can be read off the dead letter.
 */
export function kubernetesRefusal(
  what: string,
  request: { verb: string; kind: CustomKind; namespace?: string },
  status: number,
  body: unknown,
): DeliveryError {
  const detail = isKubernetesStatus(body) ? [body.reason, body.message].filter(Boolean).join(': ') : bodyExcerpt(body);
  const where = request.namespace ? `in namespace ${request.namespace}` : 'across the cluster';
  const grant =
    status === 403
      ? `; the service account needs the RBAC verb "${request.verb}" on resource ` +
        `"${request.kind.plural}" in API group "${request.kind.group}" ${where}`
      : '';
  return statusFailure(`${what} answered ${status}${detail ? ` (${detail})` : ''}${grant}`, status, KUBERNETES_POLICY);
}

/** Any failure as a DeliveryError: refusals pass through, unreadable credentials are permanent, the rest is transport. */
export function kubernetesFailure(what: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof KubernetesCredentialsError) return new DeliveryError(`${what}: ${err.message}`, false);
  return transportFailure(err, (reason) => `${what} failed: ${reason}`, KUBERNETES_POLICY);
}

/**
 * The version of `kind`'s group to use, from the API's group discovery: the first of `preferred`
 * the server lists. Throws a permanent DeliveryError when the group or every version is missing
 * (the controller is not installed, or too old).
 */
export async function servedVersion(
  client: KubernetesClient,
  kind: CustomKind,
  preferred: readonly string[],
  what: string,
): Promise<string> {
  const answer = await client.get(`/apis/${kind.group}`);
  if (answer.status === 404) {
    throw new DeliveryError(
      `${what}: the API server serves no ${kind.group} group (is the controller installed?)`,
      false,
      404,
    );
  }
  if (answer.status !== 200)
    throw kubernetesRefusal(`${what}: discovery of ${kind.group}`, { verb: 'get', kind }, answer.status, answer.body);
  const versions = ((answer.body as { versions?: { version?: unknown }[] }).versions ?? []).map((v) => v.version);
  const version = preferred.find((p) => versions.includes(p));
  if (!version) {
    throw new DeliveryError(
      `${what}: ${kind.group} serves ${versions.join(', ') || 'no version'}; this target reads ${preferred.join(' or ')}`,
      false,
    );
  }
  return version;
}

/** Every object of `kind` in `namespace` (or the whole cluster), following `continue` tokens. */
export async function listObjects(
  client: KubernetesClient,
  kind: CustomKind,
  version: string,
  namespace: string | undefined,
  what: string,
): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let next: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(next ? { continue: next } : {}) });
    const answer = await client.get(`${collectionPath(kind, version, namespace)}?${query.toString()}`);
    if (answer.status !== 200) {
      throw kubernetesRefusal(
        `${what}: list of ${kind.plural}`,
        { verb: 'list', kind, namespace },
        answer.status,
        answer.body,
      );
    }
    const list = answer.body as { items?: ListedObject[]; metadata?: { continue?: string } };
    objects.push(...(list.items ?? []).filter((item) => item?.metadata?.name && item.metadata.namespace));
    next = list.metadata?.continue || undefined;
  } while (next);
  return objects;
}

/**
 * Sets one annotation on one object. An object deleted since it was listed is nothing to refresh,
 * so a 404 counts as done; returns whether the object was there.
 */
export async function annotate(
  client: KubernetesClient,
  kind: CustomKind,
  version: string,
  object: ListedObject,
  annotation: { name: string; value: string },
  what: string,
): Promise<boolean> {
  const answer = await client.mergePatch(
    objectPath(kind, version, object),
    annotationPatch(annotation.name, annotation.value),
  );
  if (answer.status >= 200 && answer.status < 300) return true;
  if (answer.status === 404) return false;
  const request = { verb: 'patch', kind, namespace: object.metadata.namespace };
  throw kubernetesRefusal(`${what}: patch of ${kind.kind} ${objectKey(object)}`, request, answer.status, answer.body);
}
