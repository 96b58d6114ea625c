/**
 * Property-based bad input over every route of the route table, sent over real HTTP to the real
 * handlers: arbitrary JSON and near-JSON bodies, valid requests with one field made wrong,
 * arbitrary query strings, path parameters and headers (see `support/arbitraries.ts`). Inputs
 * that once broke a route are pinned beside the properties as named cases.
 *
 * For every response:
 * - the status is a success or a documented 4xx (README "Status codes"), never a 5xx;
 * - an error answers in its route's style: plain text on relay-rs routes, the JSON error envelope
 *   on native routes (`functions/api/errors.ts`);
 * - no success creates a job whose queue or id is not well-formed Unicode (a lone surrogate is a
 *   422 in a body; bytes that are not UTF-8 a 400 in a path or query);
 * - every job a success created reads back (through the v1, v2 and native views in turn);
 * - when a request that creates jobs is refused, the table holds no job it did not hold before.
 * Afterwards each table holds only what successful requests created, and lists exactly that.
 *
 * Each route group gets its own table; each route its own queue of jobs in every state (pending,
 * running, dead, cancelled), which the generated names point at so requests reach the store.
 * fast-check prints the seed and the shrunk request of a failure; `FC_SEED=<seed>` replays it.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ErrorStyle,
  METHODS,
  matchRoute,
  ROUTES,
  type Route,
  routeKey,
} from '../functions/api/routes.ts';
import { IDEMPOTENCY_SK, idempotencyKey, JOB_SK, jobKey, QUEUES_PK } from '../functions/jobs/keys.ts';
import { type NewJob, VIEW_STATUSES } from '../functions/jobs/model.ts';
import { ROUTE_EXAMPLES, SOME_RUN_ID, startTestApi, type TestApi } from './support/api.ts';
import {
  anyBody,
  anyHeaders,
  anyQuery,
  type BodyKind,
  type BodySpec,
  contentType,
  cursorOf,
  exampleBody,
  hasLoneSurrogate,
  KNOWN_BODIES,
  knownMutations,
  mutate,
  mutation,
  PATH_TWISTS,
  type PathTwist,
  type Pools,
  percentEncode,
  type QuerySpec,
  queryValue,
  renderBody,
  renderPath,
  renderQuery,
  renderSegment,
  type Segment,
  segment,
  validBody,
} from './support/arbitraries.ts';
import { type RawReply, rawRequest } from './support/raw-http.ts';

if (process.env.FC_SEED) fc.configureGlobal({ seed: Number(process.env.FC_SEED) });

/**
 * Generated requests per property and route: about 2,000 a run (beside the pinned cases and the
 * read-backs), tuned so the file stays well under a minute and a half on a busy 2-core machine.
 */
const RUNS = {
  bodies: 20,
  mutations: 25,
  queries: 12,
  paths: 12,
  headers: 5,
  /** Routes that read no body (or no query, or have no path parameter) get this many of those instead. */
  unused: 4,
  offTable: 50,
} as const;

const SUCCESS = [200, 201, 202, 204];
/** README "Status codes", without 429: the local emulator never throttles, so a 429 is a misreading. */
const DOCUMENTED_4XX = [400, 403, 404, 405, 409, 413, 415, 422];

// ---------------------------------------------------------------------------------------------
// What each route reads
// ---------------------------------------------------------------------------------------------

const seedKeys = (method: string, path: string) => [`${method} ${path}`, `${method} /v1${path}`];

/** The JSON body each route reads. Routes not listed read none (and must ignore one). */
const BODY: Readonly<Record<string, BodyKind>> = {
  'POST /v1/queues/jobs': 'v1-batch',
  'PUT /v1/queues/jobs': 'v1-job',
  'PATCH /v1/queues/{queue}/jobs/{id}': 'state',
  ...Object.fromEntries(seedKeys('POST', '/enqueue').map((k) => [k, 'v1-job'])),
  ...Object.fromEntries(seedKeys('POST', '/enqueue/batch').map((k) => [k, 'v1-batch'])),
  ...Object.fromEntries(seedKeys('PATCH', '/heartbeat').map((k) => [k, 'state'])),
  ...Object.fromEntries(seedKeys('POST', '/reschedule').map((k) => [k, 'v1-job'])),
  'POST /v2/queues/jobs': 'v2-batch',
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 'state',
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 'v2-requeue',
  'POST /v1/jobs': 'native-job',
  'POST /v1/queues/{queue}/jobs/{id}/fail': 'fail',
  'POST /v1/queues/{queue}/dlq/requeue': 'requeue-all',
  'POST /v1/managed/jobs': 'managed-job',
  'POST /v1/managed/queues/{queue}/dlq/requeue': 'requeue-all',
};

interface QueryParam {
  readonly required: boolean;
  readonly valid: (pools: Pools) => fc.Arbitrary<string>;
}

const count = (min: number, max: number) => () => fc.integer({ min, max }).map(String);
const oneOf =
  (...values: string[]) =>
  () =>
    fc.constantFrom(...values);
const queueParam: QueryParam = { required: true, valid: (p) => fc.constantFrom(...p.queues) };
const jobParam: QueryParam = { required: true, valid: (p) => fc.constantFrom(...p.ids) };
const mode: QueryParam = { required: false, valid: oneOf('unique', 'ignore', 'replace') };

/** The query parameters each route reads, and how to draw a valid value for each. */
const QUERY: Readonly<Record<string, Readonly<Record<string, QueryParam>>>> = {
  'GET /v1/queues/{queue}/jobs': { num_jobs: { required: false, valid: count(0, 1000) } },
  ...Object.fromEntries(
    seedKeys('GET', '/next').map((k) => [
      k,
      { queue: queueParam, num_jobs: { required: false, valid: count(0, 1000) } },
    ]),
  ),
  ...Object.fromEntries(
    [...seedKeys('PATCH', '/heartbeat'), ...seedKeys('DELETE', '/complete')].map((k) => [
      k,
      { queue: queueParam, job_id: jobParam },
    ]),
  ),
  'POST /v2/queues/jobs': { mode },
  'GET /v2/queues/{queue}/jobs': { num_jobs: { required: false, valid: count(1, 1000) } },
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': { mode },
  'GET /v1/jobs': {
    queue: { ...queueParam, required: false },
    status: { required: false, valid: oneOf(...VIEW_STATUSES) },
    limit: { required: false, valid: count(1, 100) },
  },
  'GET /v1/queues/{queue}/jobs/{id}/logs': {
    run_id: { required: false, valid: (p) => fc.constantFrom(...p.runIds) },
    limit: { required: false, valid: count(1, 1000) },
  },
  'GET /v1/queues/{queue}/dlq': { limit: { required: false, valid: count(1, 100) } },
};

/** How a 2xx from a route that creates jobs names them: its body's jobs, or its answer. */
const CREATES: Readonly<Record<string, 'batch' | 'job' | 'answer'>> = {
  'POST /v1/queues/jobs': 'batch',
  'PUT /v1/queues/jobs': 'job',
  ...Object.fromEntries(seedKeys('POST', '/enqueue').map((k) => [k, 'job'])),
  ...Object.fromEntries(seedKeys('POST', '/enqueue/batch').map((k) => [k, 'batch'])),
  ...Object.fromEntries(seedKeys('POST', '/reschedule').map((k) => [k, 'job'])),
  'POST /v2/queues/jobs': 'batch',
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': 'batch',
  'POST /v1/jobs': 'answer',
  'POST /v1/managed/jobs': 'answer',
};

/** Cursors routes read, which only an earlier page of theirs can make valid: never drawn valid. */
const CURSORS: Readonly<Record<string, readonly string[]>> = {
  'GET /v1/jobs': ['cursor'],
  'GET /v1/queues/{queue}/jobs/{id}/logs': ['after'],
  'GET /v1/queues/{queue}/dlq': ['cursor'],
};

/** The query parameters a route reads. */
const queryNames = (route: Route) => [
  ...Object.keys(QUERY[routeKey(route)] ?? {}),
  ...(CURSORS[routeKey(route)] ?? []),
];

/** Every query parameter any route reads: the others must ignore them. */
const QUERY_NAMES = [...new Set(ROUTES.flatMap(queryNames))];

const paramsOf = (route: Route) => [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);

// ---------------------------------------------------------------------------------------------
// Requests on the wire
// ---------------------------------------------------------------------------------------------

/** One generated request, as fast-check prints it when it fails. */
interface RequestSpec {
  readonly method: string;
  /** The raw path, sent as is. */
  readonly path: string;
  /** The raw query string, `?…` or empty. */
  readonly query: string;
  readonly contentType: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: BodySpec | undefined;
  /** Sends the body as Latin-1, so anything past ASCII is invalid UTF-8. */
  readonly latin1: boolean;
}

const bodyBytes = (spec: RequestSpec) =>
  spec.body === undefined ? undefined : Buffer.from(renderBody(spec.body), spec.latin1 ? 'latin1' : 'utf8');

/** Sends a request exactly as described (fetch would normalise `..` and refuse a GET body). */
function send(baseUrl: string, spec: RequestSpec): Promise<RawReply> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of spec.headers) {
    const seen = headers[name];
    headers[name] = seen === undefined ? value : [...[seen].flat(), value];
  }
  if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
  const body = bodyBytes(spec);
  if (body) headers['content-length'] = String(body.length);
  return rawRequest(baseUrl, { method: spec.method, path: `${spec.path}${spec.query}`, headers, body });
}

/**
 * The error style of whatever route answers a path: a wrong method answers in its path's style, and
 * a segment of well-formed escapes that are not UTF-8 (`%FF`) still finds its route, whose error
 * names the parameter.
 */
function styleOf(method: string, rawPath: string): ErrorStyle {
  const path = rawPath
    .split('/')
    .map((segment) => {
      if (/%(?![0-9a-f]{2})/i.test(segment)) return segment;
      try {
        decodeURIComponent(segment);
        return segment;
      } catch {
        return '_';
      }
    })
    .join('/');
  const match = matchRoute(method, path);
  const routed = match && !('route' in match) ? matchRoute(match.allowed[0] ?? '', path) : match;
  return routed && 'route' in routed ? routed.route.style : 'relay-v1';
}

function expectDocumented(spec: RequestSpec, reply: RawReply, context = ''): void {
  const what = `${context}${spec.method} ${spec.path}${spec.query} answered ${reply.status} ${reply.text.slice(0, 300)}`;
  expect(reply.status, what).toBeLessThan(500);
  expect([...SUCCESS, ...DOCUMENTED_4XX], what).toContain(reply.status);
  if (reply.status === 405) expect(reply.headers.allow, what).toBeTruthy();
  if (reply.status < 400 || spec.method === 'HEAD') return;
  if (styleOf(spec.method, spec.path) === 'native') {
    expect(reply.headers['content-type'], what).toBe('application/json');
    expect(JSON.parse(reply.text), what).toEqual({
      error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    });
  } else if (reply.text) {
    expect(reply.headers['content-type'], what).toMatch(/^text\/plain/);
  }
}

// ---------------------------------------------------------------------------------------------
// What the table may hold
// ---------------------------------------------------------------------------------------------

interface Created {
  readonly queue: string;
  readonly id: string;
  readonly payload: unknown;
  readonly idempotency_key?: unknown;
}

/** The payload as the store writes it; `*` when it cannot be written (it then matches anything). */
function storedPayload(payload: unknown): string {
  try {
    return JSON.stringify(payload ?? null);
  } catch {
    return '*';
  }
}

/**
 * Every job successful requests created (by item key, with each payload they sent), the queues
 * they named and the idempotency keys they used: all a table may hold.
 */
class Ledger {
  private readonly jobs = new Map<string, Set<string>>();
  private readonly queues = new Set<string>();
  private readonly keys = new Set<string>();

  add(job: Created): void {
    const { pk } = jobKey(job.queue, job.id);
    const payloads = this.jobs.get(pk) ?? new Set();
    payloads.add(storedPayload(job.payload));
    this.jobs.set(pk, payloads);
    this.queues.add(job.queue);
    if (typeof job.idempotency_key === 'string')
      this.keys.add(idempotencyKey(job.queue, job.idempotency_key).pk);
  }

  /**
   * What the table holds that no successful request created: jobs (and with `payloads`, job
   * contents), idempotency keys, anything else; and, apart, queues no successful request named.
   */
  async audit(api: TestApi, payloads: boolean): Promise<{ strays: string[]; queues: string[] }> {
    const strays: string[] = [];
    const queues: string[] = [];
    for (const item of await scan(api, payloads)) {
      const name = `${JSON.stringify(item.queue)}/${JSON.stringify(item.id)}`;
      if (item.sk === JOB_SK) {
        const sent = this.jobs.get(String(item.pk));
        if (!sent) strays.push(`job ${name}, which no successful request created`);
        else if (payloads && !sent.has('*') && !sent.has(String(item.payload))) {
          strays.push(
            `job ${name} with a payload no successful request sent: ${String(item.payload).slice(0, 80)}`,
          );
        }
      } else if (item.pk === QUEUES_PK) {
        if (!this.queues.has(String(item.sk))) queues.push(String(item.sk));
      } else if (item.sk === IDEMPOTENCY_SK) {
        if (!this.keys.has(String(item.pk)))
          strays.push(`idempotency key ${JSON.stringify(item.key)} of ${name}`);
      } else {
        strays.push(`item ${String(item.pk)} ${String(item.sk)}`);
      }
    }
    return { strays, queues };
  }
}

async function scan(api: TestApi, payloads: boolean): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await api.db.send(
      new ScanCommand({
        TableName: api.config.tableName,
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
        ProjectionExpression: `#pk, #sk, #queue, #id, #key${payloads ? ', #payload' : ''}`,
        ExpressionAttributeNames: {
          '#pk': 'pk',
          '#sk': 'sk',
          '#queue': 'queue',
          '#id': 'id',
          '#key': 'key',
          ...(payloads ? { '#payload': 'payload' } : {}),
        },
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** The body as the server reads it (UTF-8, invalid bytes replaced), parsed; undefined if it does not parse. */
function parsedBody(spec: RequestSpec): unknown {
  try {
    return JSON.parse(bodyBytes(spec)?.toString('utf8') ?? '');
  } catch {
    return undefined;
  }
}

/** The jobs a successful request to a creating route wrote (or, for `ignore` batches, may have). */
function createdBy(spec: RequestSpec, reply: RawReply): Created[] {
  const match = matchRoute(spec.method, spec.path);
  const how = match && 'route' in match ? CREATES[routeKey(match.route)] : undefined;
  if (!how || !SUCCESS.includes(reply.status)) return [];
  const named =
    how === 'answer' ? [JSON.parse(reply.text)] : how === 'job' ? [parsedBody(spec)] : parsedBody(spec);
  expect(Array.isArray(named), `a ${reply.status} for a body that is not a job`).toBe(true);
  return named as Created[];
}

// ---------------------------------------------------------------------------------------------
// A group's API, and a route's jobs in every state
// ---------------------------------------------------------------------------------------------

interface Harness {
  api: TestApi;
  ledger: Ledger;
}

/**
 * Sends a request and checks its answer; records what a success created and reads it back; after
 * a refused request that creates jobs (a conflict or a miss), checks it left no job behind.
 */
async function exchange(h: Harness, spec: RequestSpec): Promise<RawReply> {
  const reply = await send(h.api.url, spec);
  expectDocumented(spec, reply);
  const created = createdBy(spec, reply);
  const illFormed = created.filter((job) => hasLoneSurrogate(job.queue) || hasLoneSurrogate(job.id));
  expect(
    illFormed,
    `${spec.method} ${spec.path} answered ${reply.status} for names with lone surrogates`,
  ).toEqual([]);
  for (const job of created) h.ledger.add(job);
  for (const job of created) await expectReadable(h, job);
  const match = matchRoute(spec.method, spec.path);
  const creates = match && 'route' in match && routeKey(match.route) in CREATES;
  if (creates && (reply.status === 404 || reply.status === 409)) {
    const { strays } = await h.ledger.audit(h.api, true);
    expect(strays, `after ${spec.method} ${spec.path} answered ${reply.status}`).toEqual([]);
  }
  return reply;
}

const VIEWS = [
  (q: string, id: string) => `/v1/queues/${q}/jobs/${id}`,
  (q: string, id: string) => `/v2/queues/${q}/jobs/${id}`,
  (q: string, id: string) => `/v1/queues/${q}/jobs/${id}/status`,
];
let reads = 0;

/** A job a request created reads back: through the relay-rs v1, v2 and native views in turn. */
async function expectReadable(h: Harness, job: Created): Promise<void> {
  const view = VIEWS[reads++ % VIEWS.length] as (typeof VIEWS)[number];
  const spec = plain('GET', view(percentEncode(job.queue), percentEncode(job.id)));
  expectDocumented(
    spec,
    await send(h.api.url, spec),
    `reading back the job ${job.queue}/${job.id} it created: `,
  );
}

const plain = (method: string, path: string, query = ''): RequestSpec => ({
  method,
  path,
  query,
  contentType: undefined,
  headers: [],
  body: undefined,
  latin1: false,
});

let queues = 0;

/**
 * A queue of its own for one route, holding a pending, a running, a dead and a cancelled job;
 * the pools name them (and a few that do not exist) so generated requests reach the store.
 */
async function arrange(h: Harness): Promise<Pools> {
  const queue = `fixture-${++queues}-\u00fc\u{1f642}`;
  const store = h.api.store;
  const job = (id: string, priority: number): NewJob => ({
    queue,
    id,
    payload: { fixture: id },
    timeout: 300,
    max_retries: 1,
    priority,
  });
  const jobs = [job('dead', 2), job('running', 1), job('pending', 0), job('cancelled', 0)];
  await Promise.all(jobs.map((j) => store.enqueue(j)));
  for (const j of jobs) h.ledger.add(j);
  const claimed = await store.claim(queue, 2);
  const runId = claimed.find((j) => j.id === 'running')?.run_id;
  if (!runId) throw new Error(`the fixture claim took ${claimed.map((j) => j.id).join(', ')}`);
  await Promise.all([
    store.fail(queue, 'dead', { error: 'fixture', retry: false }),
    store.cancel(queue, 'cancelled'),
  ]);
  return {
    queues: [queue, 'q', '\u0000', '#', '0#q', 'a/b', '..', ' ', '\ud800', '\u00e9'.repeat(512)],
    ids: ['pending', 'running', 'dead', 'cancelled', 'x'],
    runIds: [runId, runId.toUpperCase(), SOME_RUN_ID],
  };
}

// ---------------------------------------------------------------------------------------------
// Requests for one route
// ---------------------------------------------------------------------------------------------

type Pairs = readonly (readonly [string, string])[];

/** The names each path parameter draws from. */
const namesFor = (pools: Pools): Readonly<Record<string, readonly string[]>> => ({
  queue: pools.queues,
  id: pools.ids,
  run_id: pools.runIds,
});

/** Path parameters naming the route's fixture jobs (or jobs that do not exist). */
function knownParams(route: Route, pools: Pools): fc.Arbitrary<Record<string, Segment>> {
  const names = namesFor(pools);
  const param = (p: string) => fc.constantFrom(...(names[p] ?? ['x'])).map((value): Segment => ({ value }));
  return fc.record(Object.fromEntries(paramsOf(route).map((p) => [p, param(p)])));
}

/** Path parameters of any kind: fixture names, awkward text, encoded garbage, overlong. */
function anyParams(route: Route, pools: Pools): fc.Arbitrary<Record<string, Segment>> {
  const names = namesFor(pools);
  return fc.record(Object.fromEntries(paramsOf(route).map((p) => [p, segment(names[p] ?? ['x'])])));
}

function validQuery(route: Route, pools: Pools): fc.Arbitrary<Pairs> {
  const params = Object.entries(QUERY[routeKey(route)] ?? {});
  return fc
    .tuple(
      ...params.map(([name, p]) => {
        const pair = p.valid(pools).map((v) => [[name, v] as const]);
        return p.required ? pair : fc.oneof(pair, fc.constant([]));
      }),
    )
    .map((pairs) => pairs.flat());
}

/** A valid query with one parameter set to an arbitrary value, dropped, or given twice. */
function mutatedQuery(route: Route, pools: Pools): fc.Arbitrary<Pairs> {
  const names = [...queryNames(route), 'unknown'];
  return fc
    .tuple(
      validQuery(route, pools),
      fc.constantFrom(...names),
      fc.constantFrom('set', 'drop', 'repeat'),
      queryValue,
    )
    .map(([pairs, name, change, value]) => {
      const others = pairs.filter(([n]) => n !== name);
      if (change === 'drop') return others;
      if (change === 'repeat') return [...pairs, [name, value] as const];
      return [...others, [name, value] as const];
    });
}

const query = (pairs: Pairs, raw = ''): string => renderQuery({ pairs, raw });

/** The route's valid body, if it reads one. */
const validBodyOf = (route: Route, pools: Pools): fc.Arbitrary<BodySpec | undefined> => {
  const kind = BODY[routeKey(route)];
  return kind ? validBody(kind, pools).map((json): BodySpec => ({ json })) : fc.constant(undefined);
};

interface Parts {
  readonly params: Record<string, Segment>;
  readonly twist?: PathTwist;
  readonly query: string;
  readonly contentType?: string | undefined;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body: BodySpec | undefined;
  readonly latin1?: boolean;
}

const toRequest = (route: Route, p: Parts): RequestSpec => ({
  method: route.method,
  path: renderPath(route.path, p.params, p.twist ?? 'none'),
  query: p.query,
  contentType: p.body === undefined ? undefined : 'contentType' in p ? p.contentType : 'application/json',
  headers: p.headers ?? [],
  body: p.body,
  latin1: p.latin1 ?? false,
});

const rarely = fc.oneof(
  { weight: 9, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

/**
 * A request to the route's fixture jobs with its example query and body (`ROUTE_EXAMPLES`), or the
 * given ones.
 */
function knownRequest(route: Route, pools: Pools, given: { body?: BodySpec; query?: string }): RequestSpec {
  const example = ROUTE_EXAMPLES[routeKey(route)];
  const names = namesFor(pools);
  const params = Object.fromEntries(paramsOf(route).map((p) => [p, { value: names[p]?.[0] ?? 'x' }]));
  const body =
    'body' in given
      ? given.body
      : example?.body === undefined
        ? undefined
        : { json: { value: example.body as fc.JsonValue } };
  return toRequest(route, { params, query: given.query ?? example?.query ?? '', body });
}

/** Query strings that once broke a route. */
const KNOWN_QUERIES: Readonly<Record<string, readonly { what: string; query: string; status?: number }[]>> = {
  'GET /v1/queues/{queue}/jobs/{id}/logs': [
    { what: 'a run_id of 1,010 bytes', query: `?run_id=${'x'.repeat(1_010)}` },
    { what: 'an after cursor that is not a log cursor', query: `?after=${cursorOf('q')}` },
  ],
  'GET /v1/jobs': [
    { what: 'a cursor of 1,100 bytes', query: `?cursor=${cursorOf('x'.repeat(1_100))}` },
    // Read lossily, these bytes would name the queue "\ufffd\ufffd\ufffd" (README "Status codes").
    { what: 'a queue written as the bytes of a lone surrogate', query: '?queue=%ED%A0%80', status: 400 },
  ],
  'GET /v1/queues/{queue}/dlq': [
    { what: 'a cursor of 1,100 bytes', query: `?cursor=${cursorOf('x'.repeat(1_100))}` },
  ],
  ...Object.fromEntries(
    [...seedKeys('GET', '/next'), ...seedKeys('DELETE', '/complete')].map((k) => [
      k,
      [
        {
          what: 'a queue written as the bytes of a lone surrogate',
          query: '?queue=%ED%A0%80&job_id=x',
          status: 400,
        },
      ],
    ]),
  ),
};

interface KnownCase {
  readonly what: string;
  readonly request: (pools: Pools) => RequestSpec;
  /** The status it must get, where that is pinned down. */
  readonly status?: number;
}

/**
 * Inputs that once broke the API, pinned for every route they apply to: whole bodies, one field
 * of a valid body (naming a new job, so a creating route creates it and reads it back), queries.
 */
function knownCases(route: Route): KnownCase[] {
  const kind = BODY[routeKey(route)];
  const bodies = kind ? KNOWN_BODIES : [];
  const mutations = kind ? knownMutations(kind) : [];
  return [
    ...bodies.map(({ what, body }) => ({
      what,
      request: (pools: Pools) => knownRequest(route, pools, { body }),
    })),
    ...mutations.map(({ what, mutation, status }, i) => ({
      what,
      status,
      request: (pools: Pools) => {
        const valid = exampleBody(kind as BodyKind, pools.queues[0] ?? 'q', `known-${i}`);
        return knownRequest(route, pools, { body: { json: mutate(valid, mutation) } });
      },
    })),
    ...(KNOWN_QUERIES[routeKey(route)] ?? []).map(({ what, query, status }) => ({
      what,
      status,
      request: (pools: Pools) => knownRequest(route, pools, { query }),
    })),
  ];
}

/** Arbitrary bodies, content types and encodings, on a request that is otherwise valid. */
const arbitraryBodies = (route: Route, pools: Pools) => {
  const kind = BODY[routeKey(route)];
  return fc
    .record({
      params: knownParams(route, pools),
      query: validQuery(route, pools).map((pairs) => query(pairs)),
      contentType,
      body: anyBody(kind ? validBody(kind, pools) : fc.constant({ value: {} })),
      latin1: rarely,
    })
    .map((p) => toRequest(route, p));
};

/** A valid request with one body field (or, for routes without a body, one query parameter) made wrong. */
const mutatedRequests = (route: Route, pools: Pools) => {
  const kind = BODY[routeKey(route)];
  const body: fc.Arbitrary<BodySpec | undefined> = kind
    ? fc.oneof(
        {
          weight: 5,
          arbitrary: fc
            .tuple(validBody(kind, pools), mutation(kind))
            .map(([b, m]) => ({ json: mutate(b, m) })),
        },
        { weight: 1, arbitrary: fc.record({ truncated: validBody(kind, pools), keep: fc.nat() }) },
      )
    : fc.constant(undefined);
  return fc
    .record({
      params: knownParams(route, pools),
      query: (kind ? validQuery(route, pools) : mutatedQuery(route, pools)).map((pairs) => query(pairs)),
      body,
    })
    .map((p) => toRequest(route, p));
};

/** The route's valid query followed by arbitrary pairs (repeats included) and raw text. */
const arbitraryQueries = (route: Route, pools: Pools) =>
  fc
    .record({
      params: knownParams(route, pools),
      query: fc
        .tuple(fc.oneof(validQuery(route, pools), fc.constant([])), anyQuery(queryNames(route), QUERY_NAMES))
        .map(([valid, q]: [Pairs, QuerySpec]) => query([...valid, ...q.pairs], q.raw)),
      body: validBodyOf(route, pools),
    })
    .map((p) => toRequest(route, p));

/** Arbitrary path parameters (encoded garbage, dot segments, overlong, unicode) and bent paths. */
const arbitraryPaths = (route: Route, pools: Pools) =>
  fc
    .record({
      params: anyParams(route, pools),
      twist: fc.constantFrom(...PATH_TWISTS),
      query: validQuery(route, pools).map((pairs) => query(pairs)),
      body: validBodyOf(route, pools),
    })
    .map((p) => toRequest(route, p));

/** A valid request with arbitrary extra headers and content types. */
const arbitraryHeaders = (route: Route, pools: Pools) =>
  fc
    .record({
      params: knownParams(route, pools),
      query: validQuery(route, pools).map((pairs) => query(pairs)),
      contentType,
      headers: anyHeaders,
      body: validBodyOf(route, pools),
    })
    .map((p) => toRequest(route, p));

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

const LISTINGS = ['GET /v1/jobs', 'GET /v1/queues'];
const isSeed = (r: Route) => /^(\/v1)?\/(enqueue|next|heartbeat|complete|reschedule)/.test(r.path);
const GROUPS = [
  { title: 'relay-rs v1 routes', routes: ROUTES.filter((r) => r.style === 'relay-v1' && !isSeed(r)) },
  { title: 'relay-rs seed routes', routes: ROUTES.filter(isSeed) },
  { title: 'relay v2 routes', routes: ROUTES.filter((r) => r.style === 'relay-v2') },
  {
    title: 'Relay native routes',
    routes: ROUTES.filter((r) => r.style === 'native' && !LISTINGS.includes(routeKey(r))),
  },
  // Listings read every queue: on a table of their own, their cost does not grow with the others' data.
  { title: 'Relay native listings', routes: ROUTES.filter((r) => LISTINGS.includes(routeKey(r))) },
];

it('puts every route of the route table in exactly one group', () => {
  const grouped = GROUPS.flatMap((g) => g.routes.map(routeKey)).sort();

  expect(grouped).toEqual(ROUTES.map(routeKey).sort());
});

/** Sends every generated request through `exchange`, which checks all this file promises. */
const check = (h: Harness, requests: fc.Arbitrary<RequestSpec>, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(requests, async (spec) => {
      await exchange(h, spec);
    }),
    { numRuns },
  );

describe.each(GROUPS)('$title', ({ routes }) => {
  const h = {} as Harness;
  const fixtures = new Map<string, Pools>();

  beforeAll(async () => {
    h.api = await startTestApi({ dispatch: 'sqs' });
    h.ledger = new Ledger();
    // Every route's jobs up front, concurrently: each route has a queue of its own.
    const arranged = await Promise.all(routes.map(() => arrange(h)));
    for (const [i, route] of routes.entries()) fixtures.set(routeKey(route), arranged[i] as Pools);
  });

  afterAll(async () => {
    await h.api.dispose();
  });

  describe.each(routes.map((route) => ({ key: routeKey(route), route })))('$key', ({ key, route }) => {
    let pools: Pools;
    const readsQuery = queryNames(route).length > 0;

    beforeAll(() => {
      pools = fixtures.get(key) as Pools;
    });

    const known = knownCases(route);
    if (known.length) {
      it.each(known.map((c) => [c.what, c] as const))(
        'never answers 5xx to %s',
        async (_what, { request, status }) => {
          const reply = await exchange(h, request(pools));

          if (status !== undefined) expect(reply.status, reply.text).toBe(status);
        },
      );
    }

    it('never answers 5xx to arbitrary bodies', async () => {
      await check(h, arbitraryBodies(route, pools), key in BODY ? RUNS.bodies : RUNS.unused);
    });

    if (key in BODY || readsQuery) {
      it('never answers 5xx to a valid request with one field made wrong', async () => {
        await check(h, mutatedRequests(route, pools), RUNS.mutations);
      });
    }

    it('never answers 5xx to arbitrary query strings', async () => {
      await check(h, arbitraryQueries(route, pools), readsQuery ? RUNS.queries : RUNS.unused);
    });

    it('never answers 5xx to arbitrary path parameters', async () => {
      await check(h, arbitraryPaths(route, pools), paramsOf(route).length ? RUNS.paths : RUNS.unused);
    });

    it('never answers 5xx to arbitrary headers', async () => {
      const readsSomething = key in BODY || readsQuery || paramsOf(route).length > 0;
      await check(h, arbitraryHeaders(route, pools), readsSomething ? RUNS.headers : RUNS.unused);
    });
  });

  it('holds afterwards only the jobs and idempotency keys that successful requests created', async () => {
    // A queue is registered (its layout fixed) the first time an enqueue names it, even one that
    // is then refused: docs/design.md, "Glossary". Registrations are not jobs and are not audited.
    const { strays } = await h.ledger.audit(h.api, true);

    expect(strays).toEqual([]);
  });

  it('lists through GET /v1/jobs exactly the jobs the table holds', async () => {
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const spec = plain('GET', '/v1/jobs', `?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      const reply = await send(h.api.url, spec);
      expect(reply.status, reply.text.slice(0, 300)).toBe(200);
      const page = JSON.parse(reply.text) as { jobs: Created[]; next_cursor: string | null };
      listed.push(...page.jobs.map((j) => jobKey(j.queue, j.id).pk));
      cursor = page.next_cursor;
    } while (cursor);

    const held = (await scan(h.api, false)).filter((i) => i.sk === JOB_SK).map((i) => String(i.pk));
    expect(listed.sort()).toEqual(held.sort());
  });
});

/** A fresh API over its own table, and the ledger of what successful requests created there. */
function harness(): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    h.api = await startTestApi({ dispatch: 'sqs' });
    h.ledger = new Ledger();
  });
  afterAll(async () => {
    await h.api.dispose();
  });
  return h;
}

describe('POST /v2/queues/jobs', () => {
  const h = harness();

  it('refuses a unique batch naming a live job, writing none of its jobs', async () => {
    const taken: NewJob = { queue: 'taken', id: 'x', payload: null, timeout: 30, max_retries: 0 };
    await h.api.store.enqueue(taken);
    h.ledger.add(taken);
    const batch = fc
      .tuple(fc.uniqueArray(fc.uuid(), { minLength: 1, maxLength: 3 }), fc.nat())
      .map(([queues, at]) => {
        const jobs = queues.map((queue) => ({ queue, id: 'x', timeout: 30, payload: null }));
        jobs.splice(at % (jobs.length + 1), 0, {
          queue: taken.queue,
          id: taken.id,
          timeout: 30,
          payload: null,
        });
        return jobs;
      });

    await fc.assert(
      fc.asyncProperty(batch, async (jobs) => {
        const spec = { ...plain('POST', '/v2/queues/jobs', '?mode=unique'), body: { json: { value: jobs } } };
        const reply = await exchange(h, { ...spec, contentType: 'application/json' });

        expect(reply.status).toBe(409);
        expect((await h.ledger.audit(h.api, false)).strays).toEqual([]);
      }),
      { numRuns: 5 },
    );
  });
});

describe('requests off the route table', () => {
  const h = harness();

  it('never answers 5xx to arbitrary methods and paths', async () => {
    const words = [
      ...new Set(ROUTES.flatMap((r) => r.path.split('/')).filter((w) => w && !w.startsWith('{'))),
    ];
    const requests = fc
      .record({
        // Methods node's parser knows: it answers others 400 itself, before any handler runs.
        method: fc.constantFrom(...METHODS, 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL'),
        // Node refuses more than 16 KiB of request line and headers (431) before any handler runs.
        segments: fc
          .array(segment(words), { maxLength: 7 })
          .filter((ss) => ss.map(renderSegment).join('/').length < 8_000),
        trailing: rarely,
      })
      .map(({ method, segments, trailing }) =>
        plain(method, `/${segments.map(renderSegment).join('/')}${trailing ? '/' : ''}`),
      );

    await check(h, requests, RUNS.offTable);
  });
});
