/**
 * The route table: every route has an operation and every operation a route, and `matchRoute`
 * resolves paths the way API Gateway does.
 */
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { allOperations } from '../functions/api/all-operations.ts';
import { type ApiEvent, createApiHandler } from '../functions/api/handler.ts';

const OPERATIONS = allOperations();

import { GROUPS, MANAGED_PREFIX, matchRoute, ROUTES, routeKey } from '../functions/api/routes.ts';

describe('ROUTES', () => {
  it.each(ROUTES.map((route) => [routeKey(route), route] as const))(
    'gives %s an operation in its group',
    (_key, route) => {
      expect(OPERATIONS[route.group][routeKey(route)]).toBeTypeOf('function');
    },
  );

  it.each(GROUPS)('serves every operation of the %s group through a route', (group) => {
    const routed = ROUTES.filter((route) => route.group === group).map(routeKey);

    expect(Object.keys(OPERATIONS[group]).sort()).toEqual([...routed].sort());
  });

  it('names each route once', () => {
    const keys = ROUTES.map(routeKey);

    expect(new Set(keys).size).toBe(keys.length);
  });

  it('answers relay-rs routes in plain text and native routes with the JSON envelope', () => {
    for (const route of ROUTES) {
      expect(route.style === 'native').toBe(route.group !== 'relay');
    }
  });

  it('keeps every route that starts a command under /v1/managed/, and no other route there', () => {
    for (const route of ROUTES) {
      expect(route.path.startsWith(MANAGED_PREFIX)).toBe(route.group === 'managed');
    }
  });

  it('gives v2 routes the relay-v2 style and v1 and seed routes the relay-v1 style', () => {
    const relay = ROUTES.filter((route) => route.group === 'relay');

    for (const route of relay) {
      expect(route.style).toBe(route.path.startsWith('/v2/') ? 'relay-v2' : 'relay-v1');
    }
  });
});

describe('matchRoute', () => {
  it('matches a literal path', () => {
    const match = matchRoute('POST', '/v1/queues/jobs');

    expect(match).toEqual({ route: expect.objectContaining({ path: '/v1/queues/jobs' }), params: {} });
  });

  it('fills parameters from their segments', () => {
    const match = matchRoute('PATCH', '/v2/queues/q/jobs/x/run-id/r');

    expect(match).toMatchObject({
      route: { path: '/v2/queues/{queue}/jobs/{id}/run-id/{run_id}' },
      params: { queue: 'q', id: 'x', run_id: 'r' },
    });
  });

  it('prefers a literal segment over a parameter: POST …/dlq/requeue requeues all', () => {
    const match = matchRoute('POST', '/v1/queues/q/dlq/requeue');

    expect(match).toMatchObject({
      route: { path: '/v1/queues/{queue}/dlq/requeue' },
      params: { queue: 'q' },
    });
  });

  it('reads DELETE /v1/queues/q/dlq/requeue as deleting the dead job with id "requeue"', () => {
    const match = matchRoute('DELETE', '/v1/queues/q/dlq/requeue');

    expect(match).toMatchObject({
      route: { method: 'DELETE', path: '/v1/queues/{queue}/dlq/{id}' },
      params: { queue: 'q', id: 'requeue' },
    });
  });

  it('reads a queue named "jobs" as a parameter where no literal route fits', () => {
    const match = matchRoute('GET', '/v1/queues/jobs/jobs');

    expect(match).toMatchObject({ route: { path: '/v1/queues/{queue}/jobs' }, params: { queue: 'jobs' } });
  });

  it('lists the allowed methods for a known path and a wrong method', () => {
    expect(matchRoute('GET', '/v1/queues/jobs')).toEqual({ allowed: ['POST', 'PUT'] });
    expect(matchRoute('POST', '/v1/queues/q/jobs/x')).toEqual({
      allowed: ['HEAD', 'GET', 'PATCH', 'DELETE'],
    });
  });

  it('allows the methods of every route a path matches, literal or not', () => {
    const match = matchRoute('GET', '/v1/queues/q/dlq/requeue');

    expect(match).toEqual({ allowed: ['POST', 'DELETE'] });
  });

  it('percent-decodes parameters, including an encoded slash', () => {
    const match = matchRoute('GET', '/v1/queues/my%20queue%2F%CE%B1/jobs/a%2Fb%20c');

    expect(match).toMatchObject({ params: { queue: 'my queue/α', id: 'a/b c' } });
  });

  it('keeps + in a path literal', () => {
    const match = matchRoute('GET', '/v1/queues/a+b/jobs/x');

    expect(match).toMatchObject({ params: { queue: 'a+b' } });
  });

  it.each([
    ['an unknown path', '/v1/nope'],
    ['an empty parameter', '/v1/queues//jobs'],
    ['a trailing slash', '/v1/queues/q/jobs/'],
    ['a malformed percent-escape', '/v1/queues/%E0%A4%A/jobs'],
    ['an extra segment', '/health/x'],
  ])('matches nothing for %s', (_what, path) => {
    expect(matchRoute('GET', path)).toBeUndefined();
  });
});

describe('the fallback function ($default)', () => {
  const fallback = createApiHandler('fallback', {}, () => {
    throw new Error('the fallback reached for a store');
  });
  const call = (method: string, path: string) =>
    fallback(
      {
        version: '2.0',
        routeKey: '$default',
        rawPath: path,
        rawQueryString: '',
        headers: {},
        requestContext: { http: { method, path } },
        isBase64Encoded: false,
      } as unknown as ApiEvent,
      {} as Context,
    );

  it('runs no operation: a route API Gateway did not send to its own function is a 404', async () => {
    const submit = await call('POST', '/v1/managed/jobs');
    const claim = await call('GET', '/v2/queues/q/jobs');

    expect([submit.statusCode, claim.statusCode]).toEqual([404, 404]);
  });

  it('answers 405 with Allow for a known path and another method, and 404 for an unknown path', async () => {
    const wrongMethod = await call('DELETE', '/v1/jobs');
    const unknown = await call('GET', '/v1/nowhere');

    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers?.allow).toMatch(/GET/);
    expect(unknown.statusCode).toBe(404);
  });
});
