import path from 'node:path';
import { Eta } from 'eta';
import type { Response } from 'express';

/**
 * Templates and assets sit beside this module, in src/ and (copied by the build) in dist/.
 * `<%= %>` escapes every value for HTML text and quoted attributes; the templates use the raw
 * form `<%~ %>` only for the output of `include` and `layout`, which is escaped HTML already.
 */
export const VIEWS_DIR = path.join(__dirname, 'views');
export const ASSETS_DIR = path.join(__dirname, 'assets');

const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, autoTrim: false, cache: true });

/** Helpers every template may call, as `it.h`. */
export const helpers = {
  time(ms: number | undefined): string {
    return ms === undefined
      ? ''
      : new Date(ms)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z');
  },
  json(value: unknown): string {
    return JSON.stringify(value, null, 2) ?? '';
  },
  /** A console URL with query parameters, empty ones left out. */
  url(base: string, query: Record<string, string | number | undefined>): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') params.set(key, String(value));
    }
    const text = params.toString();
    return text ? `${base}?${text}` : base;
  },
};

export function render(res: Response, template: string, data: Record<string, unknown>, status = 200): void {
  res
    .status(status)
    .type('html')
    .send(eta.render(template, { ...data, h: helpers }));
}
