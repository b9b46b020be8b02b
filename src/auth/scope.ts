import picomatch from 'picomatch';
import type { ProviderName, RegistryEvent } from '../model/event';
import { ScopeError } from '../model/errors';
import type { TokenScope } from './tokens';

const matchers = new Map<string, (value: string) => boolean>();

/** Globs as in the routing filters: `*` stays within one path segment, `**` spans them. */
function glob(pattern: string): (value: string) => boolean {
  let m = matchers.get(pattern);
  if (!m) {
    m = picomatch(pattern, { nocase: false, dot: true });
    matchers.set(pattern, m);
  }
  return m;
}

export function matchesAny(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => glob(p)(value));
}

/** Checked before parsing: a token scoped to other providers learns nothing about the body. */
export function checkProviderScope(scope: TokenScope, provider: ProviderName): void {
  if (scope.providers && !scope.providers.includes(provider)) {
    throw new ScopeError(
      'providers',
      `token "${scope.name}" is scoped to providers [${scope.providers.join(', ')}]; this request is ${provider}`,
    );
  }
}

/** Checked after parsing, on what the payload says: the registry and repository of each event. */
export function checkEventScope(scope: TokenScope, event: RegistryEvent): void {
  if (scope.registries && !matchesAny(scope.registries, event.registry)) {
    throw new ScopeError(
      'registries',
      `token "${scope.name}" is scoped to registries [${scope.registries.join(', ')}]; the event is from ${event.registry}`,
    );
  }
  if (scope.repos && (event.repo === undefined || !matchesAny(scope.repos, event.repo))) {
    throw new ScopeError(
      'repos',
      `token "${scope.name}" is scoped to repos [${scope.repos.join(', ')}]; the event is for ${
        event.repo === undefined ? 'no repository' : event.repo
      }`,
    );
  }
}
