/**
 * Every route group's handler over one context: the local server runs them all in one process,
 * as API Gateway runs one function per group on AWS.
 */
import type { ApiContext, Operations } from './context.ts';
import { type ApiHandler, createApiHandler } from './handler.ts';
import { jobOperations, managedGroupOperations } from './operations.ts';
import { relayOperations } from './relay-operations.ts';
import type { RouteGroup } from './routes.ts';

/** Every group's operations. */
export const allOperations = (): Record<RouteGroup, Operations> => ({
  relay: relayOperations,
  jobs: jobOperations(),
  managed: managedGroupOperations(),
});

/** A handler per route group, and the fallback, all over `context`. */
export function apiHandlers(context: () => ApiContext): Record<RouteGroup | 'fallback', ApiHandler> {
  const operations = allOperations();
  return {
    relay: createApiHandler('relay', operations.relay, context),
    jobs: createApiHandler('jobs', operations.jobs, context),
    managed: createApiHandler('managed', operations.managed, context),
    fallback: createApiHandler('fallback', {}, context),
  };
}
