import { brigadeEmitterPlugin } from './brigade';
import { knativeEmitterPlugin } from './knative';
import { kubeappsEmitterPlugin } from './kubeapps';
import { logEmitterPlugin } from './log';
import type { EmitterPlugin } from './types';

/** Every target the gateway can deliver to. A new target is one module and one line here. */
export const EMITTER_PLUGINS: readonly EmitterPlugin<any>[] = [
  logEmitterPlugin,
  brigadeEmitterPlugin,
  knativeEmitterPlugin,
  kubeappsEmitterPlugin,
];
