import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { verifyGithubSignature } from '../../src/auth/verify-github';
import { verifyJfrogAuth } from '../../src/auth/verify-jfrog';
import { parseConfig } from '../../src/gateway';
import { startEdge, type Edge } from '../helpers/edge';
import { post } from '../helpers/http';
import { githubHeaders } from '../providers/corpus-registries';

const PAYLOADS = path.resolve(__dirname, '..', '..', 'examples', 'payloads');
const GITHUB_SECRET = 'github-webhook-secret-7c1d9e2a';
const JFROG_SECRET = 'jfrog-webhook-secret-4e8b2f6a';

const hmac = (key: string, body: string) => createHmac('sha256', key).update(body).digest('hex');

describe('auth: body signatures', () => {
  describe('github-hmac', () => {
    it("accepts GitHub's documented test vector", () => {
      const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      expect(verifyGithubSignature(signature, Buffer.from('Hello, World!'), "It's a Secret to Everybody")).to.equal(
        true,
      );
    });

    it('refuses a wrong secret, a changed body, the SHA-1 form, a bare hex and no header', () => {
      const body = Buffer.from('Hello, World!');
      const good = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      expect(verifyGithubSignature(good, body, "It's a Secret to Everybody!")).to.equal(false);
      expect(verifyGithubSignature(good, Buffer.from('Hello, World?'), "It's a Secret to Everybody")).to.equal(false);
      expect(verifyGithubSignature(good.toUpperCase(), body, "It's a Secret to Everybody")).to.equal(false);
      expect(verifyGithubSignature(good.slice(7), body, "It's a Secret to Everybody")).to.equal(false);
      expect(verifyGithubSignature('sha1=01557bd5b3a4e5d1e5c9d3b1b6f0a9f7d3d6e1c2', body, 'x')).to.equal(false);
      expect(verifyGithubSignature(undefined, body, "It's a Secret to Everybody")).to.equal(false);
    });
  });

  describe('jfrog', () => {
    const body = Buffer.from('{"domain":"docker"}');
    it('accepts the secret itself, and the lower-case hex HMAC-SHA256 of the body', () => {
      expect(verifyJfrogAuth(JFROG_SECRET, body, JFROG_SECRET)).to.equal(true);
      expect(verifyJfrogAuth(hmac(JFROG_SECRET, body.toString()), body, JFROG_SECRET)).to.equal(true);
    });

    it('refuses another secret, a signature of another body, upper-case hex and no header', () => {
      expect(verifyJfrogAuth('jfrog-webhook-secret-4e8b2f6b', body, JFROG_SECRET)).to.equal(false);
      expect(verifyJfrogAuth(hmac(JFROG_SECRET, '{}'), body, JFROG_SECRET)).to.equal(false);
      expect(verifyJfrogAuth(hmac(JFROG_SECRET, body.toString()).toUpperCase(), body, JFROG_SECRET)).to.equal(false);
      expect(verifyJfrogAuth(undefined, body, JFROG_SECRET)).to.equal(false);
    });
  });

  describe('at the HTTP edge', () => {
    let edge: Edge;
    const ghcrBody = readFileSync(path.join(PAYLOADS, 'ghcr-package-published.json'), 'utf8');
    const jfrogBody = readFileSync(path.join(PAYLOADS, 'artifactory-docker-pushed.json'), 'utf8');

    before(async () => {
      edge = await startEdge({
        config: parseConfig(`
tokens:
  ci: bearer-token-for-ci-0a9b8c7d
  github: {value: ${GITHUB_SECRET}, verify: github-hmac, providers: [ghcr]}
  jfrog: {value: ${JFROG_SECRET}, verify: jfrog, providers: [artifactory]}
`),
      });
    });
    after(() => edge.close());

    it('accepts a GitHub delivery signed over the raw bytes, as sent (whitespace and all)', async () => {
      const signature = `sha256=${hmac(GITHUB_SECRET, ghcrBody)}`;
      const res = await post(`${edge.url}/events`, ghcrBody, {
        ...githubHeaders('package'),
        'X-Hub-Signature-256': signature,
      });
      expect(res.status, JSON.stringify(res.data)).to.equal(202);
      expect(res.data.events[0]).to.include({ registry: 'ghcr.io', repo: 'acme/web' });
    });

    it('refuses (401) a bad signature, a signature of the re-serialised body, and the secret as a Bearer token', async () => {
      const reserialised = JSON.stringify(JSON.parse(ghcrBody));
      for (const signature of [
        `sha256=${hmac('another-secret', ghcrBody)}`,
        `sha256=${hmac(GITHUB_SECRET, reserialised)}`,
      ]) {
        const res = await post(`${edge.url}/events/ghcr`, ghcrBody, {
          ...githubHeaders('package'),
          'X-Hub-Signature-256': signature,
        });
        expect(res.status).to.equal(401);
        expect(res.data.errors).to.deep.equal(['the body signature matches no token this gateway knows']);
      }
      const asBearer = await post(`${edge.url}/events/ghcr`, ghcrBody, {
        ...githubHeaders('package'),
        Authorization: `Bearer ${GITHUB_SECRET}`,
      });
      expect(asBearer.status).to.equal(401);
    });

    it('accepts a JFrog secret and a JFrog signature; applies the token scope to both', async () => {
      for (const auth of [JFROG_SECRET, hmac(JFROG_SECRET, jfrogBody)]) {
        const res = await post(`${edge.url}/events/artifactory`, jfrogBody, { 'X-JFrog-Event-Auth': auth });
        expect(res.status, JSON.stringify(res.data)).to.equal(202);
      }
      const outside = await post(`${edge.url}/events/ghcr`, ghcrBody, {
        ...githubHeaders('package'),
        'X-JFrog-Event-Auth': JFROG_SECRET,
      });
      expect(outside.status).to.equal(403);
      expect(outside.data.scope).to.equal('providers');
      expect(edge.log.text()).not.to.include(JFROG_SECRET);
      expect(edge.log.text()).not.to.include(GITHUB_SECRET);
    });
  });
});
