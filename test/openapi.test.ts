/**
 * `GET /openapi.json`: an OpenAPI 3.1 document generated from the route table and the zod schemas,
 * describing every route with the status codes it really answers, valid by the OpenAPI 3.1 schema,
 * and the same whether the local server generates it or the build writes it for AWS.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../functions/api/openapi.ts';
import { ROUTE_DOCS } from '../functions/api/route-docs.ts';
import { ROUTES, type Route, routeKey } from '../functions/api/routes.ts';
import {
  nativeJobView,
  queueStatsView,
  relayV1JobView,
  relayV2JobView,
  scheduleView,
} from '../functions/api/view-schemas.ts';
import { startTestApi, type TestApi } from './support/api.ts';

type Operation = { responses: Record<string, unknown>; requestBody?: unknown; parameters?: unknown[] };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

const document = openApiDocument() as Document;
const operationOf = (route: Pick<Route, 'method' | 'path'>) =>
  document.paths[route.path]?.[route.method.toLowerCase()];

describe('the OpenAPI document', () => {
  it('describes every route of the route table, and no other', () => {
    const described = Object.entries(document.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${p}`),
    );

    expect(described.sort()).toEqual(ROUTES.map(routeKey).sort());
    expect(Object.keys(ROUTE_DOCS).sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('fails to generate, naming the route, when a route of the table has no entry', () => {
    const undocumented: Route = { method: 'GET', path: '/v1/undocumented', group: 'jobs', style: 'native' };

    expect(() => openApiDocument([...ROUTES, undocumented])).toThrow(
      'GET /v1/undocumented has no OpenAPI entry',
    );
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();

    const result = await validator.validate(document as unknown as Record<string, unknown>);

    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it.each(ROUTES.map((r) => [routeKey(r), r] as const))(
    'gives %s a success answer and its errors',
    (_, route) => {
      const statuses = Object.keys(operationOf(route)?.responses ?? {}).map(Number);

      expect(statuses.some((s) => s >= 200 && s < 300)).toBe(true);
      // Every route sits behind the edge: a local token (401), IAM or a foreign origin (403).
      expect(statuses).toEqual(expect.arrayContaining([401, 403]));
      if (route.path.includes('{')) expect(statuses).toContain(400);
      if (operationOf(route)?.requestBody)
        expect(statuses).toEqual(expect.arrayContaining([400, 413, 415, 422]));
    },
  );

  it('documents the worker name a claim may carry, on every claim route', () => {
    const claims = [
      'GET /v1/queues/{queue}/jobs',
      'GET /next',
      'GET /v1/next',
      'GET /v2/queues/{queue}/jobs',
    ];

    for (const key of claims) {
      const [method, p] = key.split(' ') as [Route['method'], string];
      expect(operationOf({ method, path: p })?.parameters, key).toContainEqual(
        expect.objectContaining({ name: 'x-relay-worker', in: 'header' }),
      );
    }
  });

  it('answers a busy store as the routes do: 429 on relay-rs v1 and seed routes, 503 elsewhere', () => {
    const busy = (key: string) => {
      const [method, p] = key.split(' ') as [string, string];
      return Object.keys(operationOf({ method: method as Route['method'], path: p })?.responses ?? {});
    };

    expect(busy('POST /enqueue')).toContain('429');
    expect(busy('GET /v2/queues/{queue}/jobs')).toContain('503');
    expect(busy('POST /v1/jobs')).toContain('503');
    expect(busy('GET /health')).not.toContain('429');
  });

  it('is what `npm run build` writes to dist/openapi.json, which the Lambda bundle carries', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'relay-openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      await promisify(execFile)(process.execPath, ['scripts/openapi.mjs', file]);

      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(document);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /openapi.json and the answers it documents', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ dispatch: 'sqs' });
  });
  afterAll(() => api.close());

  it('serves the document as JSON', async () => {
    const response = await api.fetch('/openapi.json');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual(document);
  });

  /** A request path for a route: each parameter filled with a value it accepts. */
  const concrete = (route: Route) =>
    route.path.replace('{run_id}', '00000000-0000-4000-8000-000000000000').replace(/\{[^}]+\}/g, 'x1');

  it.each(ROUTES.map((r) => [routeKey(r), r] as const))(
    'documents each status %s answers to a bare request, an empty object, a body that is not JSON and a bad worker name',
    async (_, route) => {
      const documented = Object.keys(operationOf(route)?.responses ?? {}).map(Number);
      const url = concrete(route);
      const json = { 'content-type': 'application/json' };
      const answers = await Promise.all([
        api.fetch(url, { method: route.method }),
        api.fetch(url, {
          method: route.method,
          headers: json,
          body: route.method === 'HEAD' || route.method === 'GET' ? undefined : '{}',
        }),
        api.fetch(url, {
          method: route.method,
          headers: json,
          body: route.method === 'HEAD' || route.method === 'GET' ? undefined : '{',
        }),
        // A worker name claims refuse (too long); other routes ignore the header.
        api.fetch(url, { method: route.method, headers: { 'x-relay-worker': 'w'.repeat(300) } }),
      ]);

      for (const answer of answers) expect(documented).toContain(answer.status);
    },
  );

  it('answers with the shapes it documents: native, relay-rs v1 and v2 jobs, queue stats, schedules', async () => {
    const created = await api.send('POST', '/v1/jobs', { queue: 'docs', id: 'a', payload: { n: 1 } });
    await api.send('POST', '/v1/jobs', { queue: 'docs', id: 'b', payload: { n: 2 } });
    const schedule = await api.send('POST', '/v1/schedules', {
      name: 'nightly',
      cron: '0 3 * * *',
      job: { queue: 'docs', payload: {} },
    });

    expect(created.status).toBe(201);
    nativeJobView.parse(await created.json());
    relayV1JobView.parse(await (await api.fetch('/v1/queues/docs/jobs/a')).json());
    relayV2JobView.array().parse(await (await api.fetch('/v2/queues/docs/jobs')).json());
    queueStatsView.parse(await (await api.fetch('/v1/queues/docs/stats')).json());
    scheduleView.parse(await schedule.json());
  });
});
