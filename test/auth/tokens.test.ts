import { expect } from 'chai';
import { checkEventScope, checkProviderScope } from '../../src/auth/scope';
import { TokenVerifier } from '../../src/auth/tokens';
import type { RegistryEvent } from '../../src/model/event';
import { ScopeError } from '../../src/model/errors';

const event = (over: Partial<RegistryEvent> = {}): RegistryEvent => ({
  id: '1',
  provider: 'harbor',
  source: 'brigade.sh/harbor',
  type: 'push',
  registry: 'harbor.example.com',
  repo: 'library/app',
  time: '2026-01-01T00:00:00Z',
  payload: {},
  ...over,
});

describe('auth/tokens', () => {
  const verifier = new TokenVerifier({
    legacy: 'plain-secret',
    scoped: { value: 'scoped-secret', providers: ['harbor'], registries: ['harbor.example.com'], repos: ['library/*'] },
  });

  it('finds the token by value and returns its scope, never the secret', () => {
    expect(verifier.verify('plain-secret')).to.deep.equal({ name: 'legacy' });
    const scope = verifier.verify('scoped-secret');
    expect(scope).to.deep.equal({
      name: 'scoped',
      providers: ['harbor'],
      registries: ['harbor.example.com'],
      repos: ['library/*'],
    });
    expect(JSON.stringify(scope)).not.to.include('secret"');
  });

  it('refuses unknown tokens, prefixes and near misses', () => {
    for (const wrong of ['', 'plain', 'plain-secret ', 'PLAIN-SECRET', 'plain-secret-and-more']) {
      expect(verifier.verify(wrong), wrong).to.equal(undefined);
    }
  });
});

describe('auth/scope', () => {
  const scoped = {
    name: 'harbor-prod',
    providers: ['harbor'] as const,
    registries: ['harbor.example.com'],
    repos: ['library/*'],
  };

  it('lets an unscoped token send anything', () => {
    expect(() => checkProviderScope({ name: 'legacy' }, 'acr')).not.to.throw();
    expect(() => checkEventScope({ name: 'legacy' }, event({ repo: undefined }))).not.to.throw();
  });

  it('refuses another provider, naming the providers scope', () => {
    expect(() => checkProviderScope(scoped, 'acr'))
      .to.throw(ScopeError, 'token "harbor-prod" is scoped to providers [harbor]; this request is acr')
      .with.property('scope', 'providers');
  });

  it('refuses another registry and repos outside the globs', () => {
    expect(() => checkEventScope(scoped, event({ registry: 'evil.example.com' })))
      .to.throw(ScopeError, /registries \[harbor.example.com\]; the event is from evil.example.com/)
      .with.property('scope', 'registries');
    expect(() => checkEventScope(scoped, event({ repo: 'other/app' })))
      .to.throw(ScopeError, /repos \[library\/\*\]; the event is for other\/app/)
      .with.property('scope', 'repos');
    // `*` stays within one path segment.
    expect(() => checkEventScope(scoped, event({ repo: 'library/team/app' }))).to.throw(ScopeError);
    expect(() => checkEventScope(scoped, event({ repo: undefined }))).to.throw(ScopeError, /no repository/);
  });

  it('accepts what the scope names, registry globs included', () => {
    expect(() => checkEventScope(scoped, event())).not.to.throw();
    expect(() =>
      checkEventScope({ name: 'g', registries: ['*.azurecr.io'] }, event({ registry: 'myreg.azurecr.io' })),
    ).not.to.throw();
    expect(() => checkEventScope({ name: 'g', repos: ['team/**'] }, event({ repo: 'team/a/b' }))).not.to.throw();
  });
});
