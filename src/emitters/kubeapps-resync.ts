import { DeliveryError } from './types';
import { classifiedFailure, refusal, type AppRepositoryRefresher } from './kubeapps-refresher';
import { appRepositoryKey, type AppRepositoryRef } from './kubeapps-rules';
import type { KubernetesClient } from './kubernetes-client';
import { HIDDEN_CREDENTIAL, withoutUserInfo, type TargetRequest } from './preview';

/** How often a conflicting AppRepository write is read again and retried before giving up. */
const MAX_WRITE_ATTEMPTS = 5;

function appRepositoryPath(ref: AppRepositoryRef): string {
  return (
    `/apis/kubeapps.com/v1alpha1/namespaces/${encodeURIComponent(ref.namespace)}` +
    `/apprepositories/${encodeURIComponent(ref.name)}`
  );
}

/**
 * Every Kubeapps version: bumping `spec.resyncRequests` makes its controller re-sync the
 * AppRepository. Read-modify-write with the resourceVersion kept, so a concurrent writer makes
 * the API server answer 409 instead of one update silently overwriting the other.
 */
export class ResyncRequestsBump implements AppRepositoryRefresher {
  constructor(private readonly kubernetes: KubernetesClient) {}

  preview(ref: AppRepositoryRef): TargetRequest {
    return {
      title: `resync of AppRepository ${appRepositoryKey(ref)}: read it, then write it back with spec.resyncRequests + 1`,
      method: 'PUT',
      url: `${withoutUserInfo(this.kubernetes.apiServer)}${appRepositoryPath(ref)}`,
      headers: {
        Authorization: `Bearer ${HIDDEN_CREDENTIAL} (the service account token)`,
        'Content-Type': 'application/json',
      },
    };
  }

  async refresh(ref: AppRepositoryRef): Promise<void> {
    const path = appRepositoryPath(ref);
    try {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const read = await this.kubernetes.get(path);
        if (read.status !== 200 || typeof read.body !== 'object' || read.body === null) {
          throw refusal(ref, 'read', read.status, read.body);
        }
        const written = await this.kubernetes.put(path, withResyncRequested(read.body as Record<string, unknown>));
        if (written.status >= 200 && written.status < 300) return;
        if (written.status !== 409) throw refusal(ref, 'update', written.status, written.body);
      }
    } catch (err) {
      throw classifiedFailure(ref, 'update', err);
    }
    throw new DeliveryError(
      `kubeapps: update of AppRepository ${appRepositoryKey(ref)} conflicted with other writers ${MAX_WRITE_ATTEMPTS} times`,
      true,
      409,
    );
  }

  close(): void {
    this.kubernetes.close();
  }
}

function withResyncRequested(appRepository: Record<string, unknown>): Record<string, unknown> {
  const spec = (
    typeof appRepository.spec === 'object' && appRepository.spec !== null ? appRepository.spec : {}
  ) as Record<string, unknown>;
  const current = Number.isInteger(spec.resyncRequests) ? (spec.resyncRequests as number) : 0;
  return { ...appRepository, spec: { ...spec, resyncRequests: current + 1 } };
}
