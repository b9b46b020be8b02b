import type { RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { derivedId } from './derived-id';
import { asObject, Fields } from './fields';
import { fromUnixSeconds } from './identifiers';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/**
 * Docker Hub's repository webhook: one push per request (`push_data`, `repository`). It carries
 * a `callback_url` the receiver could call to report success; the gateway never calls it, nor
 * any other URL a payload names, since a URL taken from a request is an open door to
 * server-side requests (and Docker Hub no longer reads the callback).
 */
export class DockerHubParser implements RegistryProvider {
  readonly name = 'dockerhub';
  readonly title = 'Docker Hub';
  readonly defaultSource = 'brigade.sh/dockerhub';
  readonly mediaTypes = ['application/json'];

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return asObject(body?.push_data) !== undefined && typeof asObject(body?.repository)?.repo_name === 'string';
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: a Docker Hub webhook has "push_data" and "repository"');
    }
    const root = new Fields(body);
    const push = root.object('push_data', true);
    const repo = root.object('repository', true)?.repository('repo_name', true);
    const tag = push?.tag('tag');
    const pushedAt = push?.number('pushed_at');
    const pusher = push?.string('pusher');
    if (pushedAt !== undefined && !Number.isFinite(new Date(pushedAt * 1000).getTime())) {
      root.fail(`${root.path('push_data.pushed_at')} ${pushedAt} is not a time in unix seconds`);
    }
    root.check();

    // Docker Hub sends no id. A retry resends the same body; a later push of the same tag has
    // another `pushed_at`, and so another id.
    const identity = [root.raw('repository.repo_name'), push!.raw('tag') ?? null, pushedAt ?? null, pusher ?? null];
    const event: RegistryEvent = {
      id: derivedId('dockerhub', identity),
      provider: this.name,
      source: context.source,
      type: 'push',
      registry: context.registry.resolve('docker.io', 'docker.io'),
      repo,
      time: pushedAt !== undefined ? fromUnixSeconds(pushedAt) : new Date().toISOString(),
      payload: request.body,
    };
    if (tag !== undefined) event.tag = tag;
    return { kind: 'events', events: [event] };
  }
}
