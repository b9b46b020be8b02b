import { DeliveryError } from './types';
import { TargetClient } from './http';
import { classifiedFailure, refusal, type AppRepositoryRefresher } from './kubeapps-refresher';
import { appRepositoryKey, type AppRepositoryRef } from './kubeapps-rules';
import { HIDDEN_CREDENTIAL, withoutUserInfo, type TargetRequest } from './preview';

function refreshPath(ref: AppRepositoryRef): string {
  const [cluster, namespace, name] = [ref.cluster, ref.namespace, ref.name].map(encodeURIComponent);
  return `/api/v1/clusters/${cluster}/namespaces/${namespace}/apprepositories/${name}/refresh`;
}

/** Kubeapps 2.1 to 2.4: its own refresh endpoint, which bumps the AppRepository for us. */
export class RefreshEndpoint implements AppRepositoryRefresher {
  private readonly client: TargetClient;

  constructor(
    private readonly address: string,
    private readonly token: string,
    timeoutSeconds: number,
    insecureSkipTLSVerify: boolean,
  ) {
    this.client = new TargetClient({ baseURL: address, timeoutSeconds, insecureSkipTLSVerify, responseType: 'json' });
  }

  preview(ref: AppRepositoryRef): TargetRequest {
    return {
      title: `refresh of AppRepository ${appRepositoryKey(ref)}`,
      method: 'POST',
      url: `${withoutUserInfo(this.address).replace(/\/+$/, '')}${refreshPath(ref)}`,
      headers: { Authorization: `Bearer ${HIDDEN_CREDENTIAL}`, Accept: 'application/json' },
    };
  }

  async refresh(ref: AppRepositoryRef): Promise<void> {
    const path = refreshPath(ref);
    let response;
    try {
      response = await this.client.http.post(path, undefined, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' },
      });
    } catch (err) {
      const failure = classifiedFailure(ref, 'refresh', err);
      // Belt and braces: no library message should echo a header, but the token must never leak.
      throw this.token && failure.message.includes(this.token)
        ? new DeliveryError(failure.message.split(this.token).join('[redacted]'), failure.retryable, failure.status)
        : failure;
    }
    if (response.status >= 200 && response.status < 300) return;
    throw refusal(ref, 'refresh', response.status, response.data);
  }

  close(): void {
    this.client.close();
  }
}
