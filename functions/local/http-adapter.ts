/**
 * A node:http server that turns requests into API Gateway HTTP API (payload 2.0) events for the
 * real Lambda handlers, as API Gateway would: routes from the shared route table, the group's
 * handler for a matched route, the fallback handler (404/405) otherwise.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import type { ApiEvent, ApiHandler } from '../api/handler.ts';
import { MAX_BODY_BYTES } from '../api/http.ts';
import { matchRoute, type RouteGroup, routeKey } from '../api/routes.ts';
import { describeError, log } from '../core/log.ts';

export type GroupHandlers = Record<RouteGroup | 'fallback', ApiHandler>;

export interface HttpAdapterOptions {
  readonly handlers: GroupHandlers;
  readonly host?: string;
  readonly port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
}

export interface HttpAdapter {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The event API Gateway would send for this request. */
export function toEvent(req: IncomingMessage, body: string | undefined): ApiEvent {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const rawQueryString = q === -1 ? '' : rawUrl.slice(q + 1);
  const method = req.method ?? 'GET';
  const match = matchRoute(method, rawPath);
  const key = match && 'route' in match ? routeKey(match.route) : '$default';

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  const now = new Date();
  return {
    version: '2.0',
    routeKey: key,
    rawPath,
    rawQueryString,
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: match && 'route' in match ? match.params : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: key,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: false,
  };
}

function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string) {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startHttpAdapter(options: HttpAdapterOptions): Promise<HttpAdapter> {
  const server = createServer(async (req, res) => {
    try {
      if (!authorized(req, options.token)) {
        return send(
          res,
          401,
          { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer' },
          'unauthorized',
        );
      }
      let body: string | undefined;
      try {
        body = await readBody(req);
      } catch (error) {
        if (error instanceof TooLarge) {
          return send(
            res,
            413,
            { 'content-type': 'text/plain; charset=utf-8', connection: 'close' },
            'request body too large',
          );
        }
        throw error;
      }
      const event = toEvent(req, body);
      const match = matchRoute(event.requestContext.http.method, event.rawPath);
      const group = match && 'route' in match ? match.route.group : 'fallback';
      const result = await options.handlers[group](event, lambdaContext(`relay-${group}`));
      send(
        res,
        result.statusCode ?? 200,
        (result.headers ?? {}) as Record<string, string>,
        req.method === 'HEAD' ? '' : (result.body ?? ''),
      );
    } catch (error) {
      log('error', 'local adapter failed', describeError(error));
      if (!res.headersSent)
        send(res, 500, { 'content-type': 'text/plain; charset=utf-8' }, 'internal server error');
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
