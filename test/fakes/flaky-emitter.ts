import { DeliveryError, type Emitter } from '../../src/emitters/types';
import type { RegistryEvent } from '../../src/model/event';

/** What one call to deliver() does. */
export type Behaviour =
  | { kind: 'succeed' }
  | { kind: 'fail'; retryable: boolean; message: string; status?: number }
  | { kind: 'throw'; error: unknown }
  /** Never settles until release() is called (or forever). */
  | { kind: 'hang' };

export const succeed: Behaviour = { kind: 'succeed' };
export const hang: Behaviour = { kind: 'hang' };
export const retryable = (message: string, status?: number): Behaviour => ({
  kind: 'fail',
  retryable: true,
  message,
  status,
});
export const permanent = (message: string, status?: number): Behaviour => ({
  kind: 'fail',
  retryable: false,
  message,
  status,
});

/**
 * An in-process target whose answers are scripted: each call takes the next behaviour from the
 * script, then repeats `otherwise` once the script runs out. It records every call and the most
 * calls it ever had in flight at once.
 */
export class FlakyEmitter implements Emitter {
  readonly calls: RegistryEvent[] = [];
  readonly delivered: RegistryEvent[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly script: Behaviour[];
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly name: string,
    script: Behaviour[] = [],
    public otherwise: Behaviour = succeed,
  ) {
    this.script = [...script];
  }

  async deliver(event: RegistryEvent): Promise<void> {
    this.calls.push(event);
    const behaviour = this.script.shift() ?? this.otherwise;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (behaviour.kind === 'hang') await new Promise<void>((resolve) => this.waiting.push(resolve));
      // A turn of the loop, so concurrent calls genuinely overlap as they would over a network.
      else await new Promise((resolve) => setImmediate(resolve));
      if (behaviour.kind === 'fail') throw new DeliveryError(behaviour.message, behaviour.retryable, behaviour.status);
      if (behaviour.kind === 'throw') throw behaviour.error;
      this.delivered.push(event);
    } finally {
      this.inFlight--;
    }
  }

  /** Lets every hanging call complete successfully. */
  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  get hanging(): number {
    return this.waiting.length;
  }
}
