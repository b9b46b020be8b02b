import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { basicCredentials, verifyBasic } from '../../src/auth/basic';
import { TokenVerifier } from '../../src/auth/tokens';
import { parseConfig } from '../../src/gateway';
import { startEdge, type Edge } from '../helpers/edge';
import { post } from '../helpers/http';
import { corpusPath } from '../helpers/corpus';

const HARBOR_TOKEN = 'harbor-tok-fedcba9876543210';
const ACR_TOKEN = 'acr-tok-0123456789abcdef';
const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
});

/** A Harbor push from the corpus fixtures, its repository set to `repo`. */
function harborPush(repo: string): unknown {
  const body = JSON.parse(
    readFileSync(corpusPath('fixtures', 'harbor', 'docs-v2.0-push-artifact-tagged.json'), 'utf8'),
  ) as { event_data: { repository: Record<string, string>; resources: { resource_url: string }[] } };
  body.event_data.repository.repo_full_name = repo;
  body.event_data.resources[0].resource_url = `harbor.example.com/${repo}:latest`;
  return body;
}

describe('auth/basic', () => {
  describe('basicCredentials', () => {
    it('reads user and password, the password keeping any colon', () => {
      expect(basicCredentials(basic('harbor-prod', 'a:b:c').Authorization)).to.deep.equal({
        user: 'harbor-prod',
        password: 'a:b:c',
      });
      expect(basicCredentials('basic   ' + Buffer.from('u:p').toString('base64'))).to.deep.equal({
        user: 'u',
        password: 'p',
      });
    });

    it('finds nothing in a header that is not Basic credentials', () => {
      for (const header of [
        undefined,
        '',
        'Basic',
        'Basic !!!',
        `Basic ${Buffer.from('no-colon').toString('base64')}`,
      ]) {
        expect(basicCredentials(header), String(header)).to.equal(undefined);
      }
      expect(basicCredentials(`Bearer ${Buffer.from('u:p').toString('base64')}`)).to.equal(undefined);
    });

    it("accepts a token only with its own name as the user name, and gives that token's scope", () => {
      const verifier = new TokenVerifier({
        'harbor-prod': { value: HARBOR_TOKEN, providers: ['harbor'] },
        other: ACR_TOKEN,
      });
      expect(verifyBasic(verifier, { user: 'harbor-prod', password: HARBOR_TOKEN })).to.deep.include({
        name: 'harbor-prod',
        providers: ['harbor'],
      });
      expect(verifyBasic(verifier, { user: 'other', password: HARBOR_TOKEN })).to.equal(undefined);
      expect(verifyBasic(verifier, { user: 'harbor-prod', password: ACR_TOKEN })).to.equal(undefined);
      expect(verifyBasic(verifier, { user: 'harbor-prod', password: 'not-a-token' })).to.equal(undefined);
    });
  });

  describe('at the HTTP edge', () => {
    let edge: Edge;

    beforeEach(async () => {
      const config = parseConfig(`
tokens:
  harbor-prod: {value: ${HARBOR_TOKEN}, providers: [harbor], registries: [harbor.example.com], repos: ["library/**"]}
  acr-ci: ${ACR_TOKEN}
`);
      edge = await startEdge({ config });
    });

    afterEach(() => edge.close());

    it('takes a Harbor webhook whose Auth Header is Basic <name>:<token>, as a VEBA-era policy sends it', async () => {
      const res = await post(
        `${edge.url}/events/harbor`,
        harborPush('library/app'),
        basic('harbor-prod', HARBOR_TOKEN),
      );
      expect(res.status, JSON.stringify(res.data)).to.equal(202);
      expect(edge.intake.accepted.map((e) => e.repo)).to.deep.equal(['library/app']);
    });

    it('refuses the right token under another name, and a wrong token, with one hint for both', async () => {
      const wrongName = await post(
        `${edge.url}/events/harbor`,
        harborPush('library/app'),
        basic('acr-ci', HARBOR_TOKEN),
      );
      const wrongToken = await post(`${edge.url}/events/harbor`, harborPush('library/app'), basic('harbor-prod', 'x'));
      for (const res of [wrongName, wrongToken]) {
        expect(res.status).to.equal(401);
        expect(res.data.errors).to.deep.equal([
          'the Basic credentials are not a token this gateway knows with its name as the user name',
        ]);
      }
      const malformed = await post(`${edge.url}/events/harbor`, harborPush('library/app'), {
        Authorization: 'Basic bm8tY29sb24=',
      });
      expect(malformed.status).to.equal(401);
      expect(malformed.data.errors[0]).to.match(/base64 of "<token name>:<token>"/);
      expect(edge.intake.accepted).to.have.length(0);
    });

    it("applies the token's scope: provider, registry and repository", async () => {
      const acr = JSON.parse(readFileSync(path.resolve(__dirname, '../../examples/payloads/acr-push.json'), 'utf8'));
      const provider = await post(`${edge.url}/events`, acr, basic('harbor-prod', HARBOR_TOKEN));
      expect(provider.status).to.equal(403);
      expect(provider.data.scope).to.equal('providers');
      const repo = await post(
        `${edge.url}/events/harbor`,
        harborPush('secret/app'),
        basic('harbor-prod', HARBOR_TOKEN),
      );
      expect(repo.status).to.equal(403);
      expect(repo.data.scope).to.equal('repos');
      expect(edge.intake.accepted).to.have.length(0);
    });

    it('sends a Basic challenge only to a request that used Basic; the Bearer challenge stays as it was', async () => {
      const none = await post(`${edge.url}/events/harbor`, harborPush('library/app'));
      expect(none.headers['www-authenticate']).to.equal('Bearer realm="registry-gateway"');
      const bearer = await post(`${edge.url}/events/harbor`, harborPush('library/app'), {
        Authorization: 'Bearer not-a-token',
      });
      expect(bearer.headers['www-authenticate']).to.equal('Bearer realm="registry-gateway", error="invalid_token"');
      const refused = await post(`${edge.url}/events/harbor`, harborPush('library/app'), basic('harbor-prod', 'x'));
      expect(refused.headers['www-authenticate']).to.equal(
        'Bearer realm="registry-gateway", Basic realm="registry-gateway", charset="UTF-8"',
      );
    });

    it('still refuses a token in the query string, Basic header or not', async () => {
      const res = await post(
        `${edge.url}/events/harbor?access_token=${HARBOR_TOKEN}`,
        harborPush('library/app'),
        basic('harbor-prod', HARBOR_TOKEN),
      );
      expect(res.status).to.equal(401);
      expect(res.data.errors[0]).to.match(/query string/);
    });

    it('never logs the token or the header carrying it', async () => {
      const header = basic('harbor-prod', HARBOR_TOKEN);
      await post(`${edge.url}/events/harbor`, harborPush('library/app'), header);
      await post(`${edge.url}/events/harbor`, harborPush('library/app'), basic('harbor-prod', 'wrong-secret-value-42'));
      const text = edge.log.text();
      expect(edge.log.lines().length).to.be.greaterThan(0);
      for (const secret of [HARBOR_TOKEN, header.Authorization.slice(6), 'wrong-secret-value-42']) {
        expect(text).to.not.include(secret);
      }
    });
  });
});
