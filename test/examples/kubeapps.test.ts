/**
 * The example Kubeapps RBAC: a refresh reads an AppRepository and writes it back, so the Role
 * must grant get and update on apprepositories.kubeapps.com, bound to the account that acts, in
 * every namespace the example values name an AppRepository in.
 */
import { expect } from 'chai';
import path from 'node:path';
import {
  EXAMPLES_DIR,
  chartValues,
  exampleConfig,
  gatewayConfig,
  mergeValues,
  readText,
  readYaml,
  readYamlDocuments,
  type Tree,
} from './support';

const KUBEAPPS_DIR = path.join(EXAMPLES_DIR, 'kubeapps');
const RBAC_FILES = ['rbac-kubernetes-mode.yaml', 'rbac-endpoint-mode.yaml'];

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

function grantsRefresh(rules: Rule[]): boolean {
  return rules.some(
    (rule) =>
      (rule.apiGroups ?? []).includes('kubeapps.com') &&
      (rule.resources ?? []).includes('apprepositories') &&
      ['get', 'update'].every((verb) => (rule.verbs ?? []).includes(verb)),
  );
}

function meta(doc: Tree): { name: string; namespace?: string } {
  return doc.metadata as { name: string; namespace?: string };
}

/** Namespaces holding the AppRepositories an example config refreshes. */
function appRepositoryNamespaces(file: string): string[] {
  const config = file.startsWith('kubeapps/')
    ? gatewayConfig(
        mergeValues(
          mergeValues(chartValues(), { tokens: { t: 'kubeapps-example-token-0f9e' } }),
          readYaml(path.join(EXAMPLES_DIR, file)),
        ),
      )
    : exampleConfig(file);
  const rules = config.emitters.kubeapps.repositories as { namespace: string }[];
  return [...new Set(rules.map((r) => r.namespace))];
}

describe('examples/kubeapps', () => {
  for (const file of RBAC_FILES) {
    describe(file, () => {
      const docs = readYamlDocuments(path.join(KUBEAPPS_DIR, file));
      const roles = docs.filter((d) => d.kind === 'Role');
      const bindings = docs.filter((d) => d.kind === 'RoleBinding');
      const accounts = docs.filter((d) => d.kind === 'ServiceAccount');

      it('grants get and update on apprepositories in group kubeapps.com', () => {
        expect(roles).to.not.be.empty;
        for (const role of roles) expect(grantsRefresh(role.rules as Rule[]), meta(role).name).to.equal(true);
      });

      it('grants nothing beyond that', () => {
        for (const role of roles) {
          for (const rule of role.rules as Rule[]) {
            expect(rule.apiGroups).to.deep.equal(['kubeapps.com']);
            expect(rule.resources).to.deep.equal(['apprepositories']);
            expect(rule.verbs).to.have.members(['get', 'update']);
          }
        }
      });

      it("binds each Role, in the Role's namespace, to a service account the file defines", () => {
        expect(bindings).to.have.length(roles.length);
        for (const binding of bindings) {
          const ref = binding.roleRef as Tree;
          const role = roles.find((r) => meta(r).name === ref.name);
          expect(role, `${meta(binding).name} → ${String(ref.name)}`).to.not.equal(undefined);
          expect(meta(binding).namespace).to.equal(meta(role!).namespace);
          for (const subject of binding.subjects as Tree[]) {
            expect(subject.kind).to.equal('ServiceAccount');
            const account = accounts.find((a) => meta(a).name === subject.name);
            expect(account, String(subject.name)).to.not.equal(undefined);
            expect(subject.namespace).to.equal(meta(account!).namespace);
          }
        }
      });
    });
  }

  it('endpoint mode gives its service account a long-lived token Secret', () => {
    const docs = readYamlDocuments(path.join(KUBEAPPS_DIR, 'rbac-endpoint-mode.yaml'));
    const account = docs.find((d) => d.kind === 'ServiceAccount')!;
    const secret = docs.find((d) => d.kind === 'Secret')!;
    expect(secret.type).to.equal('kubernetes.io/service-account-token');
    expect((secret.metadata as Tree).annotations).to.deep.equal({
      'kubernetes.io/service-account.name': meta(account).name,
    });
    expect(meta(secret).namespace).to.equal(meta(account).namespace);
  });

  it('kubernetes mode tells the chart to run as the service account it defines', () => {
    const file = path.join(KUBEAPPS_DIR, 'rbac-kubernetes-mode.yaml');
    const account = readYamlDocuments(file).find((d) => d.kind === 'ServiceAccount')!;
    expect(readText(file)).to.include(`serviceAccount.create=false, serviceAccount.name=${meta(account).name}`);
    expect(chartValues().serviceAccount).to.include.keys('create', 'name', 'kubeappsRole');
  });

  for (const [valuesFile, rbacFile] of [
    ['values-kubeapps.yaml', 'rbac-endpoint-mode.yaml'],
    ['values-kubeapps.yaml', 'rbac-kubernetes-mode.yaml'],
    ['kubeapps/values-snippet.yaml', 'rbac-kubernetes-mode.yaml'],
  ]) {
    it(`${rbacFile} covers every AppRepository namespace of ${valuesFile}`, () => {
      const docs = readYamlDocuments(path.join(KUBEAPPS_DIR, rbacFile));
      const granted = docs.filter((d) => d.kind === 'Role').map((r) => meta(r).namespace);
      for (const namespace of appRepositoryNamespaces(valuesFile)) expect(granted).to.include(namespace);
    });
  }

  it('values-snippet.yaml validates over the chart values in kubernetes mode, with the chart granting access', () => {
    const snippet = readYaml(path.join(KUBEAPPS_DIR, 'values-snippet.yaml'));
    const values = mergeValues(mergeValues(chartValues(), { tokens: { t: 'kubeapps-example-token-0f9e' } }), snippet);
    expect(gatewayConfig(values).emitters.kubeapps).to.include({ enabled: true, mode: 'kubernetes' });
    expect(values.serviceAccount).to.include({ create: true, kubeappsRole: true });
  });

  it('can tell a Role that only reads (the check itself)', () => {
    expect(
      grantsRefresh([{ apiGroups: ['kubeapps.com'], resources: ['apprepositories'], verbs: ['get', 'list'] }]),
    ).to.equal(false);
    expect(grantsRefresh([{ apiGroups: [''], resources: ['apprepositories'], verbs: ['get', 'update'] }])).to.equal(
      false,
    );
  });
});
