import { ConfigError } from '../config/load';
import { loadConfig } from '../gateway';
import type { Output } from './output';

/** `registry-gateway validate --config F`: every problem listed, exit 0 or 1. */
export function validateCommand(configPath: string, out: Output): number {
  try {
    const config = loadConfig(configPath);
    const enabled = Object.entries(config.emitters)
      .filter(([, s]) => s.enabled)
      .map(([k]) => k);
    out.info(`${configPath}: valid (${Object.keys(config.tokens).length} token(s); emitters: ${enabled.join(', ')})`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      out.error(err.message);
      return 1;
    }
    throw err;
  }
}
