import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach } from 'vitest';
import { apiHandlers } from '../../functions/api/all-operations.ts';
import type { CommandSettings } from '../../functions/api/commands.ts';
import { contextFor } from '../../functions/api/context.ts';
import { openApiDocument } from '../../functions/api/openapi.ts';
import { openApiGenerated } from '../../functions/api/openapi-source.ts';
import { awsClientConfig, type ClientHook, documentClient } from '../../functions/core/clients.ts';
import { dashboardPages } from '../../functions/dashboard/serve.ts';
import type { TaskStopper } from '../../functions/dispatch/executors.ts';
import type { DispatchQueue } from '../../functions/dispatch/queue.ts';
import { JobStore } from '../../functions/jobs/store.ts';
import { type HttpAdapter, startHttpAdapter } from '../../functions/local/http-adapter.ts';
import { onClient } from './faults.ts';
import { startTestSqs } from './sqs.ts';
import { freshStore, TestClock, type TestStore } from './store.ts';

export interface TestApi extends TestStore {
  readonly url: string;
  readonly adapter: HttpAdapter;
  /** fetch against the API: `api.fetch('/v1/queues/q/jobs')`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST/PUT/PATCH a JSON body. */
  send(method: string, path: string, body: unknown): Promise<Response>;
  close(): Promise<void>;
  /**
   * Closes the server and deletes the table, so suites that start an API per test do not leave
   * hundreds of tables behind in the DynamoDB Local every test file shares.
   */
  dispose(): Promise<void>;
}

export interface TestApiOptions {
  readonly clock?: () => number;
  readonly shards?: number;
  readonly token?: string;
  /** The address the adapter binds. @default '127.0.0.1' */
  readonly host?: string;
  /** Host names the adapter answers to besides its own; none unless given (the environment is not read). */
  readonly allowedHosts?: readonly string[];
  /** Receives the task stops the API asks for (a cancelled run on Fargate). */
  readonly stopTask?: TaskStopper;
  /**
   * Where managed jobs are dispatched: a queue, or `'sqs'` for dispatch queues of their own in an
   * embedded SQS (fauxqs) that lives as long as the API. Without it the managed routes answer 404.
   */
  readonly dispatch?: DispatchQueue | 'sqs';
  /** The default command timeout and allow-list the managed routes apply. */
  readonly commands?: CommandSettings;
  /**
   * Faults injected into the calls the handlers' store makes (see faults.ts). The handlers then
   * get a DynamoDB client of their own; `store` and `db` stay healthy, to arrange and inspect with.
   */
  readonly faults?: ClientHook;
  /** Serve the web dashboard too, as `relay dev` does (from dist/dashboard/, which `npm run build` writes). */
  readonly dashboard?: boolean;
}

/**
 * The real handlers behind the local node:http adapter, over a fresh table: the same path a
 * request takes in `relay dev`.
 */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const fresh = await freshStore({ clock: options.clock, shards: options.shards });
  let faulty: DynamoDBDocumentClient | undefined;
  if (options.faults) {
    faulty = documentClient(fresh.config.dynamodbEndpoint);
    onClient(faulty, options.faults);
  }
  const served = faulty ? new JobStore(faulty, fresh.config, options.clock) : fresh.store;
  const sqs = options.dispatch === 'sqs' ? await startTestSqs() : undefined;
  const dispatch = sqs ? await sqs.dispatchQueue() : (options.dispatch as DispatchQueue | undefined);
  // The document as `relay dev` serves it: generated in process.
  const openapi = openApiGenerated(openApiDocument);
  const context = () =>
    contextFor(served, {
      now: options.clock,
      dispatch,
      stopTask: options.stopTask,
      commands: options.commands,
      openapi,
    });
  const adapter = await startHttpAdapter({
    host: options.host,
    port: 0,
    token: options.token,
    allowedHosts: options.allowedHosts ?? [],
    files: options.dashboard ? dashboardPages() : undefined,
    handlers: apiHandlers(context),
  });
  const doFetch = (path: string, init?: RequestInit) => fetch(`${adapter.url}${path}`, init);
  let disposed = false;
  return {
    ...fresh,
    url: adapter.url,
    adapter,
    fetch: doFetch,
    send: (method, path, body) =>
      doFetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    close: () => adapter.close(),
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await adapter.close();
      faulty?.destroy();
      await sqs?.stop();
      const raw = new DynamoDBClient(awsClientConfig(fresh.config.dynamodbEndpoint));
      try {
        await raw.send(new DeleteTableCommand({ TableName: fresh.config.tableName }));
      } finally {
        raw.destroy();
      }
    },
  };
}

/** An API and its clock, made afresh for each test. */
export interface ApiPerTest {
  readonly api: TestApi;
  readonly clock: TestClock;
}

/**
 * A fresh API (`startTestApi`) on a test clock before each test of the file, or of the `describe`
 * it is called in, disposed after it. Its fields are read inside tests and hooks.
 */
export function apiPerTest(options: Omit<TestApiOptions, 'clock'> = {}): ApiPerTest {
  let current: ApiPerTest | undefined;
  beforeEach(async () => {
    const clock = new TestClock();
    current = { clock, api: await startTestApi({ ...options, clock: clock.read }) };
  });
  afterEach(async () => {
    await current?.api.dispose();
    current = undefined;
  });
  const now = (): ApiPerTest => {
    if (!current) throw new Error('the test API is read outside a test');
    return current;
  };
  return {
    get api() {
      return now().api;
    },
    get clock() {
      return now().clock;
    },
  };
}

/** Every item in the test's table: what a request wrote, whatever it was. */
export async function tableItems(api: Pick<TestStore, 'db' | 'config'>): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await api.db.send(
      new ScanCommand({ TableName: api.config.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** A run id no job has: v2 routes need a UUID in the path. */
export const SOME_RUN_ID = '00000000-0000-4000-8000-000000000000';

const v1Job = { id: 'x', queue: 'q', timeout: 30, payload: { n: 1 } };
const v2Job = { queue: 'q', id: 'x', timeout: 30, max_retries: 3, payload: { n: 1 } };

/** What a valid request to a route adds to its path: a query string and a JSON body. */
export interface RouteExample {
  readonly query?: string;
  readonly body?: unknown;
}

/**
 * A valid request for every route (by route key), naming queue `q`, job `x` and `SOME_RUN_ID`.
 * Each one reaches the store, which is what fault and bad-input sweeps over the route table need.
 */
export const ROUTE_EXAMPLES: Readonly<Record<string, RouteExample>> = {
  'GET /health': {},
  'POST /v1/queues/jobs': { body: [v1Job] },
  'PUT /v1/queues/jobs': { body: v1Job },
  'GET /v1/queues/{queue}/jobs': { query: '?num_jobs=1' },
  'HEAD /v1/queues/{queue}/jobs/{id}': {},
  'GET /v1/queues/{queue}/jobs/{id}': {},
  'PATCH /v1/queues/{queue}/jobs/{id}': { body: { step: 1 } },
  'DELETE /v1/queues/{queue}/jobs/{id}': {},
  ...Object.fromEntries(
    ['', '/v1'].flatMap((prefix) => [
      [`POST ${prefix}/enqueue`, { body: v1Job }],
      [`POST ${prefix}/enqueue/batch`, { body: [v1Job] }],
      [`GET ${prefix}/next`, { query: '?queue=q' }],
      [`PATCH ${prefix}/heartbeat`, { query: '?queue=q&job_id=x', body: { step: 1 } }],
      [`DELETE ${prefix}/complete`, { query: '?queue=q&job_id=x' }],
      [`POST ${prefix}/reschedule`, { body: v1Job }],
    ]),
  ),
  'POST /v2/queues/jobs': { query: '?mode=unique', body: [v2Job] },
  'GET /v2/queues/{queue}/jobs': { query: '?num_jobs=1' },
  'HEAD /v2/queues/{queue}/jobs/{id}': {},
  'GET /v2/queues/{queue}/jobs/{id}': {},
  'DELETE /v2/queues/{queue}/jobs/{id}': {},
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': { body: { step: 1 } },
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': { query: '?mode=unique', body: [v2Job] },
  'DELETE /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': {},
  'POST /v1/jobs': { body: { queue: 'q', id: 'x', payload: { n: 1 } } },
  'GET /v1/jobs': { query: '?queue=q&limit=10' },
  'GET /v1/queues': {},
  'GET /v1/queues/{queue}/stats': {},
  'POST /v1/queues/{queue}/pause': {},
  'POST /v1/queues/{queue}/resume': {},
  'GET /v1/queues/{queue}/settings': {},
  'PUT /v1/queues/{queue}/settings': { body: { aging_seconds_per_level: 60 } },
  'GET /v1/queues/{queue}/limits': {},
  'PUT /v1/queues/{queue}/limits': { body: { rate_per_second: 5, burst: 10 } },
  'GET /v1/queues/{queue}/jobs/{id}/status': {},
  'GET /v1/queues/{queue}/jobs/{id}/logs': { query: '?limit=10' },
  'GET /v1/queues/{queue}/jobs/{id}/runs': {},
  'GET /openapi.json': {},
  'POST /v1/queues/{queue}/jobs/{id}/fail': { body: { error: 'boom' } },
  'POST /v1/queues/{queue}/jobs/{id}/cancel': {},
  'POST /v1/queues/{queue}/jobs/{id}/retry': {},
  'POST /v1/queues/{queue}/jobs/bulk': {
    body: { action: 'delete', filter: { status: 'dead' }, dry_run: true },
  },
  'GET /v1/queues/{queue}/dlq': { query: '?limit=10' },
  'POST /v1/queues/{queue}/dlq/requeue': { body: { limit: 10 } },
  'POST /v1/queues/{queue}/dlq/{id}/requeue': {},
  'DELETE /v1/queues/{queue}/dlq/{id}': {},
  'POST /v1/managed/jobs': { body: { queue: 'q', id: 'x', payload: { command: 'echo', args: ['hi'] } } },
  'POST /v1/managed/queues/{queue}/jobs/{id}/retry': {},
  'POST /v1/managed/queues/{queue}/jobs/bulk': { body: { action: 'retry', dry_run: true } },
  'POST /v1/managed/queues/{queue}/dlq/requeue': { body: { limit: 10 } },
  'POST /v1/managed/queues/{queue}/dlq/{id}/requeue': {},
  'POST /v1/schedules': { body: { name: 'x', cron: '* * * * *', job: { queue: 'q', payload: { n: 1 } } } },
  'GET /v1/schedules': {},
  'GET /v1/schedules/{name}': {},
  'PUT /v1/schedules/{name}': { body: { cron: '* * * * *', job: { queue: 'q', payload: { n: 1 } } } },
  'DELETE /v1/schedules/{name}': {},
  'POST /v1/schedules/{name}/pause': {},
  'POST /v1/schedules/{name}/resume': {},
  'POST /v1/schedules/{name}/trigger': {},
  'POST /v1/managed/schedules': {
    body: { name: 'x', cron: '* * * * *', job: { queue: 'q', payload: { command: 'echo' } } },
  },
  'PUT /v1/managed/schedules/{name}': {
    body: { cron: '* * * * *', job: { queue: 'q', payload: { command: 'echo' } } },
  },
  'POST /v1/managed/schedules/{name}/resume': {},
  'POST /v1/managed/schedules/{name}/trigger': {},
};

/** A route's path with its parameters filled in (`q`, `x`, `SOME_RUN_ID` unless given). */
export function examplePath(path: string, params: Record<string, string> = {}): string {
  const values: Record<string, string> = { queue: 'q', id: 'x', name: 'x', run_id: SOME_RUN_ID, ...params };
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? name));
}

/** Sends a route's example request. */
export function sendExample(api: TestApi, route: { method: string; path: string }): Promise<Response> {
  const example = ROUTE_EXAMPLES[`${route.method} ${route.path}`];
  if (!example) throw new Error(`no example for ${route.method} ${route.path}`);
  const path = `${examplePath(route.path)}${example.query ?? ''}`;
  return example.body === undefined
    ? api.fetch(path, { method: route.method })
    : api.send(route.method, path, example.body);
}

/** A response's JSON body, loosely typed: tests assert on its shape. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read whatever JSON the API answered
export async function jsonOf(response: Response | Promise<Response>): Promise<any> {
  return (await response).json();
}
