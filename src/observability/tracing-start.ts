import { startTracing } from './tracing-sdk';
import { tracingWanted } from './tracing-wanted';

/**
 * Imported first by the CLI: the instrumentations patch http, express and pg only if they are
 * registered before those modules load. With tracing off this loads nothing more.
 */
if (tracingWanted(process.argv.slice(2), process.env)) startTracing();
