import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/config/load';
import { loadConfig, parseConfig } from '../../src/gateway';
import { PROVIDERS } from '../../src/providers';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'values.yaml', env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('config/load', () => {
  it('fills every default from a minimal file', () => {
    const config = parseConfig('tokens: {legacy: s3cret-0a1b2c3d4e5f}\n');
    expect(config.sources).to.deep.include({ acr: 'brigade.sh/acr' });
    expect(config.emitters.log.enabled).to.equal(true);
    expect(config.server).to.deep.include({ port: 8080, bodyLimit: 1024 * 1024 });
    expect(config.delivery).to.deep.include({
      dir: '/var/lib/registry-gateway',
      maxAttempts: 12,
      initialBackoffSeconds: 1,
      maxBackoffSeconds: 300,
      dedupWindowSeconds: 3600,
    });
  });

  it('accepts both token forms', () => {
    const config = parseConfig(`
tokens:
  legacy-name: plainSecret-7e2d9c41
  harbor-prod:
    value: otherSecret-b83f0a6e
    providers: [harbor]
    registries: [harbor.example.com]
    repos: ["library/*"]
`);
    expect(config.tokens['legacy-name']).to.equal('plainSecret-7e2d9c41');
    expect(config.tokens['harbor-prod']).to.deep.equal({
      value: 'otherSecret-b83f0a6e',
      providers: ['harbor'],
      registries: ['harbor.example.com'],
      repos: ['library/*'],
    });
  });

  it('lists every problem with its key path, unknown keys included', () => {
    const list = problems(`
tokens:
  scoped: {value: x, providers: [harbor, nexus]}
server: {port: 70000, bodyLimit: lots, colour: blue}
delivery: {maxAttempts: 0}
emitters: {pager: {enabled: true}}
surprise: 1
`);
    expect(list).to.include.members([
      `tokens.scoped.providers[1] must be one of [${PROVIDERS.map((p) => p.name).join(', ')}]`,
      'server.port must be a valid port',
      'server.bodyLimit must be a size such as 1mb, 512kb or a byte count',
      'server.colour is not allowed',
      'delivery.maxAttempts must be greater than or equal to 1',
      'emitters.pager is not allowed',
      'surprise is not allowed',
    ]);
  });

  it('refuses a config with no token, or with no enabled emitter', () => {
    expect(problems('emitters: {log: {enabled: true}}\n')).to.deep.equal([
      'tokens must name at least one token (here or in tokensFile); generate one with `openssl rand -hex 32`',
    ]);
    expect(problems('tokens: {a: b0c1d2e3f4a5b6c7}\nemitters: {log: {enabled: false}}\n')).to.deep.equal([
      'emitters: no emitter is enabled, so no event could go anywhere',
    ]);
  });

  it('refuses two token names sharing one secret (the scope would be ambiguous)', () => {
    expect(problems('tokens: {a: same-9f8e7d6c5b4a, b: {value: same-9f8e7d6c5b4a}}\n')).to.deep.equal([
      'tokens.a and tokens.b have the same value: each token must be distinct',
    ]);
  });

  it('reports YAML syntax errors instead of guessing', () => {
    const list = problems('tokens: {a: b\n');
    expect(list[0]).to.match(/^YAML: /);
  });

  it('converts body sizes and lower-cases registry names', () => {
    const config = parseConfig(`
tokens: {a: b0c1d2e3f4a5b6c7}
server: {bodyLimit: 512kb}
registryAliases: {"MyReg-WestUS.azurecr.io": "MyReg.azurecr.io"}
defaultRegistry: {acr: MyReg.azurecr.io}
`);
    expect(config.server.bodyLimit).to.equal(512 * 1024);
    expect(config.registryAliases).to.deep.equal({ 'myreg-westus.azurecr.io': 'myreg.azurecr.io' });
    expect(config.defaultRegistry.acr).to.equal('myreg.azurecr.io');
  });

  it('lets environment variables override single keys, brigade-acr-gateway names included', () => {
    const config = parseConfig('tokens: {a: b0c1d2e3f4a5b6c7}\n', 'values.yaml', {
      PORT: '9090',
      DELIVERY_DIR: '/data',
      API_ADDRESS: 'https://brigade.example.com',
      LOG_LEVEL: 'debug',
    });
    expect(config.server.port).to.equal(9090);
    expect(config.delivery.dir).to.equal('/data');
    expect(config.logLevel).to.equal('debug');
    expect(config.emitters.brigade?.apiAddress).to.equal('https://brigade.example.com');
  });

  it('accepts the Helm chart keys in the same values file without reading them', () => {
    const config = parseConfig('tokens: {a: b0c1d2e3f4a5b6c7}\nimage: {repository: x, tag: y}\nreplicaCount: 1\n');
    expect(config.tokens).to.deep.equal({ a: 'b0c1d2e3f4a5b6c7' });
  });

  it('loads the example values file `make run` serves', () => {
    const file = path.resolve(__dirname, '..', '..', 'examples', 'values-local.yaml');
    const config = loadConfig(file, {});
    expect(config.server.port).to.equal(8080);
    expect(config.emitters.log.enabled).to.equal(true);
    expect(Object.values(config.tokens).every((t) => typeof t === 'string')).to.equal(true);
    expect(readFileSync(file, 'utf8')).to.include('tokens:');
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadConfig('/nonexistent/values.yaml', {}))
      .to.throw(ConfigError)
      .with.property('problems')
      .that.deep.equals(['cannot read the file: ENOENT']);
  });
});
