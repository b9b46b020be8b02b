import { brigadeEmitterPlugin } from './brigade';
import { fluxEmitterPlugin } from './flux';
import { kargoEmitterPlugin } from './kargo';
import { knativeEmitterPlugin } from './knative';
import { kubeappsEmitterPlugin } from './kubeapps';
import { logEmitterPlugin } from './log';
import type { Emitter, EmitterPlugin } from './types';
import { webhookEmitterPlugin } from './webhook';

/** Every target the gateway can deliver to. A new target is one module and one line here. */
export const EMITTER_PLUGINS = [
  logEmitterPlugin,
  brigadeEmitterPlugin,
  knativeEmitterPlugin,
  kubeappsEmitterPlugin,
  webhookEmitterPlugin,
  fluxEmitterPlugin,
  kargoEmitterPlugin,
] as const;

export type AnyEmitterPlugin = (typeof EMITTER_PLUGINS)[number];

/** The section type a plugin's `create` takes. */
export type SectionOf<Plugin> =
  Plugin extends EmitterPlugin<string, infer Section, Emitter | readonly Emitter[]> ? Section : never;

/** `emitters` in the config: each plugin's key with its own section type. */
export type EmitterSections = { [Plugin in AnyEmitterPlugin as Plugin['key']]: SectionOf<Plugin> };
