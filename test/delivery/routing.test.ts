import { expect } from 'chai';
import { explain, matchesFilter, route, type RouteTarget } from '../../src/delivery/routing';
import type { RegistryEvent } from '../../src/model/event';
import { makeEvent } from './support';

describe('routing', () => {
  it('selects on what a push did to its tag, and lets events that carry no tag change through', () => {
    const filter = { changes: ['created', 'moved'] };
    expect(matchesFilter(makeEvent('a', { tagChange: 'created' }), filter)).to.equal(true);
    expect(
      matchesFilter(makeEvent('b', { tagChange: 'moved', previousDigest: 'sha256:' + '0'.repeat(64) }), filter),
    ).to.equal(true);
    expect(matchesFilter(makeEvent('c', { tagChange: 'unchanged' }), filter)).to.equal(false);
    expect(matchesFilter(makeEvent('d', { type: 'delete' }), filter)).to.equal(true);
    const targets: RouteTarget[] = [{ name: 'brigade', filter }];
    expect(explain(makeEvent('c', { tagChange: 'unchanged' }), targets)).to.deep.equal([
      { name: 'brigade', matched: false, reason: 'filter.changes does not list unchanged' },
    ]);
  });

  const push = makeEvent('e1', { registry: 'myreg.azurecr.io', repo: 'library/app' });

  describe('matchesFilter', () => {
    it('matches everything with no filter, an empty filter or empty lists', () => {
      expect(matchesFilter(push, undefined)).to.equal(true);
      expect(matchesFilter(push, {})).to.equal(true);
      expect(matchesFilter(push, { providers: [], types: [], registries: [], repos: [] })).to.equal(true);
    });

    it('filters on providers', () => {
      expect(matchesFilter(push, { providers: ['harbor', 'acr'] })).to.equal(true);
      expect(matchesFilter(push, { providers: ['harbor'] })).to.equal(false);
    });

    it('filters on types', () => {
      expect(matchesFilter(push, { types: ['push'] })).to.equal(true);
      expect(matchesFilter(push, { types: ['delete', 'chart_push'] })).to.equal(false);
    });

    it('filters on registries, exactly or by glob', () => {
      expect(matchesFilter(push, { registries: ['myreg.azurecr.io'] })).to.equal(true);
      expect(matchesFilter(push, { registries: ['*.azurecr.io'] })).to.equal(true);
      expect(matchesFilter(push, { registries: ['other.azurecr.io', 'harbor.example.com'] })).to.equal(false);
      expect(matchesFilter(makeEvent('p', { registry: 'localhost:5000' }), { registries: ['localhost:*'] })).to.equal(
        true,
      );
    });

    it('filters on repos by glob: * within one segment, ** across segments', () => {
      const at = (repo: string) => makeEvent('r', { repo });
      expect(matchesFilter(at('library/app'), { repos: ['library/*'] })).to.equal(true);
      expect(matchesFilter(at('library/a/b'), { repos: ['library/*'] })).to.equal(false);
      expect(matchesFilter(at('library/a/b'), { repos: ['library/**'] })).to.equal(true);
      expect(matchesFilter(at('team/library/app'), { repos: ['library/**'] })).to.equal(false);
      expect(matchesFilter(at('app'), { repos: ['library/*', 'app'] })).to.equal(true);
      expect(matchesFilter(at('apps'), { repos: ['app'] })).to.equal(false);
    });

    it('does not match a repos filter with an event that has no repository', () => {
      const quota = makeEvent('q', { type: 'quota_exceeded', repo: undefined });
      expect(matchesFilter(quota, { repos: ['**'] })).to.equal(false);
      expect(matchesFilter(quota, { types: ['quota_exceeded'] })).to.equal(true);
    });

    it('requires every listed dimension to match', () => {
      const filter = { providers: ['acr'], types: ['push'], registries: ['myreg.azurecr.io'], repos: ['library/*'] };
      expect(matchesFilter(push, filter)).to.equal(true);
      expect(matchesFilter(makeEvent('x', { type: 'delete' }), filter)).to.equal(false);
      expect(matchesFilter(makeEvent('x', { repo: 'other/app' }), filter)).to.equal(false);
      expect(matchesFilter(makeEvent('x', { registry: 'b.azurecr.io' }), filter)).to.equal(false);
      expect(matchesFilter(makeEvent('x', { provider: 'eventgrid' }), filter)).to.equal(false);
    });
  });

  describe('route', () => {
    const targets: RouteTarget[] = [
      { name: 'log' },
      { name: 'brigade', filter: { types: ['push', 'delete'] } },
      { name: 'knative', filter: { repos: ['library/**'] } },
      {
        name: 'kubeapps',
        filter: {},
        accepts(this: void, event: RegistryEvent) {
          return event.type === 'chart_push';
        },
      },
    ];

    it('names every target whose filter and own rule take the event, in order', () => {
      expect(route(push, targets)).to.deep.equal(['log', 'brigade', 'knative']);
      expect(route(makeEvent('c', { type: 'chart_push', repo: 'charts/x' }), targets)).to.deep.equal([
        'log',
        'kubeapps',
      ]);
    });

    it('calls accepts() as a method of its emitter', () => {
      class Picky implements RouteTarget {
        readonly name = 'picky';
        private readonly wanted = 'library/app';
        accepts(event: RegistryEvent) {
          return event.repo === this.wanted;
        }
      }
      expect(route(push, [new Picky()])).to.deep.equal(['picky']);
    });

    it('routes to nobody when nothing matches', () => {
      expect(route(push, [{ name: 'brigade', filter: { providers: ['harbor'] } }])).to.deep.equal([]);
    });
  });

  describe('endpoints of one section (webhook/<name>)', () => {
    const targets: RouteTarget[] = [
      { name: 'webhook/all', filter: { registries: ['*.azurecr.io'] } },
      { name: 'webhook/deletes', filter: { registries: ['*.azurecr.io'] }, endpointFilter: { types: ['delete'] } },
      { name: 'webhook/elsewhere', filter: { registries: ['other.io'] }, endpointFilter: { types: ['push'] } },
    ];

    it("routes an event to each endpoint whose own filter and the section's both match", () => {
      expect(route(push, targets)).to.deep.equal(['webhook/all']);
      expect(route(makeEvent('e2', { type: 'delete' }), targets)).to.deep.equal(['webhook/all', 'webhook/deletes']);
    });

    it('names the filter that turned an endpoint away', () => {
      expect(explain(push, targets).map((d) => d.reason)).to.deep.equal([
        undefined,
        'the endpoint filter.types does not list push',
        'filter.registries matches no glob for myreg.azurecr.io',
      ]);
    });
  });

  describe('explain', () => {
    it('gives every target in order, and the rule that turned each excluded one away', () => {
      const targets: RouteTarget[] = [
        { name: 'log' },
        { name: 'byProvider', filter: { providers: ['harbor'] } },
        { name: 'byType', filter: { types: ['delete'] } },
        { name: 'byRegistry', filter: { registries: ['*.example.com'] } },
        { name: 'byRepo', filter: { repos: ['team/**'] } },
        { name: 'kubeapps', accepts: () => false },
        { name: 'all', filter: { providers: ['acr'], types: ['push'], repos: ['library/*'] } },
      ];
      const decisions = explain(push, targets);
      expect(decisions).to.deep.equal([
        { name: 'log', matched: true },
        { name: 'byProvider', matched: false, reason: 'filter.providers does not list acr' },
        { name: 'byType', matched: false, reason: 'filter.types does not list push' },
        { name: 'byRegistry', matched: false, reason: 'filter.registries matches no glob for myreg.azurecr.io' },
        { name: 'byRepo', matched: false, reason: 'filter.repos matches no glob for library/app' },
        { name: 'kubeapps', matched: false, reason: "the kubeapps emitter's own rules decline it" },
        { name: 'all', matched: true },
      ]);
      // The same answer as route, so the console never tells a different story.
      expect(decisions.filter((d) => d.matched).map((d) => d.name)).to.deep.equal(route(push, targets));
    });

    it('says when a repository filter meets an event without a repository', () => {
      const quota = makeEvent('q', { repo: undefined, type: 'quota_exceeded' });
      expect(explain(quota, [{ name: 'x', filter: { repos: ['**'] } }])).to.deep.equal([
        { name: 'x', matched: false, reason: 'filter.repos asks for a repository; this event has none' },
      ]);
    });
  });
});
