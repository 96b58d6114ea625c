/**
 * The route table: every HTTP route Relay serves, which Lambda function (group) serves it and how
 * its errors are written. The local server and the CDK API are both built from this list, so the
 * two cannot drift. It imports nothing heavy: CDK reads it at synth time.
 */

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];

/**
 * Route groups, one Lambda function each: `relay` serves workers and producers speaking relay-rs's
 * contract, `jobs` serves Relay's native API, and `managed` the native routes that start commands
 * (submit, retry and requeue managed jobs, one by one or in bulk; define, resume and trigger schedules of managed jobs).
 * Starting a command is a permission of its own: on AWS
 * the managed routes are distinct IAM resources, granted apart from the others.
 */
export const GROUPS = ['relay', 'jobs', 'managed'] as const;
export type RouteGroup = (typeof GROUPS)[number];

/**
 * How a route writes errors. relay-rs routes answer plain text; `relay-v1` (and the seed routes)
 * answer 429 when the store is busy, `relay-v2` 503 as relay's v2 does; `native` answers a JSON
 * error envelope and 503.
 */
export type ErrorStyle = 'relay-v1' | 'relay-v2' | 'native';

export interface Route {
  readonly method: Method;
  /** Path in API Gateway's syntax: `{name}` matches one non-empty segment. */
  readonly path: string;
  readonly group: RouteGroup;
  readonly style: ErrorStyle;
}

const relay = (method: Method, path: string, style: ErrorStyle = 'relay-v1'): Route => ({
  method,
  path,
  group: 'relay',
  style,
});
const native = (method: Method, path: string): Route => ({ method, path, group: 'jobs', style: 'native' });
const managed = (method: Method, path: string): Route => ({
  method,
  path,
  group: 'managed',
  style: 'native',
});

/** Where the routes that start commands live; nothing else does. */
export const MANAGED_PREFIX = '/v1/managed/';

/** relay-rs's seed routes, served both bare and with the `/v1` prefix its README documents. */
const seed = (method: Method, path: string): Route[] => [relay(method, path), relay(method, `/v1${path}`)];

export const ROUTES: readonly Route[] = [
  relay('GET', '/health'),
  // The OpenAPI document of every route here.
  native('GET', '/openapi.json'),

  // relay-rs v1, RESTful.
  relay('POST', '/v1/queues/jobs'),
  relay('PUT', '/v1/queues/jobs'),
  relay('GET', '/v1/queues/{queue}/jobs'),
  relay('HEAD', '/v1/queues/{queue}/jobs/{id}'),
  relay('GET', '/v1/queues/{queue}/jobs/{id}'),
  relay('PATCH', '/v1/queues/{queue}/jobs/{id}'),
  relay('DELETE', '/v1/queues/{queue}/jobs/{id}'),

  // relay-rs seed routes.
  ...seed('POST', '/enqueue'),
  ...seed('POST', '/enqueue/batch'),
  ...seed('GET', '/next'),
  ...seed('PATCH', '/heartbeat'),
  ...seed('DELETE', '/complete'),
  ...seed('POST', '/reschedule'),

  // relay v2: runs fenced by run id.
  relay('POST', '/v2/queues/jobs', 'relay-v2'),
  relay('GET', '/v2/queues/{queue}/jobs', 'relay-v2'),
  relay('HEAD', '/v2/queues/{queue}/jobs/{id}', 'relay-v2'),
  relay('GET', '/v2/queues/{queue}/jobs/{id}', 'relay-v2'),
  relay('DELETE', '/v2/queues/{queue}/jobs/{id}', 'relay-v2'),
  relay('PATCH', '/v2/queues/{queue}/jobs/{id}/run-id/{run_id}', 'relay-v2'),
  relay('PUT', '/v2/queues/{queue}/jobs/{id}/run-id/{run_id}', 'relay-v2'),
  relay('DELETE', '/v2/queues/{queue}/jobs/{id}/run-id/{run_id}', 'relay-v2'),

  // Relay native.
  native('POST', '/v1/jobs'),
  native('GET', '/v1/jobs'),
  native('GET', '/v1/queues'),
  native('GET', '/v1/queues/{queue}/stats'),
  native('POST', '/v1/queues/{queue}/pause'),
  native('POST', '/v1/queues/{queue}/resume'),
  native('GET', '/v1/queues/{queue}/settings'),
  native('PUT', '/v1/queues/{queue}/settings'),
  native('GET', '/v1/queues/{queue}/limits'),
  native('PUT', '/v1/queues/{queue}/limits'),
  native('GET', '/v1/queues/{queue}/jobs/{id}/status'),
  native('GET', '/v1/queues/{queue}/jobs/{id}/logs'),
  native('GET', '/v1/queues/{queue}/jobs/{id}/runs'),
  native('POST', '/v1/queues/{queue}/jobs/{id}/fail'),
  native('POST', '/v1/queues/{queue}/jobs/{id}/cancel'),
  native('POST', '/v1/queues/{queue}/jobs/{id}/retry'),
  native('POST', '/v1/queues/{queue}/jobs/bulk'),
  native('GET', '/v1/queues/{queue}/dlq'),
  native('POST', '/v1/queues/{queue}/dlq/requeue'),
  native('POST', '/v1/queues/{queue}/dlq/{id}/requeue'),
  native('DELETE', '/v1/queues/{queue}/dlq/{id}'),
  native('POST', '/v1/schedules'),
  native('GET', '/v1/schedules'),
  native('GET', '/v1/schedules/{name}'),
  native('PUT', '/v1/schedules/{name}'),
  native('DELETE', '/v1/schedules/{name}'),
  native('POST', '/v1/schedules/{name}/pause'),
  native('POST', '/v1/schedules/{name}/resume'),
  native('POST', '/v1/schedules/{name}/trigger'),

  // Relay native, starting commands: managed jobs are submitted, retried and requeued only here.
  managed('POST', '/v1/managed/jobs'),
  managed('POST', '/v1/managed/queues/{queue}/jobs/{id}/retry'),
  managed('POST', '/v1/managed/queues/{queue}/jobs/bulk'),
  managed('POST', '/v1/managed/queues/{queue}/dlq/requeue'),
  managed('POST', '/v1/managed/queues/{queue}/dlq/{id}/requeue'),
  // Schedules whose job runs a command: created, redefined, resumed and triggered only here.
  managed('POST', '/v1/managed/schedules'),
  managed('PUT', '/v1/managed/schedules/{name}'),
  managed('POST', '/v1/managed/schedules/{name}/resume'),
  managed('POST', '/v1/managed/schedules/{name}/trigger'),
];

/** `METHOD /path`, API Gateway's route key. */
export const routeKey = (route: Pick<Route, 'method' | 'path'>): string => `${route.method} ${route.path}`;

export interface RouteMatch {
  readonly route: Route;
  /** Path parameters, percent-decoded. */
  readonly params: Record<string, string>;
}

/** Splits a raw path into segments; a malformed percent-escape makes the path match nothing. */
function segments(rawPath: string): string[] | undefined {
  try {
    return rawPath.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** A route with its pattern split into segments once, at load, rather than at every request. */
interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

const literalScore = (path: string) =>
  path
    .split('/')
    .map((p, i) => (p.startsWith('{') ? 0 : 2 ** (16 - i)))
    .reduce((a, b) => a + b, 0);

/**
 * Every route, most specific first: literal segments win over parameters (as in API Gateway). Each
 * score is computed once, not at every comparison: this runs at every cold start.
 */
const COMPILED: readonly CompiledRoute[] = ROUTES.map((route) => ({ route, score: literalScore(route.path) }))
  .sort((a, b) => b.score - a.score)
  .map(({ route }) => ({ route, segments: route.path.split('/').slice(1) }));

function matchPath(want: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (want.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, piece] of want.entries()) {
    const part = parts[i] as string;
    if (piece.startsWith('{')) {
      if (part === '') return undefined;
      params[piece.slice(1, -1)] = part;
    } else if (piece !== part) return undefined;
  }
  return params;
}

/**
 * Finds the route for a request, or the methods the path allows when the method is wrong. Literal
 * segments win over parameters (as in API Gateway), so `POST /v1/queues/jobs` is the enqueue route.
 */
export function matchRoute(
  method: string,
  rawPath: string,
): RouteMatch | { readonly allowed: Method[] } | undefined {
  const parts = segments(rawPath);
  if (!parts) return undefined;
  const allowed = new Set<Method>();
  for (const { route, segments: want } of COMPILED) {
    const params = matchPath(want, parts);
    if (!params) continue;
    // Like API Gateway: the most specific route among those for this method.
    if (route.method === method) return { route, params };
    allowed.add(route.method);
  }
  return allowed.size ? { allowed: [...allowed] } : undefined;
}
