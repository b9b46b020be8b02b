import type { Writable } from 'node:stream';
import type { RegistryEvent } from '../model/event';
import { noteExchange } from './exchange';
import type { TargetRequest } from './preview';
import type { Emitter, EmitterPlugin, EmitterSectionBase } from './types';

/**
 * Writes each event as one JSON line on stdout (operational logs go to stderr, so stdout pipes
 * to jq): the local default and a debugging aid.
 */
export class LogEmitter implements Emitter {
  readonly name = 'log';
  readonly address = 'stdout';
  constructor(private readonly out: Writable = process.stdout) {}

  preview(event: RegistryEvent): TargetRequest[] {
    return [{ title: 'JSON line', method: 'WRITE', url: 'stdout', headers: {}, body: JSON.stringify(event) }];
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const line = JSON.stringify(event) + '\n';
    // No answer to record: a written line is all a log target says.
    noteExchange({ request: { method: 'WRITE', url: 'stdout', headers: {} } });
    await new Promise<void>((resolve, reject) => this.out.write(line, (err) => (err ? reject(err) : resolve())));
  }
}

export const logEmitterPlugin: EmitterPlugin<'log', EmitterSectionBase> = {
  key: 'log',
  settings: {},
  enabledByDefault: true,
  create: () => new LogEmitter(),
};
