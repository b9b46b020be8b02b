import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { FakeOtlpReceiver, SPAN_KIND, type ExportedSpan } from '../fakes/otlp-receiver';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';
import { cleanupAfterEach, GatewayProcess, tempDir } from '../helpers/gateway-process';
import { post } from '../helpers/http';
import { waitFor } from '../helpers/wait';

const TOKEN = 'e2e-trace-token-2b7e61c4';
const BRIGADE_TOKEN = 'brigade-sa-token-9c1d';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

function acrPush(tag: string) {
  return {
    id: `trace-${randomUUID()}`,
    timestamp: '2026-12-02T10:00:00Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${randomBytes(32).toString('hex')}`,
      repository: 'team/app',
      tag,
    },
    request: { id: 'r-1', host: 'myregistry.azurecr.io', method: 'PUT' },
  };
}

/** A sender's own trace context, as a registry behind a traced proxy would send it. */
function senderContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'sender=abc' };
}

function config(emitters: string, extra = ''): string {
  return `
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
${emitters}
delivery: {dir: $DIR, maxAttempts: 50, initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2}
server: {port: $PORT}
${extra}
`;
}

/** The OTLP export settings of every traced run: JSON to the receiver, short batches. */
function exportTo(receiver: FakeOtlpReceiver): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

const traceIdOf = (traceparent: unknown) => TRACEPARENT.exec(String(traceparent))?.[1];
const spanIdOf = (traceparent: unknown) => TRACEPARENT.exec(String(traceparent))?.[2];

describe('e2e: OpenTelemetry traces (real gateway process, OTLP/HTTP receiver)', function () {
  // Two gateway processes in the first test, each compiled by tsx at start: slow on a busy machine.
  this.timeout(180_000);
  const cleanup = { push: cleanupAfterEach() };

  async function startReceiver(): Promise<FakeOtlpReceiver> {
    const receiver = await FakeOtlpReceiver.start();
    cleanup.push(() => receiver.close());
    return receiver;
  }

  it('continues the sender trace from the inbound request to a Knative delivery made after a restart', async () => {
    const receiver = await startReceiver();
    const broker = await FakeKnativeBroker.start();
    cleanup.push(() => broker.close());
    broker.respondWith(503);
    const dir = tempDir();
    const yaml = config(`  knative: {enabled: true, brokerURL: "${broker.url}", mode: binary}`);
    const sender = senderContext();

    // Accepted while the broker refuses everything, then the gateway stops before delivering.
    const first = await GatewayProcess.start(yaml, { dir, env: exportTo(receiver) });
    cleanup.push(() => first.kill9());
    const accepted = await post(`${first.url}/events`, acrPush('v1'), {
      Authorization: `Bearer ${TOKEN}`,
      traceparent: sender.traceparent,
      tracestate: sender.tracestate,
    });
    expect(accepted.status, JSON.stringify(accepted.data)).to.equal(202);
    const eventId = accepted.data.events[0].id as string;
    await waitFor('a refused attempt before the restart', () => broker.requests.length >= 1);
    expect(await first.terminate()).to.equal(0);
    const refusedAttempts = broker.requests.length;

    // A new process on the same store delivers it once the broker is back.
    broker.respondWith(undefined);
    const second = await GatewayProcess.start(yaml, { dir, env: exportTo(receiver) });
    cleanup.push(() => second.kill9());
    await waitFor('the delivery after the restart', () => broker.received.length === 1);
    expect(await second.terminate()).to.equal(0);

    const inbound = receiver.spans.find(
      (s) => s.kind === SPAN_KIND.server && (s.attributes['url.path'] ?? s.attributes['http.target']) === '/events',
    );
    expect(inbound, names(receiver.spans)).to.not.equal(undefined);
    expect(inbound!.traceId).to.equal(sender.traceId);
    expect(inbound!.parentSpanId).to.equal(sender.spanId);
    expect(inbound!.service).to.equal('registry-gateway');
    const inTrace = receiver.spans.filter((s) => s.traceId === sender.traceId);
    expect(inTrace.map((s) => s.name)).to.include.members(['parse acr', 'store commit']);
    const commit = inTrace.find((s) => s.name === 'store commit')!;

    const sends = receiver.spans.filter((s) => s.name === 'send knative');
    expect(sends.length, names(receiver.spans)).to.be.greaterThan(refusedAttempts - 1);
    for (const send of sends) {
      expect(send.traceId).to.equal(sender.traceId);
      expect(send.kind).to.equal(SPAN_KIND.client);
      expect(send.parentSpanId).to.equal(commit.spanId);
      expect(send.links).to.deep.equal([{ traceId: sender.traceId, spanId: commit.spanId }]);
      expect(send.attributes).to.deep.include({
        'cloudevents.event_id': eventId,
        'cloudevents.event_source': 'brigade.sh/acr',
        'cloudevents.event_type': 'push',
        'messaging.operation.name': 'send',
        'messaging.destination.name': 'knative',
      });
    }

    // The CloudEvent carries where the event started, the same on every attempt; the HTTP
    // header carries the hop, a span of the attempt that sent it.
    const events = broker.requests.map((r) => r.event!);
    expect(events).to.have.length(refusedAttempts + 1);
    for (const event of events) {
      expect(event.attributes.traceparent).to.equal(`00-${sender.traceId}-${commit.spanId}-01`);
      expect(event.attributes.tracestate).to.equal(sender.tracestate);
    }
    const delivered = broker.received[0];
    expect(traceIdOf(delivered.attributes.traceparent)).to.equal(sender.traceId);
    const hop = spanIdOf(delivered.headers.traceparent);
    expect(traceIdOf(delivered.headers.traceparent)).to.equal(sender.traceId);
    const hopSpan = receiver.spans.find((s) => s.spanId === hop);
    expect(hopSpan, 'the HTTP client span of the delivering request').to.not.equal(undefined);
    expect(sends.map((s) => s.spanId)).to.include(hopSpan!.parentSpanId);
  });

  it('puts the hop traceparent header on requests to Brigade and to a webhook endpoint (enabled in the values file)', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook = await FakeWebhookReceiver.start(secret);
    cleanup.push(() => hook.close());
    const yaml = config(
      `  brigade: {enabled: true, apiAddress: "${api.address}", apiToken: ${BRIGADE_TOKEN}}
  webhook:
    enabled: true
    endpoints:
      - {name: ci, url: "${hook.url}", secretFrom: {env: HOOK_SECRET}, format: cloudevent, mode: binary}`,
      'tracing: {enabled: true}',
    );
    // No OTLP endpoint in the environment: the values file alone turns tracing on (the spans go
    // to the default endpoint, where nothing listens; failed exports must change nothing).
    const gw = await GatewayProcess.start(yaml, { env: { HOOK_SECRET: secret } });
    cleanup.push(() => gw.kill9());
    const sender = senderContext();
    const accepted = await post(`${gw.url}/events`, acrPush('v2'), {
      Authorization: `Bearer ${TOKEN}`,
      traceparent: sender.traceparent,
    });
    expect(accepted.status).to.equal(202);
    await waitFor('both targets to get it', () => api.createdEvents.length === 1 && hook.received.length === 1);

    const brigadeHeader = api.received[0].traceparent;
    const hookHeader = hook.received[0].headers.traceparent;
    expect(traceIdOf(brigadeHeader), String(brigadeHeader)).to.equal(sender.traceId);
    expect(traceIdOf(hookHeader), String(hookHeader)).to.equal(sender.traceId);
    // Each hop is a span of its own; the webhook's CloudEvent names where the event started.
    expect(spanIdOf(brigadeHeader)).to.not.equal(spanIdOf(hookHeader));
    const ceTraceparent = hook.received[0].headers['ce-traceparent'];
    expect(traceIdOf(ceTraceparent)).to.equal(sender.traceId);
    expect(spanIdOf(ceTraceparent)).to.not.equal(spanIdOf(hookHeader));
  });

  it('with tracing off exports nothing and adds no trace context, even with an endpoint set', async () => {
    const receiver = await startReceiver();
    const broker = await FakeKnativeBroker.start();
    cleanup.push(() => broker.close());
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const yaml = config(
      `  knative: {enabled: true, brokerURL: "${broker.url}", mode: binary}
  brigade: {enabled: true, apiAddress: "${api.address}", apiToken: ${BRIGADE_TOKEN}}`,
    );
    const gw = await GatewayProcess.start(yaml, { env: { ...exportTo(receiver), OTEL_SDK_DISABLED: 'true' } });
    cleanup.push(() => gw.kill9());
    const sender = senderContext();
    const accepted = await post(`${gw.url}/events`, acrPush('v3'), {
      Authorization: `Bearer ${TOKEN}`,
      traceparent: sender.traceparent,
    });
    expect(accepted.status).to.equal(202);
    await waitFor('both deliveries', () => broker.received.length === 1 && api.createdEvents.length === 1);
    // SIGTERM is where a running SDK would flush what it holds: after it, nothing can still come.
    expect(await gw.terminate()).to.equal(0);

    expect(receiver.requests).to.deep.equal([]);
    const [event] = broker.received;
    expect(event.attributes).to.not.have.property('traceparent');
    expect(event.headers).to.not.have.property('traceparent');
    expect(api.received[0].traceparent).to.equal(undefined);
  });
});

function names(spans: readonly ExportedSpan[]): string {
  return `spans: ${spans.map((s) => `${s.name}(${s.kind})`).join(', ')}`;
}
