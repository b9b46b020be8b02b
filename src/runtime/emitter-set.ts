import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types';
import type { RouteTarget } from '../delivery/routing';
import { EMITTER_PLUGINS, type AnyEmitterPlugin, type EmitterSections } from '../emitters';
import type { Emitter, EmitterPlugin, SharedWindows } from '../emitters/types';

/*
 * Apart from the config schema (gateway-config.ts), so that the delivery worker, which only
 * builds emitters, does not load every provider's parser and build the whole schema.
 */

function isEmitterList(created: Emitter | readonly Emitter[]): created is readonly Emitter[] {
  return Array.isArray(created);
}

/** One plugin's emitter from its own section; generic so the section's type follows the key. */
function createEmitter<Key extends AnyEmitterPlugin['key']>(
  plugin: EmitterPlugin<Key, EmitterSections[Key], Emitter | readonly Emitter[]>,
  sections: EmitterSections,
  logger: Logger,
  sharedWindows?: SharedWindows,
): (Emitter & RouteTarget)[] {
  const section = sections[plugin.key];
  if (!section.enabled) return [];
  const created = plugin.create(section, { logger: logger.child({ emitter: plugin.key }), sharedWindows });
  const emitters: readonly Emitter[] = isEmitterList(created) ? created : [created];
  return emitters.map((emitter) => Object.assign(emitter, { filter: section.filter }));
}

/** Builds every enabled emitter with its routing filter. */
export function createEmitters(
  config: Pick<GatewayConfig<EmitterSections>, 'emitters'>,
  logger: Logger,
  sharedWindows?: SharedWindows,
): (Emitter & RouteTarget)[] {
  return EMITTER_PLUGINS.flatMap((plugin) => createEmitter(plugin, config.emitters, logger, sharedWindows));
}
