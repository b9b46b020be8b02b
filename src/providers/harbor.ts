import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { derivedId } from './derived-id';
import { asObject, Fields } from './fields';
import { fromUnixSeconds, isDigest } from './identifiers';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** Harbor "Default" payload `type`: 2.x names, then the 1.9/1.10 camelCase ones (docs/registries.md, Event vocabulary). */
const DEFAULT_TYPES: ReadonlyMap<string, EventType> = new Map([
  ['PUSH_ARTIFACT', 'push'],
  ['PULL_ARTIFACT', 'pull'],
  ['DELETE_ARTIFACT', 'delete'],
  ['UPLOAD_CHART', 'chart_push'],
  ['DELETE_CHART', 'chart_delete'],
  ['DOWNLOAD_CHART', 'chart_pull'],
  ['SCANNING_COMPLETED', 'scan_completed'],
  ['SCANNING_FAILED', 'scan_failed'],
  ['SCANNING_STOPPED', 'scan_stopped'],
  ['QUOTA_EXCEED', 'quota_exceeded'],
  ['QUOTA_WARNING', 'quota_warning'],
  ['REPLICATION', 'replication'],
  ['TAG_RETENTION', 'tag_retention'],
  ['pushImage', 'push'],
  ['pullImage', 'pull'],
  ['deleteImage', 'delete'],
  ['uploadChart', 'chart_push'],
  ['deleteChart', 'chart_delete'],
  ['downloadChart', 'chart_pull'],
  ['scanningCompleted', 'scan_completed'],
  ['scanningFailed', 'scan_failed'],
  ['projectQuota', 'quota_exceeded'],
]);

/** Harbor "CloudEvents" payload `type` (v2.8+, where chart events no longer exist). */
const CLOUDEVENT_TYPES: ReadonlyMap<string, EventType> = new Map([
  ['harbor.artifact.pushed', 'push'],
  ['harbor.artifact.pulled', 'pull'],
  ['harbor.artifact.deleted', 'delete'],
  ['harbor.scan.completed', 'scan_completed'],
  ['harbor.scan.failed', 'scan_failed'],
  ['harbor.scan.stopped', 'scan_stopped'],
  ['harbor.quota.exceeded', 'quota_exceeded'],
  ['harbor.quota.warned', 'quota_warning'],
  ['harbor.replication.status.changed', 'replication'],
  ['harbor.tag_retention.finished', 'tag_retention'],
]);

/**
 * Quota, replication and retention events are project- or policy-level and go out with whatever
 * they carry. Every other type is about particular artifacts: Harbor always names them, so such
 * an event without a resource or a repository is broken rather than partial.
 */
const POLICY_TYPES: ReadonlySet<EventType> = new Set([
  'quota_exceeded',
  'quota_warning',
  'replication',
  'tag_retention',
]);

const CLOUDEVENTS_PREFIX = 'harbor.';
const CLOUDEVENTS_MEDIA_TYPE = 'application/cloudevents+json';

/** The CloudEvents format (v2.8+) is told from the Default one by `specversion`. */
function isCloudEvent(body: Record<string, unknown> | undefined): boolean {
  return body !== undefined && 'specversion' in body;
}

/** One Harbor notification, whichever of the two formats it came in. */
interface HarborEnvelope {
  rawType: string;
  /** Undefined only when `type` is missing, which is then the error reported. */
  type: EventType | undefined;
  /** CloudEvents `id`; the Default format carries none. */
  id?: string;
  time?: string;
  /** Default `occur_at` as sent: part of the derived id. */
  occurAt?: number;
  operator?: string;
  data: Fields | undefined;
}

/** What one resource (or, for resource-less events, the event itself) contributes. */
interface Subject {
  digest?: string;
  tag?: string;
  /** `tag` and `digest` as the payload spells them, for the derived id. */
  rawTag?: string;
  rawDigest?: string;
  host?: string;
  hostField: string;
}

/**
 * Harbor's webhook in both of its formats: "Default" (`type`, `occur_at`, `event_data`; the only
 * one before v2.8, with 1.x camelCase type names before v2.0) and "CloudEvents" (v2.8+, the
 * whole event in the body, `data` shaped like `event_data`).
 */
export class HarborParser implements RegistryProvider {
  readonly name = 'harbor';
  readonly title = 'Harbor';
  readonly defaultSource = 'brigade.sh/harbor';
  readonly mediaTypes = ['application/json', CLOUDEVENTS_MEDIA_TYPE];

  sendsAs(body: unknown): string {
    return isCloudEvent(asObject(body)) ? CLOUDEVENTS_MEDIA_TYPE : 'application/json';
  }

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    if (body === undefined || typeof body.type !== 'string') return false;
    if (isCloudEvent(body)) return body.type.startsWith(CLOUDEVENTS_PREFIX);
    return asObject(body.event_data) !== undefined;
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError(
        'body must be a JSON object: a Harbor webhook has "type" and "event_data" (Default ' +
          'format) or "specversion", "type" and "data" (CloudEvents format)',
      );
    }
    const root = new Fields(body);
    const envelope = isCloudEvent(body) ? readCloudEvent(root) : readDefault(root);
    if ('ignored' in envelope) return { kind: 'ignored', reason: envelope.ignored };
    const { type, data } = envelope;
    if (type === undefined) throw new PayloadError([...root.errors]);

    const aboutArtifacts = !POLICY_TYPES.has(type);
    const repository = data?.object('repository', aboutArtifacts);
    const repo = repository?.repository('repo_full_name', aboutArtifacts);
    const listed = data?.raw('resources') ?? [];
    const resources = data?.objects('resources') ?? [];
    if (data && aboutArtifacts && Array.isArray(listed) && listed.length === 0) {
      data.fail(`${data.path('resources')} must list the artifact the event is about`);
    }
    const policyKey = data?.has('replication') ? 'replication' : 'retention';
    const policy = data?.object(policyKey);
    const hostname = policy?.string('harbor_hostname');
    const subjects: Subject[] =
      resources.length > 0
        ? resources.map(readResource)
        : [{ hostField: policy?.path('harbor_hostname') ?? data?.path('resources') ?? 'event_data' }];
    root.check();

    const time =
      envelope.time ?? (envelope.occurAt !== undefined ? fromUnixSeconds(envelope.occurAt) : new Date().toISOString());
    // Without a repository (replication, retention) the policy block is what tells two
    // events of the same second apart, so it stands in for the repository in the derived id.
    const idSubject = repository?.raw('repo_full_name') ?? data?.raw(policyKey) ?? null;
    const events = subjects.map((subject, index): RegistryEvent => {
      const [host, hostField] =
        subject.host === undefined && hostname !== undefined && policy
          ? [hostname, policy.path('harbor_hostname')]
          : [subject.host, subject.hostField];
      const event: RegistryEvent = {
        id: eventId(envelope, subject, idSubject, index, subjects.length),
        provider: this.name,
        source: context.source,
        type,
        registry: context.registry.resolve(host, hostField),
        time,
        payload: request.body,
      };
      if (repo !== undefined) event.repo = repo;
      if (subject.tag !== undefined) event.tag = subject.tag;
      if (subject.digest !== undefined) event.digest = subject.digest;
      return event;
    });
    return { kind: 'events', events };
  }
}

function readDefault(root: Fields): HarborEnvelope | { ignored: string } {
  const rawType = root.requiredString('type');
  const type = DEFAULT_TYPES.get(rawType);
  if (rawType && !type) {
    return { ignored: `Harbor event type ${JSON.stringify(rawType)} is not one the gateway forwards` };
  }
  const occurAt = root.number('occur_at');
  if (occurAt !== undefined && !Number.isFinite(new Date(occurAt * 1000).getTime())) {
    root.fail(`${root.path('occur_at')} ${occurAt} is not a time in unix seconds`);
  }
  return {
    rawType,
    type,
    occurAt,
    operator: root.string('operator'),
    data: root.object('event_data', true),
  };
}

function readCloudEvent(root: Fields): HarborEnvelope | { ignored: string } {
  const rawType = root.requiredString('type');
  const type = CLOUDEVENT_TYPES.get(rawType);
  if (rawType && !type) {
    return {
      ignored: `Harbor CloudEvent type ${JSON.stringify(rawType)} is not one the gateway forwards`,
    };
  }
  const specversion = root.requiredString('specversion');
  if (specversion && specversion !== '1.0') {
    root.fail(
      `${root.path('specversion')} ${JSON.stringify(specversion)} is not a CloudEvents version ` +
        'this gateway reads (1.0)',
    );
  }
  return {
    rawType,
    type,
    id: root.requiredString('id'),
    time: root.timestamp('time'),
    operator: root.string('operator'),
    data: root.object('data', true),
  };
}

function readResource(resource: Fields): Subject {
  const rawDigest = resource.string('digest');
  const rawTag = resource.string('tag');
  // Harbor puts the digest in `tag` for untagged artifacts (pushed by replication or proxy
  // cache, pulled by digest): that is not a tag, and it is the digest when `digest` is absent.
  const tagIsDigest = rawTag !== undefined && (rawTag === rawDigest || isDigest(rawTag));
  const digest = resource.digest('digest') ?? (tagIsDigest && rawDigest === undefined ? rawTag : undefined);
  const tag = tagIsDigest ? undefined : resource.tag('tag');
  const url = resource.string('resource_url');
  const subject: Subject = {
    rawDigest,
    rawTag,
    host: url === undefined ? undefined : hostOfResourceUrl(url),
    hostField: `host of ${resource.path('resource_url')}`,
  };
  if (digest !== undefined) subject.digest = digest;
  if (tag !== undefined) subject.tag = tag;
  return subject;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The registry host in a `resource_url`: image references (`harbor.example.com:8443/lib/app:v1`)
 * follow Docker's rule, where the first path component is a host only if it has a `.`, a `:`
 * or an upper-case letter, or is `localhost` (`library/app:v1` and a bare `app:latest` name no
 * host); chart URLs (`http://harbor.example.com/chartrepo/...`) carry a scheme, after which the
 * host always comes.
 */
export function hostOfResourceUrl(url: string): string | undefined {
  const scheme = URL_SCHEME.exec(url);
  if (scheme) {
    const host = url.slice(scheme[0].length).split(/[/?#]/, 1)[0];
    return host === '' ? undefined : host;
  }
  const slash = url.indexOf('/');
  if (slash < 0) return undefined;
  const first = url.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
  return isHost ? first : undefined;
}

/**
 * CloudEvents: the event's `id`, with `-r<index>` appended when it lists several resources, so
 * each emitted event has its own id and a redelivery gives the same ones.
 *
 * Default: Harbor sends no id, and a retry of the same notification resends the same body, so
 * the id is derived from what identifies the notification: `harbor-` and the first 32 hex
 * digits of the SHA-256 of the canonical JSON (sorted keys, no spaces) of
 * `[type, occur_at, repository, digest, tag, operator]`, each as the payload spells it and null
 * when absent or empty. `repository` is `repo_full_name`, or for events without one the whole
 * `replication`/`retention` block. Two resources of one notification differ in digest or tag.
 */
function eventId(envelope: HarborEnvelope, subject: Subject, idSubject: unknown, index: number, count: number): string {
  if (envelope.id !== undefined) return count > 1 ? `${envelope.id}-r${index}` : envelope.id;
  const identity = [
    envelope.rawType,
    envelope.occurAt ?? null,
    idSubject,
    subject.rawDigest ?? null,
    subject.rawTag ?? null,
    envelope.operator ?? null,
  ];
  return derivedId('harbor', identity);
}
