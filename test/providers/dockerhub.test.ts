import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parseConfig } from '../../src/gateway';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { startEdge } from '../helpers/edge';
import { post } from '../helpers/http';
import { interceptHttpDuringSuite, nock } from '../helpers/nock';
import { onlyEvent, rejection } from '../helpers/outcome';

const dockerhub = PROVIDERS.find((p) => p.name === 'dockerhub')!;
const TEXT = readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'dockerhub-push.json'), 'utf8');
const SAMPLE = JSON.parse(TEXT) as { push_data: Record<string, unknown> };
const parse = (body: unknown) => dockerhub.parse(inbound(body), parseContext('dockerhub'));

describe('providers/dockerhub', () => {
  it('a push of docker.io/<repo_name>:<tag> at pushed_at', () => {
    expect(onlyEvent(parse(SAMPLE))).to.include({
      type: 'push',
      registry: 'docker.io',
      repo: 'acme/web',
      tag: 'v1.4.2',
      time: '2026-11-26T09:15:02Z',
    });
  });

  it('derives the id: the same body gives the same id, a later push of the tag another', () => {
    const first = onlyEvent(parse(SAMPLE)).id;
    expect(first).to.match(/^dockerhub-[0-9a-f]{32}$/);
    expect(onlyEvent(parse(JSON.parse(TEXT))).id).to.equal(first);
    const later = { ...SAMPLE, push_data: { ...SAMPLE.push_data, pushed_at: 1795684999 } };
    expect(onlyEvent(parse(later)).id).not.to.equal(first);
  });

  it('400 naming a repository name that is not one', () => {
    expect(rejection(() => parse({ ...SAMPLE, repository: { repo_name: 'Acme/Web' } }))).to.deep.equal([
      'repository.repo_name "Acme/Web" is not a repository name',
    ]);
  });

  describe('at the HTTP edge', () => {
    interceptHttpDuringSuite();

    it('never calls callback_url', async () => {
      const callback = nock('https://registry.hub.docker.com').post(/.*/).reply(200).get(/.*/).reply(200);
      // Every request leaving the process, answered or not, seen when it is sent.
      const outbound: string[] = [];
      const seen = (req: { method?: string; path?: string }) => outbound.push(`${req.method} ${req.path}`);
      callback.on('request', seen);
      nock.emitter.on('no match', seen);
      const edge = await startEdge({ config: parseConfig('tokens: {ci: dockerhub-test-token-9a8b7c6d}') });
      nock.enableNetConnect('127.0.0.1');
      try {
        const res = await post(`${edge.url}/events/dockerhub`, TEXT, {
          Authorization: 'Bearer dockerhub-test-token-9a8b7c6d',
        });
        expect(res.status).to.equal(202);
        expect(edge.intake.accepted).to.have.length(1);
      } finally {
        // The edge holds no background work: once closed, whatever it was going to send is sent.
        await edge.close();
        nock.emitter.removeListener('no match', seen);
      }
      expect(outbound.filter((r) => !r.includes('/events/dockerhub'))).to.deep.equal([]);
      expect(callback.isDone()).to.equal(false);
      expect(callback.pendingMocks()).to.have.length(2);
    });
  });
});
