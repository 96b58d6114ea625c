/**
 * How every route family answers errors: malformed input (400/415/422/413), unknown routes (404),
 * wrong methods (405 with `Allow`), and store faults injected at the DynamoDB client boundary
 * (429/503 with `Retry-After`, or a generic 500).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ROUTES } from '../functions/api/routes.ts';
import type { ClientCall } from '../functions/core/clients.ts';
import { jsonOf, sendExample, startTestApi, type TestApi, tableItems } from './support/api.ts';
import { awsError, failCalls, throttled } from './support/faults.ts';

const v1Job = { id: 'a', queue: 'q', timeout: 30, payload: 1 };
const v2Job = { queue: 'q', id: 'a', timeout: 30, max_retries: 1, payload: 1 };
const nativeJob = { queue: 'q', id: 'a', payload: 1 };

/** One JSON-reading route of each family, with a valid body and a body of the wrong shape. */
const FAMILIES = [
  { family: 'relay v1', method: 'POST', path: '/v1/queues/jobs', valid: [v1Job], wrong: v1Job, text: true },
  { family: 'seed', method: 'POST', path: '/enqueue', valid: v1Job, wrong: [v1Job], text: true },
  { family: 'seed /v1', method: 'POST', path: '/v1/enqueue', valid: v1Job, wrong: [v1Job], text: true },
  { family: 'relay v2', method: 'POST', path: '/v2/queues/jobs', valid: [v2Job], wrong: v2Job, text: true },
  { family: 'native', method: 'POST', path: '/v1/jobs', valid: nativeJob, wrong: [nativeJob], text: false },
] as const;

let api: TestApi;

afterEach(async () => {
  await api?.dispose();
});

/** The error message of a plain-text (relay) or JSON-envelope (native) error answer. */
async function errorText(res: Response, text: boolean): Promise<string> {
  if (text) {
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    return res.text();
  }
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = await jsonOf(res);
  expect(Object.keys(body.error)).toEqual(['code', 'message']);
  return body.error.message;
}

describe('malformed input', () => {
  beforeEach(async () => {
    api = await startTestApi();
  });

  describe.each(FAMILIES)('on $family ($method $path)', ({ method, path, valid, wrong, text }) => {
    it('answers 400 to malformed JSON, writing nothing', async () => {
      const res = await api.fetch(path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '[{"id": "a",',
      });

      expect(res.status).toBe(400);
      expect(await errorText(res, text)).toMatch(/^Failed to parse the request body as JSON/);
      expect(await tableItems(api)).toEqual([]);
    });

    it('answers 415 to a body that is not declared as JSON', async () => {
      const res = await api.fetch(path, {
        method,
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify(valid),
      });

      expect(res.status).toBe(415);
      expect(await errorText(res, text)).toBe('Expected request with `Content-Type: application/json`');
      expect(await tableItems(api)).toEqual([]);
    });

    it('answers 415 to a body without a content type', async () => {
      const res = await api.fetch(path, { method, body: new TextEncoder().encode(JSON.stringify(valid)) });

      expect(res.status).toBe(415);
      expect(await tableItems(api)).toEqual([]);
    });

    it('answers 422 to valid JSON of the wrong shape', async () => {
      const res = await api.send(method, path, wrong);

      expect(res.status).toBe(422);
      expect(await errorText(res, text)).toMatch(/^Failed to deserialize the JSON body into the target type/);
      expect(await tableItems(api)).toEqual([]);
    });

    it('answers 413 when payload and state exceed 256 KiB', async () => {
      const big = (job: Record<string, unknown>) => ({ ...job, payload: 'p'.repeat(257 * 1024) });
      const body = Array.isArray(valid) ? valid.map(big) : big(valid as Record<string, unknown>);

      const res = await api.send(method, path, body);

      expect(res.status).toBe(413);
      expect(await errorText(res, text)).toContain('the limit is 262144');
      expect(await tableItems(api)).toEqual([]);
    });

    it('answers 413 to a request body over 6 MiB', async () => {
      const res = await api.fetch(path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: 'p'.repeat(6 * 1024 * 1024) }),
      });

      expect(res.status).toBe(413);
      expect(await tableItems(api)).toEqual([]);
    });
  });

  it('answers 400 to a path parameter over 1,024 bytes, on every family', async () => {
    const long = encodeURIComponent('q'.repeat(1025));

    const statuses = await Promise.all(
      [
        `/v1/queues/${long}/jobs`,
        `/v2/queues/${long}/jobs`,
        `/v1/queues/${long}/stats`,
        `/v1/queues/${long}/dlq`,
        `/v1/queues/q/jobs/${long}`,
      ].map(async (path) => (await api.fetch(path)).status),
    );

    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    expect(await tableItems(api)).toEqual([]);
  });

  it('answers the 400 for a long path parameter as a JSON error on native routes', async () => {
    const res = await api.fetch(`/v1/queues/${'q'.repeat(1025)}/stats`);

    expect(res.status).toBe(400);
    expect(await errorText(res, false)).toBe('Invalid URL: `queue` must be at most 1024 bytes');
  });

  it('answers 400 to a malformed query value, as plain text on relay routes and JSON on native ones', async () => {
    const relay = await api.fetch('/v1/queues/q/jobs?num_jobs=lots');
    const native = await api.fetch('/v1/jobs?limit=lots');

    expect([relay.status, native.status]).toEqual([400, 400]);
    expect(await errorText(relay, true)).toMatch(/^Failed to deserialize query string/);
    expect(await errorText(native, false)).toMatch(/^Failed to deserialize query string/);
  });
});

describe('unknown routes and wrong methods', () => {
  beforeEach(async () => {
    api = await startTestApi();
  });

  it.each([
    '/',
    '/nope',
    '/v1',
    '/v3/queues/jobs',
    '/v1/queues/q/jobs/x/y',
    '/v1/queues/q/jobs/',
    '/v1/queues//jobs',
    '/v1/queues/%E0%A4%A/jobs',
  ])('answers 404 as plain text to GET %s', async (path) => {
    const res = await api.fetch(path);

    expect(res.status).toBe(404);
    expect(await errorText(res, true)).toBe('not found');
  });

  it.each([
    ['relay v1', 'DELETE', '/v1/queues/jobs', ['POST', 'PUT']],
    ['relay v1', 'POST', '/v1/queues/q/jobs/x', ['HEAD', 'GET', 'PATCH', 'DELETE']],
    ['seed', 'GET', '/enqueue', ['POST']],
    ['seed /v1', 'POST', '/v1/next', ['GET']],
    [
      'relay v2',
      'POST',
      '/v2/queues/q/jobs/x/run-id/00000000-0000-4000-8000-000000000000',
      ['PATCH', 'PUT', 'DELETE'],
    ],
    ['native', 'PUT', '/v1/jobs', ['POST', 'GET']],
    ['native', 'GET', '/v1/queues/q/dlq/requeue', ['POST', 'DELETE']],
  ])('answers 405 with Allow on %s: %s %s', async (_family, method, path, allowed) => {
    const res = await api.fetch(path, { method });

    expect(res.status).toBe(405);
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual([...allowed].sort());
    expect(await tableItems(api)).toEqual([]);
  });
});

describe('the body of a 405', () => {
  beforeEach(async () => {
    api = await startTestApi();
  });

  it('is plain text on a relay path', async () => {
    const res = await api.fetch('/v1/queues/jobs', { method: 'GET' });

    expect(res.status).toBe(405);
    expect(await errorText(res, true)).toBe('method not allowed');
  });

  it('is a JSON error on a native path', async () => {
    const res = await api.fetch('/v1/queues/q/stats', { method: 'DELETE' });

    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(await jsonOf(res)).toEqual({
      error: { code: 'method_not_allowed', message: 'method not allowed' },
    });
  });
});

/** An API whose store's DynamoDB client fails every call `pick` returns an error for. */
const faultyApi = (pick: (call: ClientCall) => Error | undefined) =>
  startTestApi({ dispatch: 'sqs', faults: failCalls(pick) });

/** Every route that reaches the store, with the status its family answers when DynamoDB throttles. */
// `/health` and `/openapi.json` read nothing of the store.
const STORE_ROUTES = ROUTES.filter((route) => !['/health', '/openapi.json'].includes(route.path)).map(
  (route) => ({
    ...route,
    busy: route.style === 'relay-v1' ? 429 : 503,
  }),
);

describe('store faults', () => {
  beforeEach(() => {
    vi.stubEnv('RELAY_LOG_LEVEL', 'silent');
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each(STORE_ROUTES)(
    'answers $busy with Retry-After to $method $path when DynamoDB throttles (injected fault)',
    async (route) => {
      api = await faultyApi(throttled);

      const res = await sendExample(api, route);

      expect(res.status).toBe(route.busy);
      expect(res.headers.get('retry-after')).toBe('1');
      if (route.method !== 'HEAD') {
        expect(await errorText(res, route.style !== 'native')).toBe('the job store is busy; retry later');
      }
    },
  );

  it.each(['ThrottlingException', 'RequestLimitExceeded', 'TimeoutError', 'InternalServerError'])(
    'answers 429 on v1 and 503 on v2 when DynamoDB fails with %s (injected fault)',
    async (name) => {
      api = await faultyApi(() => awsError(name));

      const v1 = await api.fetch('/v1/queues/q/jobs');
      const v2 = await api.fetch('/v2/queues/q/jobs');

      expect([v1.status, v2.status]).toEqual([429, 503]);
    },
  );

  it('answers 503 when a transaction is cancelled for a conflict rather than a condition (injected fault)', async () => {
    api = await faultyApi((call) =>
      call.operation === 'TransactWriteItems'
        ? awsError('TransactionCanceledException', {
            CancellationReasons: [{ Code: 'TransactionConflict' }],
            $metadata: { httpStatusCode: 400 },
          })
        : undefined,
    );

    // Two jobs: a unique batch of one is a lone put, not a transaction.
    const res = await api.send('POST', '/v2/queues/jobs?mode=unique', [v2Job, { ...v2Job, id: 'b' }]);

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it.each([
    ['/v1/jobs?queue=q', 'created'],
    ['/v1/queues/q/dlq', 'dead'],
  ])('answers 503 to GET %s when its index query is throttled (injected fault)', async (path, index) => {
    api = await faultyApi((call) =>
      call.operation === 'Query' && call.input.IndexName === index ? throttled(call) : undefined,
    );
    await api.store.enqueue({ queue: 'q', id: 'a', payload: 1, timeout: 30, max_retries: 0 });

    const res = await api.fetch(path);

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it.each([
    ['relay v1', '/v1/queues/q/jobs', true],
    ['seed', '/next?queue=q', true],
    ['relay v2', '/v2/queues/q/jobs', true],
    ['native', '/v1/queues/q/stats', false],
  ])(
    'answers 500 with a generic message on %s when DynamoDB fails unexpectedly (injected fault)',
    async (_family, path, text) => {
      api = await faultyApi(() => new Error('disk on fire at /var/secret/table.db'));

      const res = await api.fetch(path);

      expect(res.status).toBe(500);
      expect(res.headers.get('retry-after')).toBeNull();
      const message = await errorText(res, text);
      expect(message).toBe('internal server error');
    },
  );

  it('keeps the details of an unexpected failure out of the native error body (injected fault)', async () => {
    api = await faultyApi(() => new Error('disk on fire at /var/secret/table.db'));

    const res = await api.send('POST', '/v1/jobs', nativeJob);

    expect(res.status).toBe(500);
    expect(await jsonOf(res)).toEqual({
      error: { code: 'internal_error', message: 'internal server error' },
    });
  });
});
