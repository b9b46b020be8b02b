import type { RegistryEvent } from '../../src/model/event';

/** An untagged manifest push from a CNCF Distribution registry, shared by the emitter tests. */
export const distributionPushByDigest: RegistryEvent = {
  id: 'asdf-asdf-asdf-asdf-0',
  provider: 'distribution',
  source: 'brigade.sh/distribution',
  type: 'push',
  registry: 'localhost:5000',
  repo: 'library/test',
  digest: 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf',
  time: '2023-05-02T10:11:12.345678Z',
  payload: { id: 'asdf-asdf-asdf-asdf-0', action: 'push', target: { repository: 'library/test' } },
};
