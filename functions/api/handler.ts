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
import { LIMITS } from '../jobs/model.ts';
import { type ApiContext, contextFromEnv, type Operations } from './context.ts';
import { errorResponse, isExpected } from './errors.ts';
import { HttpError, type HttpRequest, type HttpResponse } from './http.ts';
import { managedOperations } from './managed-operations.ts';
import { nativeOperations } from './native-operations.ts';
import { relayOperations } from './relay-operations.ts';
import { type ErrorStyle, matchRoute, type RouteGroup, routeKey } from './routes.ts';

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;
export type ApiHandler = middy.MiddyfiedHandler<ApiEvent, ApiResult>;

export const OPERATIONS: Record<RouteGroup, Operations> = {
  relay: relayOperations,
  jobs: nativeOperations,
  managed: managedOperations,
};

/**
 * The error style for whatever route a request was for: a wrong method answers in the style of the
 * path's own routes (a native path's 405 is a JSON error too); unknown routes answer plain text.
 */
function styleOf(event: ApiEvent): ErrorStyle {
  const match = matchRoute(event.requestContext.http.method, event.rawPath);
  const routed = match && !('route' in match) ? matchRoute(match.allowed[0] ?? '', event.rawPath) : match;
  return routed && 'route' in routed ? routed.route.style : 'relay-v1';
}

/**
 * Path parameters name queues and jobs, so they share the body's 1,024-byte limit; a longer one
 * would reach DynamoDB as an oversized key (the queue registry's sort key) and fail there.
 */
function checkParams(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) {
    if (Buffer.byteLength(value, 'utf8') > LIMITS.nameBytes) {
      throw new HttpError(400, `Invalid URL: \`${name}\` must be at most ${LIMITS.nameBytes} bytes`);
    }
  }
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
 * The handler for one route group (or `fallback`, API Gateway's `$default` route: 404 for unknown
 * paths, 405 with `Allow` for a known path and wrong method).
 */
export function createApiHandler(
  group: RouteGroup | 'fallback',
  context: () => ApiContext = contextFromEnv,
): ApiHandler {
  return middy<ApiEvent, ApiResult>()
    .use(httpErrors())
    .handler(async (event) => {
      const method = event.requestContext.http.method;
      const match = matchRoute(method, event.rawPath);
      if (!match) throw new HttpError(404, 'not found');
      if (!('route' in match)) {
        throw new HttpError(405, 'method not allowed', 'method_not_allowed', {
          allow: match.allowed.join(', '),
        });
      }
      if (group !== 'fallback' && match.route.group !== group) throw new HttpError(404, 'not found');
      const operation = OPERATIONS[match.route.group][routeKey(match.route)];
      if (!operation) throw new Error(`no operation for ${routeKey(match.route)}`);
      checkParams(match.params);
      return toResult(await operation(toRequest(event, match.params), context()), method);
    });
}
