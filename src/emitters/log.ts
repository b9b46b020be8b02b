import type { Writable } from 'node:stream';
import type { RegistryEvent } from '../model/event';
import type { Emitter, EmitterPlugin, EmitterSectionBase } from './types';

/** Writes each event as one JSON line: the local default and a debugging aid (CONTRACT §3.4). */
export class LogEmitter implements Emitter {
  readonly name = 'log';
  constructor(private readonly out: Writable = process.stdout) {}

  async deliver(event: RegistryEvent): Promise<void> {
    const line = JSON.stringify(event) + '\n';
    await new Promise<void>((resolve, reject) =>
      this.out.write(line, (err) => (err ? reject(err) : resolve())),
    );
  }
}

export const logEmitterPlugin: EmitterPlugin<EmitterSectionBase> = {
  key: 'log',
  settings: {},
  enabledByDefault: true,
  create: () => new LogEmitter(),
};
