/**
 * The OpenAPI 3.1 document of Relay's HTTP API (`GET /openapi.json`), generated from the route
 * table (routes.ts), what route-docs.ts says of each route, and the zod schemas the operations
 * validate with (zod 4's `z.toJSONSchema`, JSON Schema 2020-12 as OpenAPI 3.1 uses it).
 *
 * Error answers follow errors.ts, added from each route's shape: a path parameter can be a 400, a
 * query a 400, a JSON body 400 (malformed), 413 (too large), 415 (not JSON) or 422 (wrong shape); a
 * busy store is 429 on relay-rs v1 and seed routes and 503 elsewhere, with `Retry-After`; 401 and
 * 403 are the edge's (a local server's token and Origin checks, IAM on AWS). A route of the table
 * with no entry in route-docs.ts fails the generation, naming it.
 */
import * as z from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { type Answer, type DomainStatus, ROUTE_DOCS, type RouteDoc } from './route-docs.ts';
import { ROUTES, type Route, routeKey } from './routes.ts';
import { WORKER_HEADER } from './run-schemas.ts';
import { childJob, nativeJob, relayV1Job, relayV2Job } from './schemas.ts';
import * as views from './view-schemas.ts';
import { errorView } from './view-schemas.ts';

export const OPENAPI_VERSION = '3.1.1';

type Schema = Record<string, unknown>;
type Response = { description: string; headers?: Schema; content?: Schema };

/** The schemas the document names (`components.schemas`), each written once and referred to. */
const NAMES = z.registry<{ id: string }>();
for (const [schema, id] of [
  [errorView, 'Error'],
  [nativeJob, 'NewJob'],
  [childJob, 'ChildJob'],
  [relayV1Job, 'RelayV1NewJob'],
  [relayV2Job, 'RelayV2NewJob'],
  [views.nativeJobView, 'Job'],
  [views.relayV1JobView, 'RelayV1Job'],
  [views.relayV2JobView, 'RelayV2Job'],
  [views.jobPageView, 'JobPage'],
  [views.queueView, 'Queue'],
  [views.queueLimitsView, 'QueueLimits'],
  [views.scheduleView, 'Schedule'],
  [views.bulkReportView, 'BulkReport'],
] as const) {
  NAMES.add(schema, { id });
}

/**
 * JSON Schemas of zod schemas. The definitions one names (`NAMES`) are hoisted into the document's
 * `components.schemas`, where OpenAPI resolves `$ref`s. A date-time's `format` says what its
 * regular expression would, in a twentieth of the space.
 */
class Schemas {
  readonly components: Record<string, Schema> = {};

  of(schema: z.ZodType, io: 'input' | 'output'): Schema {
    const {
      $schema: _,
      $defs,
      ...json
    } = z.toJSONSchema(schema, {
      io,
      unrepresentable: 'any',
      metadata: NAMES,
      override: ({ jsonSchema }) => {
        if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
      },
    }) as Schema;
    for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, Schema>)) {
      const hoisted = JSON.stringify(this.rewrite(def));
      const known = this.components[name];
      if (known && JSON.stringify(known) !== hoisted) {
        throw new Error(`two different schemas are both named ${name}: give one another .meta({ id })`);
      }
      this.components[name] = JSON.parse(hoisted);
    }
    return this.rewrite(json);
  }

  private rewrite(json: Schema): Schema {
    return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/'));
  }
}

const DOMAIN_ERRORS: Record<DomainStatus, string> = {
  403: 'The job or schedule runs a command: only the managed routes (/v1/managed/…) start commands.',
  404: 'No such job, run or schedule.',
  409: 'Conflict: the id exists, or the job is not in a state this change applies to.',
  422: 'The body is well-formed but not a request this route takes.',
};

/** The error answers a route can give, by status, with why. */
function errorsOf(route: Route, doc: RouteDoc): Map<number, string[]> {
  const errors = new Map<number, string[]>();
  const add = (status: number, why: string) => errors.set(status, [...(errors.get(status) ?? []), why]);
  if (route.path.includes('{')) add(400, 'A path parameter is not a valid name (or run id).');
  if (doc.query) add(400, 'A query parameter is missing, unknown or malformed.');
  if (doc.claims) add(400, `The \`${WORKER_HEADER}\` header is not 1 to 256 printable ASCII characters.`);
  if (doc.body) {
    add(400, 'The body is not JSON.');
    add(413, 'The body, or its payload and state, is too large.');
    add(415, 'The body is not sent as `application/json`.');
    add(422, 'The body is JSON of the wrong shape.');
  }
  for (const status of doc.errors ?? []) add(status, DOMAIN_ERRORS[status]);
  if (route.group === 'managed' && !doc.errors?.includes(404)) add(404, 'Managed jobs are not enabled.');
  else if (route.group === 'managed') add(404, 'Or managed jobs are not enabled.');
  add(401, 'Local server started with a token: the request has no `Authorization: Bearer <token>`.');
  add(403, 'IAM refused the request (AWS), or a browser sent it from another origin (local server).');
  if (doc.store ?? true) {
    add(route.style === 'relay-v1' ? 429 : 503, 'DynamoDB is busy: try again after `Retry-After` seconds.');
  }
  return errors;
}

const retryAfter = {
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
};

function responsesOf(route: Route, doc: RouteDoc, schemas: Schemas): Record<string, Response> {
  const responses: Record<string, Response> = {};
  const head = route.method === 'HEAD';
  for (const [status, answer] of Object.entries(doc.ok) as [string, Answer][]) {
    responses[status] = {
      description: answer.description,
      ...(answer.body && !head
        ? { content: { 'application/json': { schema: schemas.of(answer.body, 'output') } } }
        : {}),
    };
  }
  const errorContent =
    route.style === 'native'
      ? { 'application/json': { schema: schemas.of(errorView, 'output') } }
      : { 'text/plain': { schema: { type: 'string' } } };
  for (const [status, why] of [...errorsOf(route, doc)].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: why.join(' '),
      ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
      ...(head ? {} : { content: errorContent }),
    };
  }
  return responses;
}

function parametersOf(route: Route, doc: RouteDoc, schemas: Schemas): Schema[] {
  const inPath = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'run_id' ? { type: 'string', format: 'uuid' } : { type: 'string', minLength: 1 },
  }));
  const query = doc.query ? schemas.of(doc.query, 'input') : {};
  const required = (query.required ?? []) as string[];
  const inQuery = Object.entries((query.properties ?? {}) as Record<string, Schema>).map(
    ([name, schema]) => ({
      name,
      in: 'query',
      required: required.includes(name),
      schema,
    }),
  );
  const worker = doc.claims
    ? [
        {
          name: WORKER_HEADER,
          in: 'header',
          required: false,
          description: "The claimer's name, kept with each run it starts (printable ASCII, at most 256).",
          schema: { type: 'string', minLength: 1, maxLength: 256 },
        },
      ]
    : [];
  return [...inPath, ...inQuery, ...worker];
}

/** A tag per part of the API, from the route's style and path. */
function tagOf(route: Route): string {
  if (route.path === '/health' || route.path === '/openapi.json') return 'meta';
  if (route.group === 'managed') return 'managed jobs';
  if (route.style === 'relay-v2') return 'relay v2';
  if (route.style === 'relay-v1')
    return route.path.startsWith('/v1/queues') ? 'relay-rs v1' : 'relay-rs seed';
  if (route.path.includes('/schedules')) return 'schedules';
  if (route.path.includes('/dlq')) return 'dead letters';
  if (route.path.includes('/jobs')) return 'jobs';
  return 'queues';
}

const operationId = (route: Route) =>
  `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c?: string) => (c ? c.toUpperCase() : ''))}`;

function operationOf(route: Route, doc: RouteDoc, schemas: Schemas): Schema {
  const parameters = parametersOf(route, doc, schemas);
  return {
    operationId: operationId(route),
    summary: doc.summary,
    tags: [tagOf(route)],
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: !doc.optionalBody,
            content: { 'application/json': { schema: schemas.of(doc.body, 'input') } },
          },
        }
      : {}),
    responses: responsesOf(route, doc, schemas),
  };
}

/** The document; throws naming a route of the table that route-docs.ts does not describe. */
export function openApiDocument(
  routes: readonly Route[] = ROUTES,
  docs: Readonly<Record<string, RouteDoc>> = ROUTE_DOCS,
): Schema {
  const schemas = new Schemas();
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const doc = docs[routeKey(route)];
    if (!doc) {
      throw new Error(`${routeKey(route)} has no OpenAPI entry: describe it in functions/api/route-docs.ts`);
    }
    paths[route.path] = {
      ...paths[route.path],
      [route.method.toLowerCase()]: operationOf(route, doc, schemas),
    };
  }
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'Relay',
      version: packageJson.version,
      description:
        "Relay's HTTP API: relay-rs's routes (v1, seed and v2) and Relay's native routes. On AWS every " +
        'request is signed with SigV4 (IAM); the local server asks for a bearer token only when it ' +
        'binds beyond loopback. The managed routes exist where managed jobs are enabled.',
    },
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'AWS Signature Version 4 (API Gateway IAM authorization).',
        },
        bearer: { type: 'http', scheme: 'bearer', description: 'The local server’s RELAY_TOKEN.' },
      },
    },
    security: [{ sigv4: [] }, { bearer: [] }, {}],
  };
}
