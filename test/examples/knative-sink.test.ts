/**
 * The Knative sink in the chart and the examples: the Role a sink.ref needs (and nothing when
 * there is none), the SinkBinding's subject being the workload the chart renders, and the Broker
 * both point at being the example Broker.
 */
import { expect } from 'chai';
import path from 'node:path';
import { ADDRESSABLE_KINDS } from '../../src/emitters/knative-sink';
import { parseConfig } from '../../src/gateway';
import { FULLNAME, NAMESPACE, RELEASE, podSpec, render, templateRun } from '../charts/helm';
import { EXAMPLES_DIR, exampleConfig, readYamlDocuments, type Tree } from './support';

const KNATIVE_DIR = path.join(EXAMPLES_DIR, 'knative');
const [, exampleBroker] = readYamlDocuments(path.join(KNATIVE_DIR, 'broker.yaml'));
const [sinkBinding] = readYamlDocuments(path.join(KNATIVE_DIR, 'sinkbinding.yaml'));

const meta = (object: Tree) => object.metadata as Tree;
const roles = (objects: Tree[], kind: string) =>
  objects.filter((o) => o.kind === kind && String(meta(o).name).endsWith('-knative-sink'));

function withRef(ref: Tree): Tree {
  return { emitters: { knative: { enabled: true, sink: { ref } } } };
}

describe('Knative sink: chart and examples', function () {
  this.timeout(120_000);

  describe('values-knative-broker-ref.yaml', () => {
    const objects = render({ examples: ['values-knative-broker-ref.yaml'] });

    it('names the example Broker by reference', () => {
      const { sink, brokerURL } = exampleConfig('values-knative-broker-ref.yaml').emitters.knative;
      expect(brokerURL).to.equal('');
      expect(sink.ref).to.deep.equal({
        apiVersion: exampleBroker.apiVersion,
        kind: exampleBroker.kind,
        name: meta(exampleBroker).name,
        namespace: meta(exampleBroker).namespace,
      });
    });

    it("gets a Role in the Broker's namespace to get, list and watch brokers, and nothing else", () => {
      const [role] = roles(objects, 'Role');
      expect(meta(role).namespace).to.equal('registry-events');
      expect(role.rules).to.deep.equal([
        { apiGroups: ['eventing.knative.dev'], resources: ['brokers'], verbs: ['get', 'list', 'watch'] },
      ]);
      const [binding] = roles(objects, 'RoleBinding');
      expect(meta(binding).namespace).to.equal('registry-events');
      expect(binding.roleRef).to.deep.include({ kind: 'Role', name: meta(role).name });
      expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
    });

    it('mounts the service-account token, which the gateway reads the Broker with', () => {
      expect(podSpec(objects).automountServiceAccountToken).to.equal(true);
    });
  });

  it('grants the resource of each kind a ref may name, in its API group', () => {
    for (const kind of ADDRESSABLE_KINDS) {
      const objects = render({
        values: withRef({ apiVersion: kind.apiVersion, kind: kind.kind, name: 'sink', namespace: 'apps' }),
      });
      const group = kind.apiVersion.includes('/') ? kind.apiVersion.split('/')[0] : '';
      expect(roles(objects, 'Role')[0].rules, `${kind.apiVersion} ${kind.kind}`).to.deep.equal([
        { apiGroups: [group], resources: [kind.resource], verbs: ['get', 'list', 'watch'] },
      ]);
    }
  });

  it('grants nothing and mounts no token without a ref, or with serviceAccount.knativeSinkRole off', () => {
    const byURL = render({ examples: ['values-harbor-knative.yaml'] });
    expect(roles(byURL, 'Role')).to.have.length(0);
    expect(podSpec(byURL).automountServiceAccountToken).to.equal(false);
    const ref = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default', namespace: 'events' };
    const ownRbac = render({ values: { ...withRef(ref), serviceAccount: { knativeSinkRole: false } } });
    expect(roles(ownRbac, 'Role')).to.have.length(0);
    expect(podSpec(ownRbac).automountServiceAccountToken).to.equal(true);
  });

  it('refuses to render a ref to a kind the gateway cannot resolve, naming the ones it can', () => {
    const run = templateRun({
      values: withRef({ apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', name: 'x', namespace: 'events' }),
    });
    expect(run.code).to.not.equal(0);
    expect(run.stderr).to.include('emitters.knative.sink.ref "eventing.knative.dev/v1 Trigger" is not a kind');
    expect(run.stderr).to.include('eventing.knative.dev/v1 Broker');
  });

  describe('examples/knative/sinkbinding.yaml', () => {
    it('binds the workload the chart renders for release registry-gateway (SQLite: a StatefulSet)', () => {
      const objects = render({
        values: { emitters: { knative: { enabled: true, brokerURL: 'http://placeholder/ns/b' } } },
      });
      const subject = (sinkBinding.spec as Tree).subject as Tree;
      const workload = objects.find((o) => o.kind === subject.kind && meta(o).name === subject.name);
      expect(workload, `${String(subject.kind)} ${String(subject.name)}`).to.not.equal(undefined);
      expect(subject.apiVersion).to.equal(workload!.apiVersion);
      expect(RELEASE).to.equal(subject.name);
    });

    it('sinks into the example Broker, in its own namespace as a SinkBinding must', () => {
      const ref = ((sinkBinding.spec as Tree).sink as Tree).ref as Tree;
      expect(ref).to.deep.include({
        apiVersion: exampleBroker.apiVersion,
        kind: exampleBroker.kind,
        name: meta(exampleBroker).name,
      });
      expect(meta(sinkBinding).namespace).to.equal(meta(exampleBroker).namespace);
      expect(ref.namespace ?? meta(sinkBinding).namespace).to.equal(meta(exampleBroker).namespace);
    });

    it('asks only for extension names the gateway accepts in K_CE_OVERRIDES', () => {
      const overrides = (sinkBinding.spec as Tree).ceOverrides as Tree;
      expect(overrides.extensions).to.not.be.empty;
      const bound = parseConfig(
        'tokens: {a: tok-0123456789abcdef}\nemitters: {knative: {enabled: true}}',
        'values.yaml',
        {
          K_SINK: 'http://broker-ingress.knative-eventing.svc.cluster.local/registry-events/default',
          K_CE_OVERRIDES: JSON.stringify(overrides),
        },
      );
      expect(bound.emitters.knative.ceOverrides).to.deep.equal(overrides);
    });
  });
});
