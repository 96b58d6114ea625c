import { contextFor } from '../../functions/api/context.ts';
import { createApiHandler } from '../../functions/api/handler.ts';
import type { JobStore } from '../../functions/jobs/store.ts';
import { type HttpAdapter, startHttpAdapter } from '../../functions/local/http-adapter.ts';
import { freshStore, type TestStore } from './store.ts';

export interface TestApi extends TestStore {
  readonly url: string;
  readonly adapter: HttpAdapter;
  /** fetch against the API: `api.fetch('/v1/queues/q/jobs')`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST/PUT/PATCH a JSON body. */
  send(method: string, path: string, body: unknown): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The real handlers behind the local node:http adapter, over a fresh table: the same path a
 * request takes in `relay dev`.
 */
export async function startTestApi(
  options: { clock?: () => number; shards?: number; token?: string } = {},
): Promise<TestApi> {
  const fresh = await freshStore({ clock: options.clock, shards: options.shards });
  const context = () => contextFor(fresh.store as JobStore, options.clock);
  const adapter = await startHttpAdapter({
    port: 0,
    token: options.token,
    handlers: {
      relay: createApiHandler('relay', context),
      jobs: createApiHandler('jobs', context),
      fallback: createApiHandler('fallback', context),
    },
  });
  const doFetch = (path: string, init?: RequestInit) => fetch(`${adapter.url}${path}`, init);
  return {
    ...fresh,
    url: adapter.url,
    adapter,
    fetch: doFetch,
    send: (method, path, body) =>
      doFetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    close: () => adapter.close(),
  };
}
