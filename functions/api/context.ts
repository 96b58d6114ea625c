import { monotonicFactory } from 'ulid';
import type { TaskStopper } from '../dispatch/executors.ts';
import type { DispatchQueue } from '../dispatch/queue.ts';
import { JobService } from '../jobs/service.ts';
import type { JobStore } from '../jobs/store.ts';
import { type CommandSettings, DEFAULT_COMMAND_SETTINGS } from './commands.ts';
import type { HttpRequest, HttpResponse } from './http.ts';

/** What an operation needs: passed in, so tests and the local stack supply their own. */
export interface ApiContext {
  readonly store: JobStore;
  /** Writes that owe a managed job its dispatch hint, and the hints; without hints, managed jobs are off. */
  readonly jobs: JobService;
  /** Stops the Fargate task of a cancelled run; absent where managed jobs do not run on Fargate. */
  readonly stopTask?: TaskStopper;
  /** What managed jobs may run, and their default timeout. */
  readonly commands: CommandSettings;
  readonly now: () => number;
  /** A new, sortable job id. */
  readonly newId: () => string;
  /**
   * The API's OpenAPI document as JSON text, for `GET /openapi.json`: read from the file the build
   * wrote on Lambda, generated in the local server. Without it that route answers 404.
   */
  readonly openapi?: () => Promise<string>;
}

export type Operation = (req: HttpRequest, ctx: ApiContext) => Promise<HttpResponse>;

/** Operations keyed by route key (`METHOD /path`). */
export type Operations = Record<string, Operation>;

/** A context over an existing store: what the entry points (Lambda, the local stack) and tests build. */
export function contextFor(
  store: JobStore,
  options: {
    now?: () => number;
    dispatch?: DispatchQueue;
    stopTask?: TaskStopper;
    commands?: CommandSettings;
    openapi?: () => Promise<string>;
  } = {},
): ApiContext {
  const now = options.now ?? Date.now;
  return {
    store,
    jobs: new JobService(store, options.dispatch, now),
    stopTask: options.stopTask,
    commands: options.commands ?? DEFAULT_COMMAND_SETTINGS,
    now,
    newId: monotonicFactory(),
    openapi: options.openapi,
  };
}
