import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { kindOfManifest } from './artifact';
import { asObject, describe, Fields } from './fields';
import { isTag } from './identifiers';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/** What an event is, or why it is not forwarded, from its detail-type and detail. */
type Classified = { type: EventType } | { ignored: string };

/**
 * Amazon ECR events from EventBridge, posted by an API destination: the EventBridge envelope
 * (`id`, `detail-type`, `source: aws.ecr`, `account`, `region`, `time`) around ECR's `detail`.
 */
export class EcrParser implements RegistryProvider {
  readonly name = 'ecr';
  readonly title = 'Amazon ECR';
  readonly defaultSource = 'brigade.sh/ecr';
  readonly mediaTypes = ['application/json'];

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return body?.source === 'aws.ecr' && typeof body['detail-type'] === 'string';
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: an EventBridge event with "detail-type" and "detail"');
    }
    const root = new Fields(body);
    const detailType = root.requiredString('detail-type');
    const source = root.requiredString('source');
    const detail = root.object('detail', true);
    root.check();
    if (source !== 'aws.ecr') {
      return { kind: 'ignored', reason: `EventBridge source ${JSON.stringify(source)} is not aws.ecr` };
    }
    const classified = classify(detailType, detail!);
    if ('ignored' in classified) return { kind: 'ignored', reason: classified.ignored };

    const id = root.requiredString('id');
    const time = root.timestamp('time');
    const host = registryHost(root);
    const repo = detail!.repository('repository-name', true);
    const digest = detail!.digest('image-digest');
    const tags = imageTags(detail!);
    const kind = kindOfManifest(detail!.string('manifest-media-type'), detail!.string('artifact-media-type'));
    root.check();

    const registry = context.registry.resolve(host, 'account and region');
    const make = (tag: string | undefined, index: number): RegistryEvent => {
      const event: RegistryEvent = {
        id: tags.length > 1 ? `${id}-t${index}` : id,
        provider: this.name,
        source: context.source,
        type: classified.type,
        registry,
        repo,
        time: time ?? new Date().toISOString(),
        payload: request.body,
      };
      if (tag !== undefined) event.tag = tag;
      if (digest !== undefined) event.digest = digest;
      if (kind !== undefined) event.kind = kind;
      return event;
    };
    const events = tags.length === 0 ? [make(undefined, 0)] : tags.map(make);
    return { kind: 'events', events };
  }
}

/**
 * Image pushes and deletes, finished basic scans, replications into this registry and images
 * a pull-through cache rule brought in (a push into the cache repository). Failed actions,
 * storage-class changes (archive, restore), referrer actions and scan settings changes name no
 * new image state and are acknowledged without an event.
 */
function classify(detailType: string, detail: Fields): Classified {
  switch (detailType) {
    case 'ECR Image Action': {
      const action = detail.string('action-type');
      const result = detail.string('result');
      const type = action === 'PUSH' ? 'push' : action === 'DELETE' ? 'delete' : undefined;
      if (!type) return { ignored: `ECR image action ${JSON.stringify(action ?? '')} is not one the gateway forwards` };
      return result === 'SUCCESS'
        ? { type }
        : { ignored: `ECR image ${action} with result ${JSON.stringify(result ?? '')}` };
    }
    case 'ECR Image Scan': {
      const status = detail.string('scan-status');
      if (status === 'COMPLETE') return { type: 'scan_completed' };
      if (status === 'FAILED') return { type: 'scan_failed' };
      return { ignored: `ECR image scan with status ${JSON.stringify(status ?? '')}` };
    }
    case 'ECR Replication Action': {
      const result = detail.string('result');
      return result === 'SUCCESS'
        ? { type: 'replication' }
        : { ignored: `ECR replication with result ${JSON.stringify(result ?? '')}` };
    }
    case 'ECR Pull Through Cache Action': {
      const status = detail.string('sync-status');
      return status === 'SUCCESS'
        ? { type: 'push' }
        : { ignored: `ECR pull-through cache sync with status ${JSON.stringify(status ?? '')}` };
    }
    default:
      return { ignored: `ECR event ${JSON.stringify(detailType)} is not one the gateway forwards` };
  }
}

/** `<account>.dkr.ecr.<region>.amazonaws.com`, as docker clients name the registry (`.com.cn` in China). */
function registryHost(root: Fields): string | undefined {
  const account = root.requiredString('account');
  const region = root.requiredString('region');
  if (account && !ACCOUNT.test(account))
    root.fail(`${root.path('account')} ${JSON.stringify(account)} is not a 12-digit AWS account id`);
  if (region && !REGION.test(region))
    root.fail(`${root.path('region')} ${JSON.stringify(region)} is not an AWS region`);
  if (!ACCOUNT.test(account) || !REGION.test(region)) return undefined;
  return `${account}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** `image-tag` (actions) or `image-tags` (scans); empty for untagged images. */
function imageTags(detail: Fields): string[] {
  const single = detail.tag('image-tag');
  if (single !== undefined) return [single];
  const list = detail.raw('image-tags');
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    detail.fail(`${detail.path('image-tags')} must be a list of tags, got ${describe(list)}`);
    return [];
  }
  return list.filter((tag, index): tag is string => {
    if (typeof tag === 'string' && isTag(tag)) return true;
    detail.fail(`${detail.path('image-tags')}[${index}] ${JSON.stringify(tag) ?? 'undefined'} is not a tag`);
    return false;
  });
}
