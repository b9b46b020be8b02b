/**
 * The registry-side setup examples (ACR webhook, Event Grid subscription, Harbor webhook
 * policy, Distribution notifications): each must point at a path the gateway serves and send
 * `Authorization: Bearer <token>`. Then each is replayed against the gateway's HTTP app with a
 * real token and the matching sample payload, and must be accepted.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { post } from '../helpers/http';
import {
  EXAMPLES_DIR,
  gatewayConfig,
  gatewayEventPaths,
  readJson,
  readText,
  readYaml,
  samplePayload,
  startGateway,
  type Tree,
} from './support';

const TOKEN_PLACEHOLDER = '<token>';
const BEARER_PLACEHOLDER = `Bearer ${TOKEN_PLACEHOLDER}`;

/** A command line written out in a script's comments, as words with its flags' values. */
interface CommentedCommand {
  words: string[];
  flags: Map<string, string[]>;
}

/** Splits a shell command line into words: double quotes group, nothing is expanded. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    words.push(match[1] ?? match[2] ?? match[3]);
  }
  return words;
}

/** `# az ...` commands in a script's comments, continuation lines joined. */
function commentedCommands(file: string, program: string): CommentedCommand[] {
  const lines = readText(file)
    .split('\n')
    .filter((line) => line.startsWith('#') && !line.startsWith('#!'))
    .map((line) => line.replace(/^# ?/, ''));
  const commands: string[] = [];
  let current: string | undefined;
  for (const line of lines) {
    if (current === undefined && !line.startsWith(`${program} `)) continue;
    current = current === undefined ? line : `${current} ${line.trim()}`;
    if (current.endsWith('\\')) current = current.slice(0, -1);
    else {
      commands.push(current);
      current = undefined;
    }
  }
  return commands.map((text) => {
    const words = shellWords(text);
    const flags = new Map<string, string[]>();
    let flag: string | undefined;
    for (const word of words) {
      if (word.startsWith('--')) {
        flag = word;
        flags.set(flag, [...(flags.get(flag) ?? [])]);
      } else if (flag) flags.get(flag)!.push(word);
    }
    return { words, flags };
  });
}

function commandsOf(file: string, ...prefix: string[]): CommentedCommand[] {
  return commentedCommands(file, prefix[0]).filter((c) => prefix.every((w, i) => c.words[i] === w));
}

function flag(command: CommentedCommand, name: string): string[] {
  const values = command.flags.get(name);
  if (values === undefined) throw new Error(`no ${name} in ${command.words.join(' ')}`);
  return values;
}

/** The path of a `https://<host>/...` URL in an example. */
function examplePath(url: string): string {
  expect(url).to.match(/^https:\/\/(<host>|[a-z0-9.-]+)\//);
  return new URL(url.replace('<host>', 'gateway.invalid')).pathname;
}

/** A script must only document commands, never run them unedited. */
function runsNothing(file: string): void {
  const live = readText(file)
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#') && line.trim() !== 'exit 0');
  expect(live, file).to.deep.equal([]);
  execFileSync('sh', ['-n', file]);
}

const ACR_SCRIPT = path.join(EXAMPLES_DIR, 'acr', 'create-webhook.sh');
const EVENTGRID_SCRIPT = path.join(EXAMPLES_DIR, 'eventgrid', 'create-subscription.sh');
const HARBOR_DIR = path.join(EXAMPLES_DIR, 'harbor');
const HARBOR_POLICIES = ['webhook-policy-default.json', 'webhook-policy-cloudevents.json'];
const DISTRIBUTION_CONFIG = path.join(EXAMPLES_DIR, 'distribution', 'config.yml');

/** The ACR actions and Event Grid event types the gateway turns into events (docs/registries.md, Event vocabulary). */
const ACR_ACTIONS = ['push', 'delete', 'chart_push', 'chart_delete', 'quarantine'];
const EVENTGRID_TYPES = ['ImagePushed', 'ImageDeleted', 'ChartPushed', 'ChartDeleted'].map(
  (t) => `Microsoft.ContainerRegistry.${t}`,
);
/** Harbor 2.x event types (policy `event_types`) the gateway turns into events (docs/registries.md, Event vocabulary). */
const HARBOR_EVENT_TYPES = [
  'PUSH_ARTIFACT',
  'PULL_ARTIFACT',
  'DELETE_ARTIFACT',
  'UPLOAD_CHART',
  'DELETE_CHART',
  'DOWNLOAD_CHART',
  'SCANNING_COMPLETED',
  'SCANNING_FAILED',
  'SCANNING_STOPPED',
  'QUOTA_EXCEED',
  'QUOTA_WARNING',
  'REPLICATION',
  'TAG_RETENTION',
];
/** Harbor's WebhookPolicy and WebhookTargetObject fields (api/v2.0/swagger.yaml) a create may set. */
const HARBOR_POLICY_FIELDS = ['name', 'description', 'enabled', 'targets', 'event_types', 'project_id'];
const HARBOR_TARGET_FIELDS = ['type', 'address', 'auth_header', 'skip_cert_verify', 'payload_format'];

interface HarborTarget {
  type: string;
  address: string;
  auth_header: string;
  skip_cert_verify: boolean;
  payload_format: string;
}

function harborPolicy(file: string): Tree & { targets: HarborTarget[]; event_types: string[] } {
  return readJson(path.join(HARBOR_DIR, file));
}

function distributionEndpoint(): Tree {
  const notifications = readYaml(DISTRIBUTION_CONFIG).notifications as { endpoints: Tree[] };
  expect(notifications.endpoints).to.have.length(1);
  return notifications.endpoints[0];
}

describe('examples: registry webhook setups', () => {
  const paths = gatewayEventPaths();

  describe('acr/create-webhook.sh', () => {
    const [create] = commandsOf(ACR_SCRIPT, 'az', 'acr', 'webhook', 'create');

    it('documents the command without running anything', () => runsNothing(ACR_SCRIPT));

    it('posts to the ACR path with a Bearer Authorization header', () => {
      const [uri] = flag(create, '--uri');
      expect(paths).to.include(examplePath(uri));
      expect(examplePath(uri)).to.equal('/events/acr');
      expect(flag(create, '--headers')).to.deep.equal([`Authorization=${BEARER_PLACEHOLDER}`]);
    });

    it('subscribes to every action the gateway forwards', () => {
      expect(flag(create, '--actions')).to.have.members(ACR_ACTIONS);
      expect(flag(create, '--registry')).to.have.length(1);
      expect(flag(create, '--name')[0]).to.match(/^[a-zA-Z0-9]{5,50}$/);
    });
  });

  describe('eventgrid/create-subscription.sh', () => {
    const creates = commandsOf(EVENTGRID_SCRIPT, 'az', 'eventgrid', 'event-subscription', 'create');

    it('documents the commands without running anything', () => runsNothing(EVENTGRID_SCRIPT));

    it('shows both delivery schemas', () => {
      expect(creates.map((c) => flag(c, '--event-delivery-schema')[0])).to.have.members([
        'eventgridschema',
        'cloudeventschemav1_0',
      ]);
    });

    it('delivers to the Event Grid path with a secret static Bearer Authorization header', () => {
      for (const create of creates) {
        expect(flag(create, '--endpoint-type')).to.deep.equal(['webhook']);
        expect(examplePath(flag(create, '--endpoint')[0])).to.equal('/events/eventgrid');
        // NAME static VALUE [ISSECRET], as az's AddDeliveryAttributeMapping parses it.
        expect(flag(create, '--delivery-attribute-mapping')).to.deep.equal([
          'Authorization',
          'static',
          BEARER_PLACEHOLDER,
          'true',
        ]);
        expect(flag(create, '--included-event-types')).to.have.members(EVENTGRID_TYPES);
      }
    });
  });

  describe('harbor/', () => {
    for (const file of HARBOR_POLICIES) {
      it(`${file} is a Harbor webhook policy posting to the Harbor path with a Bearer auth header`, () => {
        const policy = harborPolicy(file);
        expect(HARBOR_POLICY_FIELDS).to.include.members(Object.keys(policy));
        expect(policy.enabled).to.equal(true);
        expect(policy.targets).to.have.length(1);
        const [target] = policy.targets;
        expect(HARBOR_TARGET_FIELDS).to.have.members(Object.keys(target));
        expect(target).to.include({ type: 'http', auth_header: BEARER_PLACEHOLDER, skip_cert_verify: false });
        expect(examplePath(target.address)).to.equal('/events/harbor');
        expect(HARBOR_EVENT_TYPES).to.include.members(policy.event_types);
      });
    }

    it('shows both payload formats', () => {
      expect(HARBOR_POLICIES.map((f) => harborPolicy(f).targets[0].payload_format)).to.have.members([
        'Default',
        'CloudEvents',
      ]);
    });

    it('create-webhook-policy.sh posts a policy to the project webhook API, filling in address and token', () => {
      const script = path.join(HARBOR_DIR, 'create-webhook-policy.sh');
      execFileSync('bash', ['-n', script]);
      const text = readText(script);
      expect(text).to.include('"${HARBOR_URL}/api/v2.0/projects/${project}/webhook/policies"');
      expect(text).to.include('--arg address "https://${GATEWAY_HOST}/events/harbor"');
      expect(text).to.include('--arg auth "Bearer ${GATEWAY_TOKEN}"');
      expect(text).to.include('.targets[].address = $address | .targets[].auth_header = $auth');
      expect(text).to.include('webhook-policy-default.json');
    });
  });

  describe('distribution/config.yml', () => {
    it('notifies the Distribution path with a Bearer Authorization header', () => {
      const endpoint = distributionEndpoint();
      expect(examplePath(endpoint.url as string)).to.equal('/events/distribution');
      expect(endpoint.headers).to.deep.equal({ Authorization: [BEARER_PLACEHOLDER] });
    });

    it('sets the retry knobs and leaves out layer events', () => {
      const endpoint = distributionEndpoint();
      expect(endpoint).to.include.keys('timeout', 'threshold', 'backoff');
      expect(endpoint.ignoredmediatypes).to.include('application/octet-stream');
    });
  });

  describe('replayed against the gateway', () => {
    const TOKEN = 'replay-token-5f0c2a9e71d84b36';
    const config = gatewayConfig({
      tokens: { replay: TOKEN },
      // ACR chart events name no registry; the chart-event sample needs one from somewhere.
      defaultRegistry: { acr: 'myregistry.azurecr.io' },
    });
    const withToken = (value: string) => value.replace(TOKEN_PLACEHOLDER, TOKEN);

    /** [what, path from the example, header name and value from the example, sample, provider]. */
    function setups(): [string, string, string, string, string, string][] {
      const [acr] = commandsOf(ACR_SCRIPT, 'az', 'acr', 'webhook', 'create');
      const [acrHeader, acrValue] = flag(acr, '--headers')[0].split(/=(.*)/s);
      const eventGrid = commandsOf(EVENTGRID_SCRIPT, 'az', 'eventgrid', 'event-subscription', 'create');
      const byEventGridSchema = (schema: string) =>
        eventGrid.find((c) => flag(c, '--event-delivery-schema')[0] === schema)!;
      const gridSetup = (schema: string, sample: string): [string, string, string, string, string, string] => {
        const c = byEventGridSchema(schema);
        const [name, , value] = flag(c, '--delivery-attribute-mapping');
        return [`Event Grid ${schema}`, examplePath(flag(c, '--endpoint')[0]), name, value, sample, 'eventgrid'];
      };
      const harborSetup = (file: string, sample: string): [string, string, string, string, string, string] => {
        const [target] = harborPolicy(file).targets;
        return [
          `Harbor ${target.payload_format}`,
          examplePath(target.address),
          'Authorization',
          target.auth_header,
          sample,
          'harbor',
        ];
      };
      const distribution = distributionEndpoint();
      const [[distHeader, [distValue]]] = Object.entries(distribution.headers as Record<string, string[]>);
      return [
        ['ACR webhook', examplePath(flag(acr, '--uri')[0]), acrHeader, acrValue, 'acr-push.json', 'acr'],
        [
          'ACR webhook, chart event',
          examplePath(flag(acr, '--uri')[0]),
          acrHeader,
          acrValue,
          'acr-chart-push.json',
          'acr',
        ],
        gridSetup('eventgridschema', 'eventgrid-push.json'),
        gridSetup('cloudeventschemav1_0', 'eventgrid-cloudevents-chart-push.json'),
        harborSetup('webhook-policy-default.json', 'harbor-push.json'),
        harborSetup('webhook-policy-cloudevents.json', 'harbor-cloudevents-push.json'),
        [
          'Distribution',
          examplePath(distribution.url as string),
          distHeader,
          distValue,
          'distribution-push.json',
          'distribution',
        ],
      ];
    }

    it('accepts every sample sent the way its setup example sends it', async () => {
      const gateway = await startGateway(config);
      try {
        for (const [what, eventsPath, header, value, sample, provider] of setups()) {
          const { body, contentType } = samplePayload(sample);
          const res = await post(`${gateway.url}${eventsPath}`, body, {
            'Content-Type': contentType,
            [header]: withToken(value),
          });
          expect(res.status, `${what}: ${JSON.stringify(res.data)}`).to.equal(202);
          expect(gateway.accepted.at(-1)?.provider, what).to.equal(provider);
        }
      } finally {
        await gateway.close();
      }
    });

    it('refuses the same requests with the placeholder left in (the check itself)', async () => {
      const gateway = await startGateway(config);
      try {
        const [, eventsPath, header, value, sample] = setups()[0];
        const { body, contentType } = samplePayload(sample);
        const res = await post(`${gateway.url}${eventsPath}`, body, { 'Content-Type': contentType, [header]: value });
        expect(res.status).to.equal(401);
      } finally {
        await gateway.close();
      }
    });
  });
});

describe('examples: setup of the six more registries', () => {
  const served = gatewayEventPaths();
  const script = (...parts: string[]) => path.join(EXAMPLES_DIR, ...parts);

  it('each script only documents commands, and each is valid shell', () => {
    for (const file of [
      script('ghcr', 'create-webhook.sh'),
      script('artifactory', 'create-webhook.sh'),
      script('gar', 'create-subscription.sh'),
      script('ecr', 'create-api-destination.sh'),
    ]) {
      runsNothing(file);
    }
  });

  it('GitHub: a package webhook with a secret, at /events/ghcr', () => {
    const [hook] = commandsOf(script('ghcr', 'create-webhook.sh'), 'gh', 'api');
    expect(hook.words).to.include('events[]=package');
    expect(hook.words).to.include('config[secret]=<secret>');
    const url = hook.words.find((w) => w.startsWith('config[url]='))!.split('=')[1];
    expect(served).to.include(examplePath(url));
    expect(examplePath(url)).to.equal('/events/ghcr');
  });

  it('JFrog: docker pushed, deleted and promoted, with a secret, at /events/artifactory', () => {
    const text = readText(script('artifactory', 'create-webhook.sh'));
    const json = text
      .split("-d '")[1]
      .split("'\n")[0]
      .split('\n')
      .map((line) => line.replace(/^# ?/, ''))
      .join('\n');
    const subscription = JSON.parse(json) as {
      event_filter: { domain: string; event_types: string[] };
      handlers: { url: string; secret: string }[];
    };
    expect(subscription.event_filter).to.include({ domain: 'docker' });
    expect(subscription.event_filter.event_types).to.deep.equal(['pushed', 'deleted', 'promoted']);
    expect(examplePath(subscription.handlers[0].url)).to.equal('/events/artifactory');
    expect(subscription.handlers[0].secret).to.equal('<secret>');
  });

  it('Pub/Sub: an authenticated push subscription whose audience is the endpoint, at /events/gar', () => {
    const [create] = commandsOf(script('gar', 'create-subscription.sh'), 'gcloud', 'pubsub', 'subscriptions', 'create');
    const [endpoint] = flag(create, '--push-endpoint');
    expect(examplePath(endpoint)).to.equal('/events/gar');
    expect(flag(create, '--push-auth-token-audience')).to.deep.equal([endpoint]);
    expect(flag(create, '--push-auth-service-account')[0]).to.match(/@<project>\.iam\.gserviceaccount\.com$/);
    expect(flag(create, '--topic')).to.deep.equal(['gcr']);
  });

  it('EventBridge: an API-key connection sending a Bearer token, to an API destination at /events/ecr', () => {
    const file = script('ecr', 'create-api-destination.sh');
    const [connection] = commandsOf(file, 'aws', 'events', 'create-connection');
    expect(flag(connection, '--auth-parameters')[0]).to.include('ApiKeyName=Authorization,ApiKeyValue=Bearer <token>');
    const [destination] = commandsOf(file, 'aws', 'events', 'create-api-destination');
    expect(examplePath(flag(destination, '--invocation-endpoint')[0])).to.equal('/events/ecr');
    const [rule] = commandsOf(file, 'aws', 'events', 'put-rule');
    const pattern = JSON.parse(flag(rule, '--event-pattern')[0]) as { source: string[] };
    expect(pattern.source).to.deep.equal(['aws.ecr']);
  });
});
