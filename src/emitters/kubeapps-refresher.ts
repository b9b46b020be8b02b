import type { TargetRequest } from './preview';
import { DeliveryError } from './types';
import { bodyExcerpt, statusFailure, transportFailure, type FailurePolicy } from './http';
import { appRepositoryKey, type AppRepositoryRef } from './kubeapps-rules';
import { isKubernetesStatus, KubernetesCredentialsError } from './kubernetes-client';

/** Triggers a re-sync of one AppRepository; throws a classified DeliveryError. */
export interface AppRepositoryRefresher {
  refresh(ref: AppRepositoryRef): Promise<void>;
  /** The request `refresh` sends, for the console; never with its credential. */
  preview(ref: AppRepositoryRef): TargetRequest;
  close(): void;
}

/**
 * Besides the common retryable answers, a 409: another writer changed the AppRepository, and
 * the next attempt reads it afresh. Any other refusal (401, 403, 404, 400...) will repeat.
 */
const KUBEAPPS_POLICY: FailurePolicy = { retryStatuses: [409] };

/** A refusal of `action` on the AppRepository, with the API server's or Kubeapps' reason. */
export function refusal(ref: AppRepositoryRef, action: string, status: number, body: unknown): DeliveryError {
  const detail = isKubernetesStatus(body) ? [body.reason, body.message].filter(Boolean).join(': ') : bodyExcerpt(body);
  return statusFailure(
    `kubeapps: ${action} of AppRepository ${appRepositoryKey(ref)} answered ${status}${detail ? ` (${detail})` : ''}`,
    status,
    KUBEAPPS_POLICY,
  );
}

/** Any failure of a refresh as a DeliveryError: refusals pass through, the rest is transport or setup. */
export function classifiedFailure(ref: AppRepositoryRef, action: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const what = `kubeapps: ${action} of AppRepository ${appRepositoryKey(ref)}`;
  if (err instanceof KubernetesCredentialsError) return new DeliveryError(`${what}: ${err.message}`, false);
  return transportFailure(err, (reason) => `${what} failed: ${reason}`, KUBEAPPS_POLICY);
}
