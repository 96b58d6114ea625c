/**
 * A sweep over every route in the route table with bad input: malformed JSON, wrong content types,
 * wrong types, empty and oversized values, names that are not well-formed Unicode, bad query
 * values, bad path values, wrong methods and unknown routes. Each case must get its documented 4xx
 * (never a 5xx) and write nothing at all.
 *
 * All cases of the sweep share one table, which starts empty and must stay empty.
 */
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFor } from '../functions/api/context.ts';
import { type ApiEvent, createApiHandler } from '../functions/api/handler.ts';
import { jobOperations } from '../functions/api/operations.ts';
import { METHODS, ROUTES, type Route, routeKey } from '../functions/api/routes.ts';
import {
  examplePath,
  jsonOf,
  ROUTE_EXAMPLES,
  SOME_RUN_ID,
  startTestApi,
  type TestApi,
  tableItems,
} from './support/api.ts';

/** Routes that read a JSON body: `required` fails without one, `optional` reads none as "no state". */
const BODY: Readonly<Record<string, 'required' | 'optional'>> = {
  'POST /v1/queues/jobs': 'required',
  'PUT /v1/queues/jobs': 'required',
  'PATCH /v1/queues/{queue}/jobs/{id}': 'optional',
  ...Object.fromEntries(
    ['', '/v1'].flatMap((prefix) => [
      [`POST ${prefix}/enqueue`, 'required'],
      [`POST ${prefix}/enqueue/batch`, 'required'],
      [`PATCH ${prefix}/heartbeat`, 'optional'],
      [`POST ${prefix}/reschedule`, 'required'],
    ]),
  ),
  'POST /v2/queues/jobs': 'required',
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 'optional',
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 'required',
  'POST /v1/jobs': 'required',
  'POST /v1/queues/{queue}/jobs/{id}/fail': 'required',
  'POST /v1/queues/{queue}/dlq/requeue': 'optional',
  'POST /v1/queues/{queue}/jobs/bulk': 'required',
  'POST /v1/managed/jobs': 'required',
  'POST /v1/managed/queues/{queue}/jobs/bulk': 'required',
  'POST /v1/managed/queues/{queue}/dlq/requeue': 'optional',
  'POST /v1/schedules': 'required',
  'PUT /v1/schedules/{name}': 'required',
  'POST /v1/managed/schedules': 'required',
  'PUT /v1/managed/schedules/{name}': 'required',
};

/**
 * What each route answers to its example request on an empty table, for routes whose answer does
 * not write: a body they do not read is ignored, so they answer this to any body too.
 */
const BASELINE: Readonly<Record<string, number>> = {
  'GET /health': 200,
  'PUT /v1/queues/jobs': 404,
  'GET /v1/queues/{queue}/jobs': 204,
  'HEAD /v1/queues/{queue}/jobs/{id}': 404,
  'GET /v1/queues/{queue}/jobs/{id}': 404,
  'PATCH /v1/queues/{queue}/jobs/{id}': 404,
  'DELETE /v1/queues/{queue}/jobs/{id}': 200,
  ...Object.fromEntries(
    ['', '/v1'].flatMap((prefix) => [
      [`GET ${prefix}/next`, 204],
      [`PATCH ${prefix}/heartbeat`, 404],
      [`DELETE ${prefix}/complete`, 200],
      [`POST ${prefix}/reschedule`, 404],
    ]),
  ),
  'GET /v2/queues/{queue}/jobs': 204,
  'HEAD /v2/queues/{queue}/jobs/{id}': 404,
  'GET /v2/queues/{queue}/jobs/{id}': 404,
  'DELETE /v2/queues/{queue}/jobs/{id}': 200,
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 404,
  'DELETE /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 200,
  'GET /v1/jobs': 200,
  'GET /v1/queues': 200,
  'GET /v1/queues/{queue}/stats': 200,
  'GET /v1/queues/{queue}/settings': 200,
  'GET /v1/queues/{queue}/limits': 200,
  'GET /v1/queues/{queue}/jobs/{id}/status': 404,
  'GET /v1/queues/{queue}/jobs/{id}/logs': 404,
  'GET /v1/queues/{queue}/jobs/{id}/runs': 404,
  'GET /openapi.json': 200,
  'POST /v1/queues/{queue}/jobs/{id}/fail': 404,
  'POST /v1/queues/{queue}/jobs/{id}/cancel': 404,
  'POST /v1/queues/{queue}/jobs/{id}/retry': 404,
  'POST /v1/queues/{queue}/jobs/bulk': 200,
  'GET /v1/queues/{queue}/dlq': 200,
  'POST /v1/queues/{queue}/dlq/requeue': 200,
  'POST /v1/queues/{queue}/dlq/{id}/requeue': 404,
  'DELETE /v1/queues/{queue}/dlq/{id}': 404,
  'POST /v1/managed/queues/{queue}/jobs/{id}/retry': 404,
  'POST /v1/managed/queues/{queue}/jobs/bulk': 200,
  'POST /v1/managed/queues/{queue}/dlq/requeue': 200,
  'POST /v1/managed/queues/{queue}/dlq/{id}/requeue': 404,
  'GET /v1/schedules': 200,
  'GET /v1/schedules/{name}': 404,
  'DELETE /v1/schedules/{name}': 404,
  'POST /v1/schedules/{name}/pause': 404,
  'POST /v1/schedules/{name}/resume': 404,
  'POST /v1/schedules/{name}/trigger': 404,
  'POST /v1/managed/schedules/{name}/resume': 404,
  'POST /v1/managed/schedules/{name}/trigger': 404,
};

const KIB = 1024;
const tooLongName = 'n'.repeat(1025);
/** A lone surrogate: JSON can carry it, UTF-8 cannot. */
const lone = '\ud800';
/** How a lone surrogate would be written in a URL: its would-be UTF-8 bytes, which are not UTF-8. */
const LONE_ESCAPED = '%ED%A0%80';
const v1 = { id: 'x', queue: 'q', timeout: 30, payload: { n: 1 } };
const v2 = { queue: 'q', id: 'x', timeout: 30, max_retries: 3, payload: { n: 1 } };
const native = { queue: 'q', id: 'x', payload: { n: 1 } };
const managed = { queue: 'q', id: 'x', payload: { command: 'echo', args: ['hi'] } };
const many = <T>(job: T, n: number) => Array.from({ length: n }, (_, i) => ({ ...job, id: `j${i}` }));

type BodyCase = readonly [what: string, body: unknown, status: number];

/** Bodies of the wrong type (422) and with empty or oversized values (413/422), per kind of body. */
const v1Object: BodyCase[] = [
  ['an array instead of an object', [v1], 422],
  ['a string timeout', { ...v1, timeout: '30' }, 422],
  ['a numeric id', { ...v1, id: 7 }, 422],
  ['an empty queue', { ...v1, queue: '' }, 422],
  ['no payload', { id: 'x', queue: 'q', timeout: 30 }, 422],
  ['a fractional max_retries', { ...v1, max_retries: 1.5 }, 422],
  ['an unreadable run_at', { ...v1, run_at: 'next tuesday-ish' }, 422],
  ['a timeout beyond int32', { ...v1, timeout: 2 ** 31 }, 422],
  ['a queue over 1,024 bytes', { ...v1, queue: tooLongName }, 422],
  ['an id over 1,024 bytes', { ...v1, id: tooLongName }, 422],
  ['a queue holding a lone surrogate', { ...v1, queue: lone }, 422],
  ['an id holding a lone surrogate', { ...v1, id: `x${lone}` }, 422],
  ['a payload over 256 KiB', { ...v1, payload: 'p'.repeat(257 * KIB) }, 413],
  [
    'payload and state over 256 KiB together',
    { ...v1, payload: 'p'.repeat(200 * KIB), state: 's'.repeat(60 * KIB) },
    413,
  ],
  ['a JSON string', 'job', 422],
  ['JSON null', null, 422],
];
const v1Array: BodyCase[] = [
  ['an object instead of an array', v1, 422],
  ['an array of numbers', [1, 2], 422],
  ['an array holding null', [null], 422],
  ...v1Object
    .filter(([, body]) => !Array.isArray(body) && typeof body === 'object' && body !== null)
    .map(([what, body, status]): BodyCase => [`a job with ${what}`, [v1, body], status]),
  ['1,001 jobs', many(v1, 1001), 422],
];
const v2Array: BodyCase[] = [
  ['an object instead of an array', v2, 422],
  ['a negative timeout', [{ ...v2, timeout: -1 }], 422],
  ['a max_retries over 32,767', [{ ...v2, max_retries: 40_000 }], 422],
  ['a negative max_retries', [{ ...v2, max_retries: -1 }], 422],
  ['a run_at without a time', [{ ...v2, run_at: '2026-01-01' }], 422],
  ['a numeric run_at', [{ ...v2, run_at: 1_767_225_600 }], 422],
  ['an empty id', [{ ...v2, id: '' }], 422],
  ['no payload', [{ queue: 'q', id: 'x', timeout: 30 }], 422],
  ['a queue over 1,024 bytes', [{ ...v2, queue: tooLongName }], 422],
  ['a queue holding a lone surrogate', [v2, { ...v2, queue: lone }], 422],
  ['an id holding a lone surrogate', [{ ...v2, id: '\udfff' }], 422],
  ['a payload over 256 KiB', [{ ...v2, payload: 'p'.repeat(257 * KIB) }], 413],
];
const state: BodyCase[] = [['a state over 256 KiB', 's'.repeat(257 * KIB), 413]];

const WRONG_BODIES: Readonly<Record<string, readonly BodyCase[]>> = {
  'POST /v1/queues/jobs': v1Array,
  'PUT /v1/queues/jobs': v1Object,
  'PATCH /v1/queues/{queue}/jobs/{id}': state,
  ...Object.fromEntries(
    ['', '/v1'].flatMap((prefix) => [
      [`POST ${prefix}/enqueue`, v1Object],
      [`POST ${prefix}/enqueue/batch`, v1Array],
      [`PATCH ${prefix}/heartbeat`, state],
      [`POST ${prefix}/reschedule`, v1Object],
    ]),
  ),
  'POST /v2/queues/jobs': [...v2Array, ['1,001 jobs', many(v2, 1001), 422]],
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': state,
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': [...v2Array, ['100 jobs', many(v2, 100), 422]],
  'POST /v1/jobs': [
    ['an array instead of an object', [native], 422],
    ['no payload', { queue: 'q' }, 422],
    ['an unknown field', { ...native, colour: 'red' }, 422],
    ['a string timeout', { ...native, timeout: '300' }, 422],
    ['a timeout of 0', { ...native, timeout: 0 }, 422],
    ['a timeout beyond int32', { ...native, timeout: 2 ** 31 }, 422],
    ['a negative delay', { ...native, delay: -1 }, 422],
    ['both delay and run_at', { ...native, delay: 1, run_at: '2026-01-01T00:00:00Z' }, 422],
    ['an unknown backoff strategy', { ...native, backoff: 'linear' }, 422],
    [
      'a backoff whose max is below its base',
      { ...native, backoff: { base_seconds: 10, max_seconds: 1 } },
      422,
    ],
    ['a priority beyond int32', { ...native, priority: 2 ** 31 }, 422],
    ['an empty idempotency key', { ...native, idempotency_key: '' }, 422],
    ['a job type it does not run yet', { ...native, type: 'shell' }, 422],
    ['an empty queue', { ...native, queue: '' }, 422],
    ['an id over 1,024 bytes', { ...native, id: tooLongName }, 422],
    ['a queue holding a lone surrogate', { ...native, queue: lone }, 422],
    ['an id holding a lone surrogate', { ...native, id: lone }, 422],
    ['an idempotency key holding a lone surrogate', { ...native, idempotency_key: lone }, 422],
    [
      'an on_success job whose queue holds a lone surrogate',
      { ...native, on_success: { queue: lone, payload: 1 } },
      422,
    ],
    ['a payload over 256 KiB', { ...native, payload: 'p'.repeat(257 * KIB) }, 413],
  ],
  'POST /v1/managed/jobs': [
    ['an array instead of an object', [managed], 422],
    ['a payload without a command', { ...managed, payload: { args: ['hi'] } }, 422],
    ['an empty command', { ...managed, payload: { command: '' } }, 422],
    ['args that are not strings', { ...managed, payload: { command: 'echo', args: [1] } }, 422],
    ['a NUL in an argument', { ...managed, payload: { command: 'echo', args: ['a\0b'] } }, 422],
    ['an env value that is not a string', { ...managed, payload: { command: 'echo', env: { A: 1 } } }, 422],
    ['a command timeout over 12 h', { ...managed, payload: { command: 'echo', timeout: '12h1s' } }, 422],
    ['a lease timeout over 12 h', { ...managed, timeout: 43_201 }, 422],
    [
      'an inline run longer than Lambda allows',
      { ...managed, payload: { command: 'echo', timeout: '11m', runtime: 'lambda' } },
      422,
    ],
    ['an unknown runtime', { ...managed, payload: { command: 'echo', runtime: 'ec2' } }, 422],
    ['an unknown field', { ...managed, colour: 'red' }, 422],
    ['a queue holding a lone surrogate', { ...managed, queue: lone }, 422],
    ['a payload over 256 KiB', { ...managed, payload: { command: 'p'.repeat(257 * KIB) } }, 413],
  ],
  'POST /v1/queues/{queue}/jobs/{id}/fail': [
    ['no error', {}, 422],
    ['a numeric error', { error: 5 }, 422],
    ['a string retry flag', { error: 'x', retry: 'no' }, 422],
    ['an unknown field', { error: 'x', reason: 'y' }, 422],
    ['an error over 64 KiB', { error: 'e'.repeat(64 * KIB + 1) }, 422],
  ],
  'POST /v1/queues/{queue}/dlq/requeue': [
    ['a string limit', { limit: 'all' }, 422],
    ['a limit of 0', { limit: 0 }, 422],
    ['an unsafe integer limit', { limit: 1e20 }, 422],
    ['an unknown field', { count: 1 }, 422],
    ['an array', [], 422],
  ],
  'POST /v1/queues/{queue}/jobs/bulk': [
    ['no action', { filter: { status: 'dead' } }, 422],
    ['an unknown action', { action: 'requeue' }, 422],
    ['a limit over 1,000', { action: 'delete', limit: 1_001 }, 422],
    ['a limit of 0', { action: 'delete', limit: 0 }, 422],
    ['a string dry_run', { action: 'delete', dry_run: 'yes' }, 422],
    ['an unknown status', { action: 'delete', filter: { status: 'done' } }, 422],
    ['a status the action does not apply to', { action: 'retry', filter: { status: 'completed' } }, 422],
    ['a running job to delete', { action: 'delete', filter: { status: 'running' } }, 422],
    ['an unknown filter field', { action: 'cancel', filter: { queue: 'q' } }, 422],
    ['an empty error_contains', { action: 'cancel', filter: { error_contains: '' } }, 422],
    [
      'a date without an offset',
      { action: 'cancel', filter: { created_before: '2026-01-01T00:00:00' } },
      422,
    ],
    ['a date that is not one', { action: 'cancel', filter: { created_after: 'yesterday' } }, 422],
    [
      'an empty created window',
      {
        action: 'cancel',
        filter: { created_after: '2026-01-02T00:00:00Z', created_before: '2026-01-01T00:00:00Z' },
      },
      422,
    ],
    ['an unknown field', { action: 'delete', dryrun: true }, 422],
  ],
  'POST /v1/managed/queues/{queue}/jobs/bulk': [
    ['a cancel', { action: 'cancel' }, 422],
    ['a delete', { action: 'delete', dry_run: true }, 422],
    ['a limit over 1,000', { action: 'retry', limit: 5_000 }, 422],
  ],
  'POST /v1/managed/queues/{queue}/dlq/requeue': [
    ['a string limit', { limit: 'all' }, 422],
    ['a limit of 0', { limit: 0 }, 422],
    ['an unknown field', { count: 1 }, 422],
  ],
};

/** Query strings (replacing the example's) that each route must refuse with 400. */
const BAD_QUERIES: Readonly<Record<string, readonly string[]>> = {
  'GET /v1/queues/{queue}/jobs': [
    '?num_jobs=abc',
    '?num_jobs=-1',
    '?num_jobs=1.5',
    '?num_jobs=',
    '?num_jobs=1&num_jobs=2',
  ],
  ...Object.fromEntries(
    ['', '/v1'].flatMap((prefix) => [
      [
        `GET ${prefix}/next`,
        [
          '',
          '?queue=',
          '?queue=q&num_jobs=x',
          `?queue=${tooLongName}`,
          `?queue=${LONE_ESCAPED}`,
          '?queue=%FF',
        ],
      ],
      [
        `PATCH ${prefix}/heartbeat`,
        [
          '?queue=q',
          '?job_id=x',
          '?queue=&job_id=x',
          `?queue=q&job_id=${tooLongName}`,
          `?queue=q&job_id=${LONE_ESCAPED}`,
        ],
      ],
      [
        `DELETE ${prefix}/complete`,
        ['', '?queue=q', '?job_id=x', '?queue=q&job_id=', `?queue=${LONE_ESCAPED}&job_id=x`],
      ],
    ]),
  ),
  'GET /v2/queues/{queue}/jobs': ['?num_jobs=0', '?num_jobs=-3', '?num_jobs=two'],
  'GET /v1/jobs': [
    '?limit=0',
    '?limit=101',
    '?limit=ten',
    '?status=done',
    '?state=dead',
    '?queue=q&colour=red',
    '?error_contains=',
    '?created_before=yesterday',
    '?created_after=2026-01-01',
    '?created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z',
    '?cursor=not*a*cursor',
    '?queue=',
    `?queue=${tooLongName}`,
    `?queue=${LONE_ESCAPED}`,
  ],
  'GET /v1/queues/{queue}/dlq': ['?limit=0', '?limit=1e3', '?cursor=%2F%2F%2F'],
};

const UNKNOWN_ROUTES = [
  ['GET', '/'],
  ['GET', '/v1'],
  ['POST', '/v1/queue/jobs'],
  ['GET', '/v3/queues/q/jobs'],
  ['GET', '/v1/queues/q/jobs/x/y/z'],
  ['PATCH', '/v1/queues/q/jobs/x/run-id/r'],
  ['GET', '/V1/QUEUES/Q/JOBS'],
  ['DELETE', '/v1/queues/q/jobs/x/'],
  ['GET', '/v1/queues/%ZZ/jobs'],
  ['GET', '/health/'],
] as const;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly init?: RequestInit;
  readonly status: number;
  readonly allow?: readonly string[];
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Whether a route's path template matches a concrete path (each parameter takes one non-empty segment). */
function fits(template: string, path: string): boolean {
  const want = template.split('/');
  const got = path.split('/');
  return (
    want.length === got.length &&
    want.every((piece, i) => (piece.startsWith('{') ? got[i] !== '' : piece === got[i]))
  );
}

/** The methods of every route whose path matches this concrete path. */
const allowedAt = (path: string) => [
  ...new Set(ROUTES.filter((r) => fits(r.path, path)).map((r) => r.method)),
];

const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

function casesFor(route: Route): Case[] {
  const key = routeKey(route);
  const example = ROUTE_EXAMPLES[key] ?? {};
  const path = `${examplePath(route.path)}${example.query ?? ''}`;
  const at = (what: string, status: number, init: RequestInit, p = path): Case => ({
    name: `${key}: answers ${status} to ${what}`,
    method: route.method,
    path: p,
    init: { method: route.method, ...init },
    status,
  });
  const cases: Case[] = [];
  const body = BODY[key];
  const baseline = BASELINE[key];
  const takesBody = route.method !== 'GET' && route.method !== 'HEAD';
  const exampleInit: RequestInit =
    example.body === undefined ? {} : { headers: JSON_TYPE, body: JSON.stringify(example.body) };

  if (baseline !== undefined) cases.push(at('its example request', baseline, exampleInit));

  if (takesBody && (body || baseline !== undefined)) {
    const json = (text: string | Uint8Array, headers: Record<string, string> = JSON_TYPE): RequestInit => ({
      headers,
      body: text,
    });
    const valid = JSON.stringify(example.body ?? {});
    cases.push(at('malformed JSON', body ? 400 : (baseline as number), json('{"id": "x",')));
    cases.push(at('a JSON body that stops short', body ? 400 : (baseline as number), json('[')));
    cases.push(
      at(
        'a text/plain body',
        body ? 415 : (baseline as number),
        json(valid, { 'content-type': 'text/plain' }),
      ),
    );
    cases.push(
      at(
        'a body with no content type',
        body ? 415 : (baseline as number),
        json(new TextEncoder().encode(valid), {}),
      ),
    );
    if (body === 'required') cases.push(at('an empty JSON body', 400, json('')));
    if (body === 'optional') cases.push(at('an empty JSON body', baseline as number, json('')));
    for (const [what, wrong, status] of WRONG_BODIES[key] ?? []) {
      cases.push(at(what, status, json(JSON.stringify(wrong))));
    }
    if (body)
      cases.push(at('a body over 6 MiB', 413, json(JSON.stringify({ payload: 'p'.repeat(6 * KIB * KIB) }))));
  }

  for (const query of BAD_QUERIES[key] ?? []) {
    cases.push(
      at(`the query ${JSON.stringify(query.slice(0, 40))}`, 400, {}, `${examplePath(route.path)}${query}`),
    );
  }

  const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  for (const param of params) {
    cases.push(
      at(
        `${article(param)} ${param} over 1,024 bytes`,
        400,
        exampleInit,
        `${examplePath(route.path, { [param]: tooLongName })}${example.query ?? ''}`,
      ),
    );
    cases.push(
      at(
        `${article(param)} ${param} that is not percent-encoded UTF-8 (${LONE_ESCAPED})`,
        400,
        exampleInit,
        `${examplePath(route.path, { [param]: 'LONE' }).replace('LONE', LONE_ESCAPED)}${example.query ?? ''}`,
      ),
    );
    cases.push(
      at(
        `an empty ${param}`,
        404,
        exampleInit,
        `${examplePath(route.path, { [param]: '' })}${example.query ?? ''}`,
      ),
    );
  }
  if (params.includes('run_id')) {
    cases.push(
      at(
        'a run_id that is not a UUID',
        400,
        exampleInit,
        examplePath(route.path, { run_id: `${SOME_RUN_ID}x` }),
      ),
    );
  }

  const allowed = allowedAt(examplePath(route.path));
  if (route === ROUTES.find((r) => r.path === route.path)) {
    for (const method of METHODS.filter((m) => !allowed.includes(m))) {
      cases.push({
        name: `${examplePath(route.path)}: answers 405 to ${method}, allowing ${allowed.join(', ')}`,
        method,
        path: examplePath(route.path),
        init: { method },
        status: 405,
        allow: allowed,
      });
    }
  }
  return cases;
}

const CASES: Case[] = [
  ...ROUTES.flatMap(casesFor),
  ...UNKNOWN_ROUTES.map(([method, path]) => ({
    name: `answers 404 to the unknown route ${method} ${path}`,
    method,
    path,
    init: { method },
    status: 404,
  })),
];

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ dispatch: 'sqs' });
});

afterAll(async () => {
  await api.dispose();
});

it('has an example request for every route', () => {
  const missing = ROUTES.map(routeKey).filter((key) => !(key in ROUTE_EXAMPLES));

  expect(missing).toEqual([]);
});

it('knows how every route that does not enqueue answers on an empty table', () => {
  const enqueues = [
    'POST /v1/queues/jobs',
    'POST /enqueue',
    'POST /v1/enqueue',
    'POST /enqueue/batch',
    'POST /v1/enqueue/batch',
    'POST /v2/queues/jobs',
    'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}',
    'POST /v1/jobs',
    'POST /v1/managed/jobs',
    'POST /v1/schedules',
    'PUT /v1/schedules/{name}',
    'POST /v1/managed/schedules',
    'PUT /v1/managed/schedules/{name}',
    // Queue control registers the queue it names, so a queue can be paused before its first job.
    'POST /v1/queues/{queue}/pause',
    'POST /v1/queues/{queue}/resume',
    'PUT /v1/queues/{queue}/settings',
    'PUT /v1/queues/{queue}/limits',
  ];

  const unknown = ROUTES.map(routeKey).filter((key) => !(key in BASELINE) && !enqueues.includes(key));

  expect(unknown).toEqual([]);
});

const named = (cases: Case[]) => cases.map((c) => [c.name, c] as const);

it.each(named(CASES.filter((c) => c.status < 400)))('%s, writing nothing', async (_name, c) => {
  const res = await api.fetch(c.path, c.init);

  expect(res.status).toBe(c.status);
  expect(await tableItems(api)).toEqual([]);
});

it.each(named(CASES.filter((c) => c.status >= 400)))('%s, writing nothing', async (_name, c) => {
  const res = await api.fetch(c.path, c.init);

  expect(res.status).toBe(c.status);
  if (c.allow) expect(res.headers.get('allow')?.split(', ').sort()).toEqual([...c.allow].sort());
  expect(await tableItems(api)).toEqual([]);
});

describe('names that are not well-formed Unicode', () => {
  let named: TestApi;

  beforeAll(async () => {
    named = await startTestApi();
  });

  afterAll(async () => {
    await named.dispose();
  });

  const post = (path: string, body: unknown) =>
    named.fetch(path, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) });

  it('refuses a native job whose queue holds a lone surrogate with a 422 naming the field', async () => {
    const res = await post('/v1/jobs', { ...native, queue: lone });

    expect(res.status).toBe(422);
    expect((await jsonOf(res)).error.message).toMatch(/queue: queue must be well-formed Unicode/);
    expect(await tableItems(named)).toEqual([]);
  });

  it('refuses a v1 batch with one such id with a 422 naming the job and field, writing none of it', async () => {
    const res = await post('/v1/queues/jobs', [v1, { ...v1, id: `a${lone}b` }]);

    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/1\.id: id must be well-formed Unicode/);
    expect(await tableItems(named)).toEqual([]);
  });

  it('refuses a v2 batch with one such queue with a 422 naming the job and field, writing none of it', async () => {
    const res = await post('/v2/queues/jobs?mode=ignore', [v2, { ...v2, queue: '\udc00' }]);

    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/1\.queue: queue must be well-formed Unicode/);
    expect(await tableItems(named)).toEqual([]);
  });

  it('refuses a path parameter written as the bytes of a lone surrogate with a 400 naming it', async () => {
    // decodeURIComponent cannot decode them (they are not UTF-8), so the handler names the parameter.
    const relay = await named.fetch(`/v1/queues/q/jobs/${LONE_ESCAPED}`, { method: 'DELETE' });
    const native = await named.fetch(`/v1/queues/${LONE_ESCAPED}/jobs/x/cancel`, { method: 'POST' });

    expect([relay.status, native.status]).toEqual([400, 400]);
    expect(await relay.text()).toBe('Invalid URL: `id` is not percent-encoded UTF-8');
    expect((await jsonOf(native)).error.message).toBe('Invalid URL: `queue` is not percent-encoded UTF-8');
    expect(await tableItems(named)).toEqual([]);
  });

  it('refuses a path parameter that holds a lone surrogate however the event carries it', async () => {
    const handler = createApiHandler('jobs', jobOperations(), () => contextFor(named.store));
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: `/v1/queues/${lone}/jobs/x/cancel`,
      rawQueryString: '',
      headers: {},
      requestContext: { http: { method: 'POST', path: `/v1/queues/${lone}/jobs/x/cancel` } },
      isBase64Encoded: false,
    } as unknown as ApiEvent;

    const result = await handler(event, {} as Context);

    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body ?? '').error.message).toMatch(
      /^Invalid URL: `queue` must be well-formed Unicode/,
    );
  });

  it('refuses a seed query parameter written as the bytes of a lone surrogate with a 400 naming it', async () => {
    // URLSearchParams (and API Gateway) would read it as three U+FFFD: a queue nobody named.
    await named.store.enqueue({
      queue: '\ufffd\ufffd\ufffd',
      id: 'x',
      payload: 1,
      timeout: 30,
      max_retries: 0,
    });

    const res = await named.fetch(`/next?queue=${LONE_ESCAPED}`);

    expect(res.status).toBe(400);
    expect(await res.text()).toBe('Failed to deserialize query string: `queue` is not percent-encoded UTF-8');
    expect((await named.store.get('\ufffd\ufffd\ufffd', 'x'))?.status).toBe('pending');
  });

  it('keeps U+FFFD itself a valid name, in a body, a path and a query', async () => {
    const created = await post('/v1/jobs', { ...native, queue: '\ufffd', id: 'r' });
    const read = await named.fetch(`/v1/queues/${encodeURIComponent('\ufffd')}/jobs/r/status`);
    const claimed = await named.fetch(`/v1/next?queue=${encodeURIComponent('\ufffd')}`);

    expect([created.status, read.status, claimed.status]).toEqual([201, 200, 200]);
    expect(await jsonOf(claimed)).toMatchObject({ queue: '\ufffd', id: 'r' });
  });
});
