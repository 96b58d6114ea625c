/**
 * A node:http server that turns requests into API Gateway HTTP API (payload 2.0) events for the
 * real Lambda handlers, as API Gateway would: routes from the shared route table, the group's
 * handler for a matched route, the fallback handler (404/405) otherwise.
 *
 * It is also the local stack's edge, where on AWS API Gateway and IAM stand: before any handler
 * runs it refuses requests addressed to another host (421), browsers' cross-origin requests (403)
 * and, with a token, API requests without it (401). Its refusals are written like the route's own
 * errors: plain text on relay-rs routes, the JSON error envelope on native ones.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Context } from 'aws-lambda';
import { errorResponse } from '../api/errors.ts';
import { type ApiEvent, type ApiResult, errorStyleOf } from '../api/handler.ts';
import { HttpError, MAX_BODY_BYTES } from '../api/http.ts';
import { matchRoute, type RouteGroup, routeKey } from '../api/routes.ts';
import { describeError, log } from '../core/log.ts';

/** What serves a route group: a Lambda handler, called as Lambda calls it. */
export type GroupHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
export type GroupHandlers = Record<RouteGroup | 'fallback', GroupHandler>;

/** The variable that lists extra host names the local server answers to. */
export const ALLOWED_HOSTS_VARIABLE = 'RELAY_ALLOWED_HOSTS';

export interface HttpAdapterOptions {
  readonly handlers: GroupHandlers;
  /** The address to bind. @default '127.0.0.1' */
  readonly host?: string;
  readonly port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /**
   * Host names the server answers to besides its own address and loopback names, on any port:
   * names a proxy, a tunnel or a container network puts in front of it.
   * @default the comma-separated names in `RELAY_ALLOWED_HOSTS`, else none
   */
  readonly allowedHosts?: readonly string[];
  /**
   * What the local server answers itself on GET and HEAD, by path, after the same Host, Origin and
   * token checks as the API: what has no Lambda route, such as `/metrics`.
   */
  readonly pages?: Readonly<Record<string, LocalPage>>;
  /**
   * Serves what is not the API (the dashboard's files) once the Host and Origin checks passed and
   * before the token's: pages hold no data, and ask for the token themselves. Returns whether it
   * answered the request.
   */
  readonly files?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** A page the local server serves itself. */
export type LocalPage = () => Promise<{
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}>;

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

/**
 * Host names as `allowedHosts` takes them, from a comma-separated list: lower-cased, IPv6 in
 * brackets. Fails naming the entry that is not a bare host name.
 */
export function parseAllowedHosts(list: string | undefined, source = ALLOWED_HOSTS_VARIABLE): string[] {
  const names = (list ?? '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  for (const entry of names) {
    if (!HOST_NAME.test(entry)) {
      throw new Error(
        `${source}: \`${entry}\` is not a host name; give names only, without scheme, port or path (e.g. relay.example.com)`,
      );
    }
  }
  return names;
}

/** A host name or IPv4 address, or an IPv6 address in brackets: what a Host header names. */
const HOST_NAME = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)$/;

const isLoopbackName = (name: string): boolean =>
  name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);

/** An address as a Host header writes it: IPv6 in brackets, lower case. */
const asHostName = (address: string): string =>
  address.includes(':') ? `[${address.toLowerCase()}]` : address.toLowerCase();

/**
 * Which Host headers the server answers: its bound address and the loopback names with its port
 * (or none: only non-browser clients omit it, and a DNS-rebinding page always sends its own name),
 * and the allowed names on any port. Bound to every interface (`0.0.0.0`, `::`), each interface's
 * address counts as its own. Anything else is someone else's name for this address: a web page
 * that rebound its own domain to 127.0.0.1 sends that domain.
 */
function hostChecker(bound: string, port: () => number, allowed: readonly string[]) {
  const own = asHostName(bound);
  const wildcard = own === '0.0.0.0' || own === '[::]';
  const interfaceNames = () =>
    Object.values(networkInterfaces())
      .flat()
      .map((i) => asHostName(i?.address ?? ''));
  return (header: string | undefined): boolean => {
    const m = /^([^:]+|\[[^\]]*\])(?::(\d{1,5}))?$/.exec(header?.toLowerCase() ?? '');
    const name = m?.[1];
    if (name === undefined) return false;
    if (allowed.includes(name)) return true;
    if (m?.[2] !== undefined && Number(m[2]) !== port()) return false;
    return name === own || isLoopbackName(name) || (wildcard && interfaceNames().includes(name));
  };
}

/**
 * Why a browser sent this request from another site, if it did. Browsers name the page that made a
 * request (`Origin` on writes and scripted reads, `Sec-Fetch-Site` on everything); other clients
 * (curl, the SDK, the CLI) send neither. Relay sends no CORS headers: only its own page, the
 * dashboard, has a reason to call it, same-origin; and a read can be a write here: relay-rs workers
 * claim jobs with GET.
 * `Sec-Fetch-Site: none` is the user opening a URL themselves.
 */
function crossOrigin(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `a ${site} request (Sec-Fetch-Site) may not reach this server`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, req.headers.host ?? '')) {
    return `Origin \`${origin}\` is not this server's origin; browsers' cross-origin requests are refused`;
  }
  return undefined;
}

/** Whether `origin` is the server's own, `http://<Host>` (or `https://`, behind a TLS proxy). */
function isOwnOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    return url.origin === new URL(`${url.protocol}//${host}`).origin;
  } catch {
    return false;
  }
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The event API Gateway would send for this request, and the function (route group) it goes to. */
export function toEvent(
  req: IncomingMessage,
  body: string | undefined,
): { event: ApiEvent; group: RouteGroup | 'fallback' } {
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
  const event: ApiEvent = {
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
  return { event, group: match && 'route' in match ? match.route.group : 'fallback' };
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

/** Answers with an error written in the style of the route the request was for. */
function refuse(req: IncomingMessage, res: ServerResponse, error: HttpError): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const response = errorResponse(error, errorStyleOf(req.method ?? 'GET', path));
  send(res, response.statusCode, response.headers ?? {}, response.body ?? '');
}

/** The local page a GET or HEAD asks for, if any. */
function pageFor(req: IncomingMessage, pages: HttpAdapterOptions['pages']): LocalPage | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  return pages && Object.hasOwn(pages, path) ? pages[path] : undefined;
}

export async function startHttpAdapter(options: HttpAdapterOptions): Promise<HttpAdapter> {
  const allowed = options.allowedHosts
    ? parseAllowedHosts(options.allowedHosts.join(','), 'allowedHosts')
    : parseAllowedHosts(process.env[ALLOWED_HOSTS_VARIABLE]);
  const bound = options.host ?? '127.0.0.1';
  // The port is known once the server listens, before its first request (port 0 picks one).
  const knownHost = hostChecker(bound, () => (server.address() as AddressInfo).port, allowed);
  const server = createServer(async (req, res) => {
    try {
      if (!knownHost(req.headers.host)) {
        return refuse(
          req,
          res,
          new HttpError(
            421,
            `misdirected request: this server does not answer to Host \`${req.headers.host ?? ''}\`; ` +
              `use its address or localhost, or add the name to ${ALLOWED_HOSTS_VARIABLE}`,
            'misdirected_request',
          ),
        );
      }
      const foreign = crossOrigin(req);
      if (foreign) return refuse(req, res, new HttpError(403, foreign, 'cross_origin'));
      if (options.files?.(req, res)) return;
      if (!authorized(req, options.token)) {
        return refuse(
          req,
          res,
          new HttpError(401, 'unauthorized', 'unauthorized', { 'www-authenticate': 'Bearer' }),
        );
      }
      const page = pageFor(req, options.pages);
      if (page) {
        const answer = await page();
        return send(res, answer.statusCode, answer.headers, req.method === 'HEAD' ? '' : answer.body);
      }
      let body: string | undefined;
      try {
        body = await readBody(req);
      } catch (error) {
        if (error instanceof TooLarge) {
          return refuse(
            req,
            res,
            new HttpError(413, 'request body too large', 'payload_too_large', { connection: 'close' }),
          );
        }
        throw error;
      }
      const { event, group } = toEvent(req, body);
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
    server.listen(options.port ?? 0, bound, () => resolve());
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
