/**
 * Lambda handlers for API Gateway HTTP API (payload format 2.0), one per route group.
 *
 * A handler finds its operation by route, parses nothing itself (operations validate with zod), and
 * leaves every error to one middleware that writes it with `errorResponse`. The local server feeds
 * these same handlers the same event shape.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describeError, log } from '../core/log.ts';
import { withMetricBatch } from '../core/metric-batch.ts';
import type { ApiContext, Operations } from './context.ts';
import { errorResponse, isExpected } from './errors.ts';
import { HttpError, type HttpRequest, type HttpResponse } from './http.ts';
import { type ErrorStyle, matchRoute, type Route, type RouteGroup, routeKey } from './routes.ts';
import { name } from './schemas.ts';

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;
export type ApiHandler = middy.MiddyfiedHandler<ApiEvent, ApiResult>;

/** Whether a path segment percent-decodes to UTF-8 (`%ED%A0%80`, `%FF` and `%ZZ` do not). */
function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/** Stands in for a segment that does not decode: no route has it as a literal. */
const STAND_IN = '_';

/** A segment whose every `%` starts an escape: a URL, if not necessarily one of UTF-8. */
const escapesWell = (segment: string): boolean => !/%(?![0-9a-f]{2})/i.test(segment);

/**
 * The path to route by, and which of its segments are well-formed escapes of bytes that are not
 * UTF-8 (`%ED%A0%80` is how a lone surrogate would be written; `%FF`). Such a segment matches no
 * route by itself; with a stand-in the request finds its route, and the parameter it fills is named
 * in a 400 rather than a 404. A broken escape (`%ZZ`) leaves the path matching nothing, as before.
 */
function routablePath(rawPath: string): { path: string; undecodable: number[] } {
  const segments = rawPath.split('/');
  const undecodable = segments.flatMap((segment, i) =>
    escapesWell(segment) && !decodes(segment) ? [i] : [],
  );
  if (!undecodable.length) return { path: rawPath, undecodable };
  return {
    path: segments.map((segment, i) => (undecodable.includes(i) ? STAND_IN : segment)).join('/'),
    undecodable,
  };
}

/** The route's parameters at these segment positions. */
const paramsAt = (route: Route, positions: readonly number[]): string[] =>
  positions.map((i) => route.path.split('/')[i]?.slice(1, -1) ?? '');

/**
 * The error style of the route a request matched (or of any route of its path, for a wrong method:
 * a native path's 405 is a JSON error too); unknown routes answer plain text.
 */
function styleOfMatch(path: string, match: ReturnType<typeof matchRoute>): ErrorStyle {
  const routed = match && !('route' in match) ? matchRoute(match.allowed[0] ?? '', path) : match;
  return routed && 'route' in routed ? routed.route.style : 'relay-v1';
}

/** The error style for whatever route a request was for (see `styleOfMatch`). */
export function errorStyleOf(method: string, rawPath: string): ErrorStyle {
  const { path } = routablePath(rawPath);
  return styleOfMatch(path, matchRoute(method, path));
}

/**
 * The error style of each request the handler has routed, so that an error is written without
 * matching the route again: a request is matched once.
 */
const routedStyles = new WeakMap<ApiEvent, ErrorStyle>();

const styleOf = (event: ApiEvent): ErrorStyle =>
  routedStyles.get(event) ?? errorStyleOf(event.requestContext.http.method, event.rawPath);

/**
 * Path parameters name queues and jobs, so they pass the same checks as names in a body: at most
 * 1,024 bytes (a longer one would reach DynamoDB as an oversized key, the queue registry's sort
 * key, and fail there) and well-formed Unicode.
 */
function checkParams(params: Record<string, string>): void {
  for (const [param, value] of Object.entries(params)) {
    const parsed = paramSchema(param).safeParse(value);
    if (!parsed.success) throw new HttpError(400, `Invalid URL: ${parsed.error.issues[0]?.message}`);
  }
}

/** Each path parameter's schema, built once: the routes name a handful of parameters. */
const paramSchemas = new Map<string, ReturnType<typeof name>>();
function paramSchema(param: string): ReturnType<typeof name> {
  const known = paramSchemas.get(param);
  if (known) return known;
  const schema = name(`\`${param}\``);
  paramSchemas.set(param, schema);
  return schema;
}

/** Whether a query value's percent-escapes decode to UTF-8; a `%` that starts no escape is text. */
function decodesToUtf8(value: string): boolean {
  return (value.match(/(?:%[0-9a-f]{2})+/gi) ?? []).every(decodes);
}

/** Names of the query parameters whose value does not decode to UTF-8 (`HttpRequest.malformedQuery`). */
function malformedQuery(rawQuery: string): string[] {
  return rawQuery.split('&').flatMap((pair) => {
    const at = pair.indexOf('=');
    if (at === -1 || decodesToUtf8(pair.slice(at + 1))) return [];
    const param = pair.slice(0, at).replaceAll('+', ' ');
    return [decodes(param) ? decodeURIComponent(param) : param];
  });
}

function toRequest(event: ApiEvent, params: Record<string, string>): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const body =
    event.body === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString()
        : event.body;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    params,
    query: event.queryStringParameters ?? {},
    malformedQuery: malformedQuery(event.rawQueryString ?? ''),
    headers,
    body,
  };
}

function toResult(response: HttpResponse, method: string): ApiResult {
  return {
    statusCode: response.statusCode,
    headers: response.headers ?? {},
    // HEAD answers carry no body, whatever the operation wrote.
    body: method === 'HEAD' ? '' : (response.body ?? ''),
  };
}

/** Writes any error as the route's style of response: the one place errors become HTTP. */
const httpErrors = (): middy.MiddlewareObj<ApiEvent, ApiResult> => ({
  onError: async (request) => {
    const style = styleOf(request.event);
    if (!isExpected(request.error, style)) {
      log('error', 'request failed', {
        route: request.event.routeKey,
        path: request.event.rawPath,
        ...describeError(request.error),
      });
    }
    request.response = toResult(
      errorResponse(request.error, style),
      request.event.requestContext.http.method,
    );
  },
});

/**
 * The handler for one route group, running its `operations`, or `fallback`: API Gateway's
 * `$default` route, which runs none. It answers 404 for unknown paths and 405 with `Allow` for a
 * known path and wrong method; a request for a route that reaches it (API Gateway did not route it
 * to the route's own function) is a 404 too, so the route's IAM resource is the only way in.
 */
export function createApiHandler(
  group: RouteGroup | 'fallback',
  operations: Operations,
  context: () => ApiContext,
): ApiHandler {
  return middy<ApiEvent, ApiResult>()
    .use(httpErrors())
    .handler(async (event) => {
      const method = event.requestContext.http.method;
      const { path, undecodable } = routablePath(event.rawPath);
      const match = matchRoute(method, path);
      routedStyles.set(event, styleOfMatch(path, match));
      if (!match) throw new HttpError(404, 'not found');
      if (!('route' in match)) {
        throw new HttpError(405, 'method not allowed', 'method_not_allowed', {
          allow: match.allowed.join(', '),
        });
      }
      // A path parameter no route could take is the caller's mistake wherever the request landed.
      const [unreadable] = paramsAt(match.route, undecodable);
      if (unreadable !== undefined) {
        throw new HttpError(400, `Invalid URL: \`${unreadable}\` is not percent-encoded UTF-8`);
      }
      checkParams(match.params);
      if (match.route.group !== group) throw new HttpError(404, 'not found');
      const operation = operations[routeKey(match.route)];
      if (!operation) throw new Error(`no operation for ${routeKey(match.route)}`);
      // One EMF document per queue for the whole request: a claim of 100 jobs is one line, not 100.
      const response = await withMetricBatch(() => operation(toRequest(event, match.params), context()));
      return toResult(response, method);
    });
}
