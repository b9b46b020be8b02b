import type { EventType, ProviderName } from '../../src/model/event';

export interface ExpectedEvent {
  id: string;
  type: EventType;
  registry: string;
  repo?: string;
  tag?: string;
  digest?: string;
  time?: string;
}

export type Expected = { events: ExpectedEvent[] } | { ignored: string } | { rejected: string[] };

export interface CorpusCase {
  /** What the file becomes with no fallback registry configured. */
  expect: Expected;
  /** What it becomes when the token is scoped to exactly one registry (for files naming none). */
  withOneRegistry?: Expected;
  /** False for files that are not a webhook body, which auto-detection must not claim. */
  detected?: false;
  /**
   * The request the file arrives in, where the file alone is not one: the headers the sender
   * adds (GitHub's event name and delivery id), or the envelope around it (a decoded Pub/Sub
   * message). Lower-cased header names.
   */
  request?: (body: unknown) => { body: unknown; headers?: Record<string, string> };
}

export interface CorpusFolder {
  provider: ProviderName;
  contentType: string;
  /** Per-file media type where a folder mixes formats. */
  contentTypeOf?: (file: string) => string;
  cases: Record<string, CorpusCase>;
}
