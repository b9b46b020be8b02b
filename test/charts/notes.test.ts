/**
 * What an operator reads after installing, and copies from the README and docs: NOTES give each
 * registry the tokens allow a setup naming the right token, warn where the install is exposed
 * or depends on a generated secret, and every kubectl line anywhere names an object and a port
 * the chart renders.
 */
import { expect } from 'chai';
import path from 'node:path';
import { PROVIDERS } from '../../src/providers';
import { pages } from '../docs/markdown';
import { CHART_DIR, readText, type Tree } from '../examples/support';
import { FULLNAME, installNotes, NAMESPACE, render, type ValuesInput } from './helm';
import { shownValues } from './shown';

const TOKEN = { tokens: { ci: 'chart-test-token-5b7e0c2d9a' } };
/** One token of each form: between them they allow all ten registries. */
const EVERY_FORM = {
  tokens: {
    any: '0d6f1c9e8b7a4352e1f0a9c8',
    gh: { value: '3d9f0c1e7a5b2d4f6e8a0c9b', verify: 'github-hmac', providers: ['ghcr'] },
    jfrog: { value: '8b1e4d7a0c3f6e9b2d5a8c1f', verify: 'jfrog', providers: ['artifactory'] },
    hub: { value: '6f2a9d4c8e1b7a3f0d5c9e2b4a8d1f7c', verify: 'path', providers: ['dockerhub', 'quay'] },
    pubsub: {
      verify: 'google-oidc',
      audience: 'https://gw.example.com/events/gar',
      serviceAccount: 'gar-push@my-project.iam.gserviceaccount.com',
      providers: ['gar'],
    },
  },
};

/** The token each provider's setup must name, for EVERY_FORM; none where no value is pasted. */
const TOKEN_FOR: Record<string, string | undefined> = {
  acr: 'any',
  eventgrid: 'any',
  harbor: 'any',
  distribution: 'any',
  ecr: 'any',
  ghcr: 'gh',
  artifactory: 'jfrog',
  dockerhub: 'hub',
  quay: 'hub',
  // google-oidc: Pub/Sub signs each push itself, there is no token value to paste.
  gar: undefined,
};

/** One paragraph of NOTES per registry setup, found by the provider's path. */
function setupOf(notes: string, provider: string): string | undefined {
  return notes.split('\n\n').find((p) => p.includes(`/events/${provider}`) && !p.startsWith('Webhook URL'));
}

describe('NOTES', function () {
  this.timeout(120_000);

  it('gives each of the ten registries a setup naming a token that may post there', () => {
    const notes = installNotes({ values: { ...EVERY_FORM, host: 'gw.example.com', ingress: { enabled: true, tlsSecretName: 't' } } });
    expect(PROVIDERS).to.have.length(10);
    for (const provider of PROVIDERS) {
      const setup = setupOf(notes, provider.name);
      expect(setup, provider.name).to.be.a('string');
      expect(setup).to.include(`https://gw.example.com/events/${provider.name}`);
      expect(TOKEN_FOR, `the token EVERY_FORM gives ${provider.name}`).to.have.property(provider.name);
      const token = TOKEN_FOR[provider.name];
      if (token) expect(setup).to.include(`<value of token ${token}>`);
      else expect(setup).to.not.include('<value of token');
    }
    const gar = setupOf(notes, 'gar')!;
    expect(gar).to.include('--push-auth-service-account gar-push@my-project.iam.gserviceaccount.com');
    expect(gar).to.include('--push-auth-token-audience https://gw.example.com/events/gar');
    expect(notes).to.not.include('No token allows');
    for (const value of ['0d6f1c9e8b7a4352e1f0a9c8', '3d9f0c1e7a5b2d4f6e8a0c9b']) expect(notes).to.not.include(value);
  });

  it('says which kind of token each registry no token allows still needs', () => {
    const notes = installNotes({ values: { tokens: { harbor: { value: 'harbor-token-1a2b3c4d5e6f', providers: ['harbor'] } } } });
    expect(setupOf(notes, 'harbor')).to.include('<value of token harbor>');
    expect(setupOf(notes, 'acr')).to.equal(undefined);
    expect(notes).to.include('ghcr: a token with verify: github-hmac allowed for ghcr');
    expect(notes).to.include('acr: a token with verify: bearer allowed for acr');
    expect(notes).to.include('gar: a token with verify: google-oidc allowed for gar');
  });

  it('shows all ten for tokens only in a Secret, whose scopes it cannot read', () => {
    const notes = installNotes({ values: { tokensSecret: { name: 'gw-tokens', key: 'tokens.yaml' } } });
    for (const provider of PROVIDERS) expect(setupOf(notes, provider.name), provider.name).to.be.a('string');
    expect(setupOf(notes, 'ghcr')).to.include('<a verify: github-hmac token from Secret gw-tokens>');
  });

  it('warns about a LoadBalancer open to any address, and not once it has source ranges', () => {
    const open = installNotes({ values: { ...TOKEN, service: { type: 'LoadBalancer' } } });
    expect(open).to.include('WARNING: the load balancer accepts webhooks from any address');
    const ranged = installNotes({ values: { ...TOKEN, service: { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/24'] } } });
    expect(ranged).to.not.include('WARNING');
  });

  it('warns when a generated token or certificate is in use (lookup under Argo CD), and not otherwise', () => {
    expect(installNotes({})).to.match(/WARNING: the generated token is kept across upgrades with `lookup`, which Argo CD/);
    expect(installNotes({ values: { ...TOKEN, tls: { mode: 'selfSigned' } } })).to.match(
      /WARNING: the certificate was generated by the chart and is kept across upgrades with `lookup`/,
    );
    for (const input of [{ values: TOKEN }, { values: { ...TOKEN, tls: { mode: 'secret', secretName: 'mine' } } }]) {
      expect(installNotes(input)).to.not.include('WARNING');
    }
  });

  it('promises helm test exactly when the chart renders its pod', () => {
    const inputs: ValuesInput[] = [{}, { values: TOKEN }, { values: { tokensSecret: { name: 's' } } }, { values: { tokens: { g: { value: 'x'.repeat(20) + '1a2b', verify: 'github-hmac' } } } }];
    for (const input of inputs) {
      const hasPod = render(input).some((o) => o.kind === 'Pod');
      expect(installNotes(input).includes(`helm test ${FULLNAME} -n ${NAMESPACE}`), JSON.stringify(input)).to.equal(hasPod);
    }
  });
});

/** Every `kubectl` line of a text (continuations joined, comments dropped). */
function kubectlLines(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .flatMap((line) => [...line.matchAll(/kubectl [^`#\n]*/g)].map((m) => m[0].trim()));
}

/**
 * Each object a kubectl line names (svc/, sts/, deploy/, `get svc|secret NAME`, a StatefulSet's
 * claim) must be rendered, and a port-forward's remote port must be one of that Service's.
 * Objects the reader creates (`kubectl create`, `apply`) and ones outside the chart are skipped.
 */
function checkKubectl(line: string, objects: Tree[], where: string): number {
  if (/ (create|apply|delete) /.test(line) || / get (nodes|broker) /.test(line)) return 0;
  const named = (kind: string, name: string): Tree | undefined =>
    objects.find((o) => o.kind === kind && (o.metadata as Tree).name === name);
  let checked = 0;
  for (const [, short, name] of line.matchAll(/\b(svc|sts|deploy)\/([a-z0-9.-]+)/g)) {
    const kind = { svc: 'Service', sts: 'StatefulSet', deploy: 'Deployment' }[short]!;
    const object = named(kind, name);
    expect(object, `${where}: ${line}`).to.not.equal(undefined);
    checked++;
    const forward = / port-forward \S+ (\d+):(\d+)/.exec(line);
    if (forward && kind === 'Service') {
      const ports = ((object!.spec as Tree).ports as Tree[]).map((p) => String(p.port));
      expect(ports, `${where}: ${line}`).to.include(forward[2]);
    }
  }
  for (const [, kind, name] of line.matchAll(/ (?:get|edit) (svc|secret) ([a-z0-9.-]+)/g)) {
    // A Secret the reader made (tokensSecret) is named in values rather than rendered.
    if (kind === 'secret' && name === 'registry-gateway-tokens') continue;
    expect(named(kind === 'svc' ? 'Service' : 'Secret', name), `${where}: ${line}`).to.not.equal(undefined);
    checked++;
  }
  for (const [, claim, sts] of line.matchAll(/ pvc (data)-([a-z0-9.-]+)-0\b/g)) {
    const statefulSet = named('StatefulSet', sts);
    expect(statefulSet, `${where}: ${line}`).to.not.equal(undefined);
    const templates = ((statefulSet!.spec as Tree).volumeClaimTemplates as Tree[]).map((c) => (c.metadata as Tree).name);
    expect(templates, `${where}: ${line}`).to.include(claim);
    checked++;
  }
  return checked;
}

describe('kubectl lines', function () {
  this.timeout(120_000);

  it('in the README, docs/ and the chart README name objects and ports the README values render', () => {
    const objects = render({ files: [shownValues()] });
    const texts = [...pages(), { file: 'charts/registry-gateway/README.md', text: readText(path.join(CHART_DIR, 'README.md')) }];
    let checked = 0;
    for (const page of texts) for (const line of kubectlLines(page.text)) checked += checkKubectl(line, objects, page.file);
    expect(checked).to.be.greaterThan(4);
  });

  const cases: [string, ValuesInput][] = [
    ['defaults (generated token)', {}],
    ['console, ClusterIP', { values: { ...TOKEN, console: { enabled: true, tokens: { alice: 'operator-token-7c5a3e1f9d2b' } } } }],
    ['selfSigned TLS, LoadBalancer', { values: { ...TOKEN, tls: { mode: 'selfSigned' }, service: { type: 'LoadBalancer' } } }],
    ['NodePort', { values: { ...TOKEN, service: { type: 'NodePort' } } }],
    ['postgres, console, TLS', { values: { ...TOKEN, tls: { mode: 'secret', secretName: 'mine' }, delivery: { store: 'postgres', postgres: { urlSecret: { name: 'db', key: 'uri' } } }, console: { enabled: true, tokens: { alice: 'operator-token-7c5a3e1f9d2b' } } } }],
  ];
  for (const [name, input] of cases) {
    it(`in NOTES (${name}) name objects and ports the chart renders`, () => {
      const objects = render(input);
      const lines = kubectlLines(installNotes(input));
      expect(lines.length).to.be.greaterThan(0);
      let checked = 0;
      for (const line of lines) checked += checkKubectl(line, objects, name);
      expect(checked).to.be.greaterThan(0);
    });
  }

  it('can tell a line naming a port the Service does not have (the check itself)', () => {
    const objects = render({ values: TOKEN });
    expect(() => checkKubectl(`kubectl port-forward svc/${FULLNAME}-admin 8080:8080`, objects, 'x')).to.throw();
    expect(() => checkKubectl(`kubectl exec sts/gw-${FULLNAME} -- true`, objects, 'x')).to.throw();
  });
});
