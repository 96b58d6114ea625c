import { monotonicFactory } from 'ulid';
import { documentClient } from '../core/clients.ts';
import { readConfig } from '../core/config.ts';
import { JobStore } from '../jobs/store.ts';
import type { HttpRequest, HttpResponse } from './http.ts';

/** What an operation needs: passed in, so tests and the local stack supply their own. */
export interface ApiContext {
  readonly store: JobStore;
  readonly now: () => number;
  /** A new, sortable job id. */
  readonly newId: () => string;
}

export type Operation = (req: HttpRequest, ctx: ApiContext) => Promise<HttpResponse>;

/** Operations keyed by route key (`METHOD /path`). */
export type Operations = Record<string, Operation>;

let shared: ApiContext | undefined;

/** The process-wide context, built once at cold start from the environment. */
export function contextFromEnv(): ApiContext {
  if (!shared) {
    const config = readConfig();
    const store = new JobStore(documentClient(config.dynamodbEndpoint), config);
    shared = { store, now: Date.now, newId: monotonicFactory() };
  }
  return shared;
}

/** A context over an existing store (tests, local tools). */
export function contextFor(store: JobStore, now: () => number = Date.now): ApiContext {
  return { store, now, newId: monotonicFactory() };
}
