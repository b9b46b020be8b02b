import { readFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { expect } from 'chai';
import { ConfigError } from '../../src/config/load';
import { parseConfig } from '../../src/gateway';
import { startEdge, type Edge } from '../helpers/edge';
import { post } from '../helpers/http';

const PAYLOADS = path.resolve(__dirname, '..', '..', 'examples', 'payloads');
// Made at run time, so that the token is in no source file, test title or reporter line.
const PATH_TOKEN = `p${Date.now().toString(36)}${'7f3c0e9d2b8a6c1f5e4d3b2a19087654'.slice(0, 24)}`;
const SHORT_PATH_TOKEN = '0123456789abcdef0123456789';

describe('auth: tokens in the path (verify: path)', () => {
  let edge: Edge;
  const dockerhub = readFileSync(path.join(PAYLOADS, 'dockerhub-push.json'), 'utf8');
  const responses: string[] = [];
  const record = <Response extends { status: number; data: unknown; headers: unknown }>(res: Response) => {
    responses.push(JSON.stringify([res.status, res.data, res.headers]));
    return res;
  };

  before(async () => {
    expect(PATH_TOKEN.length).to.be.at.least(32);
    edge = await startEdge({
      config: parseConfig(`
tokens:
  hub: {value: ${PATH_TOKEN}, verify: path, providers: [dockerhub, quay]}
  ci: bearer-token-for-ci-0a9b8c7d
`),
    });
  });
  after(() => edge.close());

  it('accepts the token as the last path segment of /events/<provider>/<token>', async () => {
    const res = record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN}`, dockerhub));
    expect(res.status, JSON.stringify(res.data)).to.equal(202);
    expect(res.data.events[0]).to.include({ registry: 'docker.io', repo: 'acme/web' });
  });

  it('refuses a wrong path token, the path token as a Bearer token, and a bearer token in the path', async () => {
    const wrong = record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN.slice(0, -1)}x`, dockerhub));
    expect(wrong.status).to.equal(401);
    const asBearer = record(
      await post(`${edge.url}/events/dockerhub`, dockerhub, { Authorization: `Bearer ${PATH_TOKEN}` }),
    );
    expect(asBearer.status).to.equal(401);
    const bearerInPath = record(await post(`${edge.url}/events/dockerhub/bearer-token-for-ci-0a9b8c7d`, dockerhub));
    expect(bearerInPath.status).to.equal(401);
  });

  it('applies its scope: 403 on a provider it is not scoped to', async () => {
    const ghcr = readFileSync(path.join(PAYLOADS, 'ecr-image-push.json'), 'utf8');
    const res = record(await post(`${edge.url}/events/ecr/${PATH_TOKEN}`, ghcr));
    expect(res.status).to.equal(403);
    expect(res.data.scope).to.equal('providers');
  });

  it('never shows the token: not in any log line, response, error or metric', async () => {
    record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN}`, '{"push_data": 1}'));
    record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN}`, 'not json'));
    record(await post(`${edge.url}/events/nexus/${PATH_TOKEN}`, dockerhub));
    record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN}/more`, dockerhub));
    record(await post(`${edge.url}/EVENTS/dockerhub/${PATH_TOKEN}`, dockerhub));
    record(await post(`${edge.url}/events/dockerhub/${PATH_TOKEN}`, dockerhub, { 'Content-Type': 'text/plain' }));
    record(await axios.get(`${edge.url}/events/dockerhub/${PATH_TOKEN}`, { validateStatus: () => true }));
    record(await axios.get(`${edge.url}/metrics`));

    const logged = edge.log.text();
    expect(logged).to.include('/events/dockerhub/[redacted]');
    expect(logged).not.to.include(PATH_TOKEN);
    for (const response of responses) expect(response).not.to.include(PATH_TOKEN);
    expect(responses.length).to.equal(13);
  });

  it('needs at least 32 characters', () => {
    expect(() => parseConfig(`tokens: {hub: {value: ${SHORT_PATH_TOKEN}, verify: path}}`)).to.throw(
      ConfigError,
      'tokens.hub is shorter than 32 characters, which verify: path needs',
    );
  });
});
