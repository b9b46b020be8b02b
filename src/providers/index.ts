import { AcrParser } from './acr';
import type { RegistryParser } from './types';

/**
 * Every registry format the gateway understands, in auto-detection order for `POST /events`.
 * A new registry is one parser module and one line here.
 */
export const PARSERS: readonly RegistryParser[] = [new AcrParser()];
