import Joi from 'joi';
import type { RegistryEvent } from '../model/event';
import { AnnotationRefresh, listInNamespaces, type AnnotationTarget } from './annotation-refresh';
import { FluxReceiver } from './flux-receiver';
import { normalisedRepository } from './image-reference';
import {
  KUBERNETES_CONNECTION_SETTINGS,
  KubernetesClient,
  objectName,
  type KubernetesConnectionSection,
} from './kubernetes-client';
import type { ListedObject } from './kubernetes-objects';
import type { TargetRequest } from './preview';
import { withDefaults, type Emitter, type EmitterDeps, type EmitterPlugin } from './types';
import type { EmitterSectionBase, OwnSettings } from './types';

export type FluxMode = 'kubernetes' | 'receiver';

/** A Flux notification-controller Receiver of type generic-hmac (receiver mode). */
export interface FluxReceiverSettings {
  /** The Receiver's address: the controller's webhook service and the Receiver's status.webhookPath. */
  url: string;
  /** The `token` of the Receiver's secretRef; or FLUX_RECEIVER_TOKEN (the chart's existingSecrets.fluxReceiverToken). */
  token: string;
}

export interface FluxSection extends EmitterSectionBase, KubernetesConnectionSection {
  mode: FluxMode;
  /** Where ImageRepositories are listed (kubernetes mode); empty: every namespace. */
  namespaces: string[];
  debounceSeconds: number;
  receiver: FluxReceiverSettings;
  timeoutSeconds: number;
}

export type FluxSettings = Partial<OwnSettings<FluxSection>>;

/** The annotation `flux reconcile image repository` sets; the controller reconciles when its value changes. */
export const FLUX_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

const IMAGE_REPOSITORY = { group: 'image.toolkit.fluxcd.io', plural: 'imagerepositories', kind: 'ImageRepository' };

const settingsSchema: Joi.StrictSchemaMap<OwnSettings<FluxSection>> = {
  mode: Joi.string().valid('kubernetes', 'receiver').default('kubernetes'),
  namespaces: Joi.array().items(objectName).unique().default([]),
  debounceSeconds: Joi.number().min(0).default(10),
  receiver: Joi.object<FluxReceiverSettings, true>({
    url: Joi.string()
      .uri({ scheme: ['http', 'https'] })
      .allow('')
      .default(''),
    token: Joi.string().allow('').default(''),
  }).default(),
  ...KUBERNETES_CONNECTION_SETTINGS,
  timeoutSeconds: Joi.number().positive().default(10),
};

/** Pushes change an ImageRepository's tag list, and so do deletes. */
const WATCHED_TYPES = new Set(['push', 'delete']);

/** The value to set: the event's time, unless the object already carries it (a replay), then now. */
function requestedAt(event: RegistryEvent, object: ListedObject): string {
  const current = object.metadata.annotations?.[FLUX_REQUESTED_AT];
  return current === event.time ? new Date().toISOString() : event.time;
}

function imageRepositories(namespaces: readonly string[]): AnnotationTarget {
  return {
    name: 'flux',
    kind: IMAGE_REPOSITORY,
    // v1 from Flux 2.6; v1beta2 before it.
    versions: ['v1', 'v1beta2'],
    annotation: FLUX_REQUESTED_AT,
    scope: namespaces.length ? `namespaces ${namespaces.join(', ')}` : 'any namespace',
    candidates: (client, version) => listInNamespaces(client, IMAGE_REPOSITORY, version, namespaces, 'flux'),
    matches: (object, repository) => {
      const image = object.spec?.image;
      return typeof image === 'string' && normalisedRepository(image) === repository;
    },
    value: requestedAt,
  };
}

/**
 * Tells Flux image automation to scan now: sets `reconcile.fluxcd.io/requestedAt` on every
 * ImageRepository whose `spec.image` is the pushed repository (kubernetes mode), or posts the
 * event to a Flux Receiver (receiver mode). docs/targets/flux.md.
 */
export class FluxEmitter implements Emitter {
  readonly name = 'flux';
  private readonly refresh?: AnnotationRefresh;
  private readonly receiver?: FluxReceiver;

  constructor(given: FluxSettings, deps?: Partial<EmitterDeps>, env: NodeJS.ProcessEnv = process.env) {
    const settings = withDefaults(settingsSchema, given);
    if (settings.mode === 'receiver') {
      const { url, token } = settings.receiver;
      if (!url) throw new Error('flux receiver mode needs receiver.url');
      if (!token) throw new Error('flux receiver mode needs receiver.token (or FLUX_RECEIVER_TOKEN)');
      this.receiver = new FluxReceiver(url, token, settings.timeoutSeconds);
    } else {
      this.refresh = new AnnotationRefresh(
        new KubernetesClient(settings, env),
        imageRepositories(settings.namespaces),
        settings.debounceSeconds * 1000,
        deps?.sharedWindows,
        deps?.logger,
      );
    }
  }

  accepts(event: RegistryEvent): boolean {
    return event.repo !== undefined && WATCHED_TYPES.has(event.type);
  }

  deliver(event: RegistryEvent): Promise<void> {
    return this.receiver ? this.receiver.deliver(event) : this.refresh!.deliver(event);
  }

  preview(event: RegistryEvent): TargetRequest[] | Promise<TargetRequest[]> {
    return this.receiver ? this.receiver.preview(event) : this.refresh!.preview(event);
  }

  async close(): Promise<void> {
    this.receiver?.close();
    await this.refresh?.close();
  }
}

export const fluxEmitterPlugin: EmitterPlugin<'flux', FluxSection> = {
  key: 'flux',
  settings: settingsSchema,
  enabledByDefault: false,
  create: (section, deps) => new FluxEmitter(section, deps),
};
