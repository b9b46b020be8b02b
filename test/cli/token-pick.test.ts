import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { pickToken, providerOfUrl } from '../../src/cli/token-pick';

/** `send --tokens-file`: how the chart's `helm test` pod finds a token in the operator's Secret. */
describe('cli: send --tokens-file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-pick-'));
  const file = (tokens: unknown) => {
    const f = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, stringify(tokens));
    return f;
  };
  const HARBOR = 'harbor-token-0a1b2c3d4e5f6a7b';
  const GITHUB = 'github-secret-9f8e7d6c5b4a3f2e';
  const ANY = 'plain-token-1c2d3e4f5a6b7c8d';

  it('takes the named token, in either form', () => {
    const f = file({ a: ANY, b: { value: HARBOR, providers: ['harbor'] } });
    expect(pickToken(f, 'acr', 'a')).to.equal(ANY);
    expect(pickToken(f, 'harbor', 'b')).to.equal(HARBOR);
  });

  it('else the first Bearer token allowed for the provider, by name', () => {
    const f = file({
      a: { value: GITHUB, verify: 'github-hmac' },
      b: { value: HARBOR, providers: ['harbor'] },
      c: ANY,
    });
    expect(pickToken(f, 'harbor')).to.equal(HARBOR);
    expect(pickToken(f, 'acr')).to.equal(ANY);
  });

  it('refuses when no token fits, naming names and never values', () => {
    const f = file({ gh: { value: GITHUB, verify: 'github-hmac' }, h: { value: HARBOR, providers: ['harbor'] } });
    expect(() => pickToken(f, 'acr')).to.throw('holds no Bearer token allowed for acr');
    expect(() => pickToken(f, 'acr', 'missing')).to.throw('has no value for token missing');
    try {
      pickToken(f, 'acr');
    } catch (err) {
      expect((err as Error).message)
        .to.not.include(GITHUB)
        .and.not.include(HARBOR);
    }
  });

  it('reads the provider from the URL path', () => {
    expect(providerOfUrl('https://gw.ns.svc:443/events/acr')).to.equal('acr');
    expect(providerOfUrl('http://gw/events')).to.equal(undefined);
    expect(providerOfUrl('not a url')).to.equal(undefined);
  });
});
