#!/usr/bin/env node
// First: tracing, when on, must hook http, express and pg before anything below loads them.
import './observability/tracing-start';
import { parseArgs } from 'node:util';
import { deliveriesCommand } from './cli/deliveries';
import { requestsCommand } from './cli/requests';
import { consoleOutput } from './cli/output';
import { dryRunEdge, sendCommand } from './cli/send';
import { serveCommand } from './cli/serve';
import { pickToken, providerOfUrl } from './cli/token-pick';
import { validateCommand } from './cli/validate';
import { ConfigError } from './config/load';
import { TOKEN_VERIFICATIONS, type TokenVerification } from './config/types';

/** `send --verify`: it can present a token in each form the gateway verifies (strings, to check argv). */
const SEND_FORMS: readonly string[] = TOKEN_VERIFICATIONS;

const USAGE = `usage:
  registry-gateway serve --config FILE
  registry-gateway validate [--chart] --config FILE
  registry-gateway send --url URL [--token T | --tokens-file F [--token-name N]] [--verify FORM] [--expect STATUS] FILE...
        (token also from REGISTRY_GATEWAY_TOKEN; FORM is the token's verify: ${SEND_FORMS.join('|')};
        headers a registry sends besides the body come from the provider or from FILE's .headers sidecar;
        --dry-run --config FILE answers in process as that config's gateway would, storing nothing)
  registry-gateway deliveries list|replay|drop --config FILE
        [--state pending|delivered|dead] [--emitter NAME] [--id EVENT_ID] [--delivery N]... [--limit N] [--json]
  registry-gateway requests list --config FILE
        [--status 2xx|4xx|5xx] [--provider NAME] [--token-name NAME] [--since TIME|30m] [--until TIME] [--limit N] [--json]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      token: { type: 'string' },
      'tokens-file': { type: 'string' },
      'token-name': { type: 'string' },
      chart: { type: 'boolean' },
      expect: { type: 'string' },
      verify: { type: 'string' },
      state: { type: 'string' },
      emitter: { type: 'string' },
      id: { type: 'string' },
      delivery: { type: 'string', multiple: true },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      status: { type: 'string' },
      provider: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    consoleOutput.info(USAGE);
    return command || values.help ? 0 : 2;
  }
  const needConfig = (): string => {
    if (!values.config) throw new UsageError(`${command} needs --config FILE`);
    return values.config;
  };
  switch (command) {
    case 'serve':
      await serveCommand(needConfig());
      return -1;
    case 'validate':
      return validateCommand(needConfig(), consoleOutput, values.chart === true);
    case 'send': {
      const local = values['dry-run'] ? dryRunEdge(needConfig()) : undefined;
      // A dry run has no server: the URL only names the path (/events or /events/<provider>).
      const url = values.url ?? (local ? 'http://dry-run/events' : undefined);
      const tokensFile = values['tokens-file'];
      const token =
        values.token ??
        (tokensFile && url ? pickToken(tokensFile, providerOfUrl(url), values['token-name']) : undefined) ??
        process.env.REGISTRY_GATEWAY_TOKEN;
      if (!url || !token || rest.length === 0) {
        throw new UsageError(
          'send needs --url URL, a token (--token, --tokens-file or REGISTRY_GATEWAY_TOKEN) and at least one FILE',
        );
      }
      const expect = values.expect === undefined ? undefined : Number(values.expect);
      if (expect !== undefined && !(Number.isInteger(expect) && expect >= 100 && expect <= 599)) {
        throw new UsageError('--expect needs an HTTP status such as 200');
      }
      const verify = values.verify ?? 'bearer';
      if (!SEND_FORMS.includes(verify)) throw new UsageError(`--verify needs one of ${SEND_FORMS.join(', ')}`);
      return sendCommand(
        { url, token, files: rest, expect, verify: verify as TokenVerification, local },
        consoleOutput,
      );
    }
    case 'deliveries':
      if (rest.length !== 1) throw new UsageError('deliveries needs one action: list, replay or drop');
      return deliveriesCommand(rest[0], needConfig(), values, consoleOutput);
    case 'requests':
      if (rest.length !== 1) throw new UsageError('requests needs one action: list');
      return requestsCommand(rest[0], needConfig(), values, consoleOutput);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      consoleOutput.error(`${(err as Error).message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof ConfigError) {
      consoleOutput.error(err.message);
      process.exitCode = 1;
    } else {
      consoleOutput.error(`registry-gateway: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  },
);
