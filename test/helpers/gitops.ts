import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RegistryEvent } from '../../src/model/event';

/** What the GitOps targets' tests share: a service-account token on disk and pushes of an image. */
export const SERVICE_ACCOUNT_TOKEN = 'sa-token-gitops-5e4d3c2b';

export function tokenFile(): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rg-gitops-')), 'token');
  writeFileSync(file, `${SERVICE_ACCOUNT_TOKEN}\n`);
  return file;
}

export function pushOf(image: string, overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  const [registry, ...repo] = image.split('/');
  return {
    id: `push-${Math.random().toString(36).slice(2)}`,
    provider: 'harbor',
    source: 'brigade.sh/harbor',
    type: 'push',
    registry,
    repo: repo.join('/'),
    tag: 'v1.2.3',
    time: '2026-03-01T10:00:00Z',
    payload: {},
    ...overrides,
  };
}
