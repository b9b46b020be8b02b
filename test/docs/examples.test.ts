import { expect } from 'chai';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { cloudEventFor } from '../../src/emitters/knative-naming';
import { parseConfig } from '../../src/gateway';
import { makeEvent } from '../delivery/support';
import { readSchema } from '../helpers/corpus';
import { codeBlocks } from './markdown';

/** The YAML in the README and docs/ is what users copy: it must be what the gateway and Brigade accept. */
describe('README and docs/ examples', () => {
  const yamlBlocks = codeBlocks('yaml').map((b) => b.text);

  it('the configuration reference is a valid values file, defaults and all', () => {
    const reference = yamlBlocks.find((b) => b.startsWith('host:'));
    expect(reference, 'the configuration reference block').to.be.a('string');
    const config = parseConfig(reference!, 'docs');
    expect(config.delivery.maxAttempts).to.equal(12);
    expect(config.emitters.log.enabled).to.equal(true);
  });

  // Snippets show one concern each; the settings they leave out are filled in as a user would.
  const required: Record<string, Record<string, unknown>> = {
    brigade: { apiToken: 'sa-token' },
    knative: { brokerURL: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default' },
    kubeapps: {
      address: 'http://kubeapps.kubeapps.svc',
      token: 'kubeapps-token',
      repositories: [{ registry: 'myregistry.azurecr.io', prefix: 'charts/', namespace: 'kubeapps', name: 'charts' }],
    },
  };

  it('every emitters/tokens snippet validates once combined with what it leaves out', () => {
    // A snippet naming a tokensFile shows a file that exists only in a pod; one naming a
    // tokensSecret is chart values, checked by `validate --chart` in test/docs/install.test.ts.
    const snippets = yamlBlocks.filter(
      (b) =>
        /^(emitters|tokens):/m.test(b) &&
        !b.startsWith('host:') &&
        !b.includes('tokensFile:') &&
        !b.includes('tokensSecret:'),
    );
    expect(snippets.length).to.be.greaterThan(3);
    for (const block of snippets) {
      const doc = parse(block);
      const values = { tokens: { readme: 'readme-token-5e4d3c2b1a' }, ...doc };
      for (const [key, section] of Object.entries((doc.emitters ?? {}) as Record<string, Record<string, unknown>>)) {
        for (const [name, value] of Object.entries(required[key] ?? {})) {
          // A Knative snippet naming its sink another way leaves brokerURL out on purpose.
          if (!(key === 'knative' && name === 'brokerURL' && section.sink)) section[name] ??= value;
        }
      }
      expect(() => parseConfig(JSON.stringify(values), 'docs'), block).not.to.throw();
    }
  });

  it("the VEBA values give Harbor events the types and source VEBA's Triggers filter on", () => {
    const veba = yamlBlocks.find((b) => b.includes('typeTemplate: veba'));
    expect(veba, 'the "Coming from VEBA" block').to.be.a('string');
    const config = parseConfig(`tokens: {readme: readme-token-5e4d3c2b1a}\n${veba}`, 'docs');
    const push = { ...makeEvent('veba'), provider: 'harbor', source: 'brigade.sh/harbor' };
    const cloudEvent = cloudEventFor({ ...push, payload: { type: 'PUSH_ARTIFACT' } }, config.emitters.knative);
    expect(cloudEvent).to.include({ type: 'com.vmware.harbor.push_artifact.v0', source: '/kn-go-harbor-webhook' });
    expect(config.emitters.knative.sink.ref).to.include({
      kind: 'Broker',
      name: 'default',
      namespace: 'vmware-functions',
    });
  });

  it('the Brigade project validates against Brigade’s project schema', function () {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema(readSchema('brigade', 'common.json'));
    const validate = ajv.compile(readSchema('brigade', 'project.json'));
    const projects = yamlBlocks.filter((b) => b.includes('kind: Project'));
    expect(projects).to.have.length.greaterThan(0);
    for (const block of projects) {
      const project = parse(block);
      expect(validate(project), JSON.stringify(validate.errors)).to.equal(true);
      const sub = project.spec.eventSubscriptions[0];
      expect(sub.source).to.equal('brigade.sh/acr');
      expect(Object.keys(sub.qualifiers)).to.deep.equal(['registry']);
      expect(Object.keys(sub.labels)).to.deep.equal(['repo']);
    }
  });
});
