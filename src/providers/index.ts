import { AcrParser } from './acr';
import { DistributionParser } from './distribution';
import { EventGridParser } from './eventgrid';
import { HarborParser } from './harbor';
import type { InboundRequest, RegistryParser } from './types';

/**
 * Every registry format the gateway understands, in auto-detection order for `POST /events`.
 * A new registry is one parser module and one line here.
 *
 * The order matters where shapes overlap: an Event Grid CloudEvent in binary mode has the ACR
 * body (`action`, `target`) with the Event Grid type in its `ce-type` header, so Event Grid is
 * asked before ACR; ACR comes last as the loosest shape (any object with `action`).
 */
export const PARSERS: readonly RegistryParser[] = [
  new EventGridParser(),
  new HarborParser(),
  new DistributionParser(),
  new AcrParser(),
];

/** The parser for a request to `POST /events`, chosen from its shape; undefined when none fits. */
export function detectParser(request: InboundRequest): RegistryParser | undefined {
  return PARSERS.find((parser) => parser.matches(request));
}
