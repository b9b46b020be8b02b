import { ConfigError } from '../config/load';
import { loadConfig, type Config } from '../gateway';
import type { Output } from './output';
import { checkChartValues } from './validate-chart';

/**
 * `registry-gateway validate [--chart] --config F`: every problem listed, exit 0 or 1. With
 * `--chart` the file is Helm values whose secrets arrive from Secrets when the pod starts.
 */
export function validateCommand(configPath: string, out: Output, chart = false): number {
  try {
    let config: Config;
    let expected: string[] = [];
    if (chart) ({ config, expected } = checkChartValues(configPath));
    else config = loadConfig(configPath);
    const enabled = Object.entries(config.emitters)
      .filter(([, s]) => s.enabled)
      .map(([k]) => k);
    const what = chart ? 'valid chart values' : 'valid';
    out.info(`${configPath}: ${what} (${Object.keys(config.tokens).length} token(s); emitters: ${enabled.join(', ')})`);
    if (expected.length > 0) out.info(`expected when the pod starts:\n  - ${expected.join('\n  - ')}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      out.error(err.message);
      return 1;
    }
    throw err;
  }
}
