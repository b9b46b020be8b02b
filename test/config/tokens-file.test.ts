import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/config/load';
import { parseConfig } from '../../src/gateway';
import { tokenWeakness } from '../../src/config/token-strength';
import { tempDir } from '../helpers/gateway-process';

function problems(yaml: string, file = 'values.yaml'): string[] {
  try {
    parseConfig(yaml, file, {});
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('config: token strength and the tokens file', () => {
  it('refuses placeholders and short tokens, naming the token and how to make one, never quoting it', () => {
    for (const value of [
      '<openssl rand -hex 32>',
      'changeme-please-0123456789',
      'CHANGE_ME_0123456789abc',
      'xxxxxxxxxxxxxxxxxxxx',
      'your-token-goes-here-1234',
      'aaaaaaaaaaaaaaaaaaaa',
    ]) {
      const list = problems(`tokens: {ci: ${JSON.stringify(value)}}\n`);
      expect(list, value).to.have.length(1);
      expect(list[0]).to.match(/^tokens\.ci (looks like a placeholder|repeats too few characters)/);
      expect(list[0]).to.include('openssl rand -hex 32');
      expect(list[0]).to.not.include(value);
    }
    expect(problems('tokens: {ci: 0123456789abcde}\n')).to.deep.equal([
      'tokens.ci is shorter than 16 characters: generate one with `openssl rand -hex 32`',
    ]);
    expect(tokenWeakness('0123456789abcdef')).to.equal(undefined);
    expect(tokenWeakness('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).to.equal(undefined);
  });

  it('drops a token set to null, as `--set tokens.old=null` leaves it', () => {
    const config = parseConfig('tokens: {old: null, current: 3b9f0c1e7d2a5f8c6e4b}\n');
    expect(config.tokens).to.deep.equal({ current: '3b9f0c1e7d2a5f8c6e4b' });
    expect(problems('tokens: {old: null}\n')[0]).to.match(/^tokens must name at least one token/);
  });

  it('merges the tokens file: its names win, and a plain value fills in a scoped token keeping the scope', () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'tokens.yaml'),
      'acr: 4e7a1c9f2b5d8e0a3c6f\nextra: {value: 8c1f4a7d0e3b6c9f2a5d, providers: [harbor]}\nold: null\n',
    );
    const values =
      'tokens:\n  acr: {providers: [acr], registries: [myreg.azurecr.io]}\n  old: 1a2b3c4d5e6f7a8b9c0d\ntokensFile: tokens.yaml\n';
    const config = parseConfig(values, path.join(dir, 'values.yaml'));
    expect(config.tokens).to.deep.equal({
      acr: { value: '4e7a1c9f2b5d8e0a3c6f', providers: ['acr'], registries: ['myreg.azurecr.io'] },
      extra: { value: '8c1f4a7d0e3b6c9f2a5d', providers: ['harbor'] },
    });
  });

  it('names a scoped token the file leaves without a value, and file problems by the file', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'tokens.yaml'), 'other: 4e7a1c9f2b5d8e0a3c6f\n');
    const values = 'tokens: {acr: {providers: [acr]}}\ntokensFile: tokens.yaml\n';
    expect(problems(values, path.join(dir, 'values.yaml'))).to.deep.equal([
      'tokens.acr has no value: set tokens.acr.value, or give acr a value in tokensFile',
    ]);
    writeFileSync(path.join(dir, 'tokens.yaml'), 'acr: [4e7a1c9f2b5d8e0a3c6f-secret\n');
    const yamlProblems = problems(values, path.join(dir, 'values.yaml'));
    expect(yamlProblems[0]).to.match(/^tokensFile .*tokens\.yaml: YAML: /);
    expect(yamlProblems.join()).to.not.include('4e7a1c9f2b5d8e0a3c6f');
    writeFileSync(path.join(dir, 'tokens.yaml'), '- a list\n');
    expect(problems(values, path.join(dir, 'values.yaml'))[0]).to.match(/must be a mapping of token names to tokens$/);
    expect(problems('tokens: {a: 4e7a1c9f2b5d8e0a3c6f}\ntokensFile: /nonexistent/tokens.yaml\n')).to.deep.equal([
      'tokensFile /nonexistent/tokens.yaml: cannot read it: ENOENT',
    ]);
  });

  it('takes DATABASE_URL over delivery.postgres.url, and defaults the store to sqlite', () => {
    const base = 'tokens: {a: 4e7a1c9f2b5d8e0a3c6f}\n';
    const delivery = (env: NodeJS.ProcessEnv) => parseConfig(base, 'v', env).delivery as unknown as Record<string, any>;
    expect(delivery({}).store).to.equal('sqlite');
    expect(delivery({}).postgres).to.deep.equal({
      url: '',
      poolSize: 10,
      schema: 'registry_gateway',
      leaseSeconds: 60,
    });
    expect(delivery({ DATABASE_URL: 'postgres://db/x' }).postgres.url).to.equal('postgres://db/x');
    expect(problems(`${base}delivery: {store: mysql}\n`)).to.deep.equal([
      'delivery.store must be one of [sqlite, postgres]',
    ]);
  });
});
