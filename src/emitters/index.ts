import { logEmitterPlugin } from './log';
import type { EmitterPlugin } from './types';

/** Every target the gateway can deliver to. A new target is one module and one line here. */
export const EMITTER_PLUGINS: readonly EmitterPlugin<any>[] = [logEmitterPlugin];
