/**
 * `relay dashboard`'s server: the web dashboard on this machine for a Relay elsewhere, as `kubectl
 * proxy` does for a cluster. It serves the page and forwards the page's API calls to the Relay the
 * CLI talks to, signed with the caller's AWS credentials (SigV4) for a deployed one, or with the
 * CLI's bearer token; IAM stays the only door, and nothing new is deployed.
 *
 * It is the local adapter with a forwarding handler for every route: it binds loopback, answers
 * only its own Host, refuses browsers' cross-origin requests and, since any local program could
 * otherwise borrow the caller's credentials through it, every API call without the session token
 * it makes at start (handed to the page in the URL's fragment, which no server sees).
 */
import { randomBytes } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';
import { dashboardPages } from '../dashboard/serve.ts';
import { type GroupHandler, type HttpAdapter, startHttpAdapter } from '../local/http-adapter.ts';
import { loadSigner, signableQuery, signedHeaders } from '../sdk/sigv4.ts';

/** The Relay the calls go to, and how they are authorized there. */
export interface Upstream {
  readonly endpoint: string;
  /** Sign with SigV4 for this region; unsigned when undefined. */
  readonly region?: string;
  /** Sent as a bearer token on unsigned calls. */
  readonly token?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface DashboardProxy {
  readonly url: string;
  /** The session token the proxy's API calls need. */
  readonly token: string;
  /** The page's address with the session token in its fragment: what the user opens. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

/** Headers of the upstream answer the page may need; the rest (cookies, AWS request ids) stay behind. */
const PASSED_BACK = ['content-type', 'retry-after', 'allow'];

const failure = (statusCode: number, code: string, message: string) => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code, message } }),
});

/** A query as the page sent it, decoded pair by pair (a `+` is a plus: the SDK escapes spaces as %20). */
function parseQuery(raw: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const pair of raw.split('&').filter(Boolean)) {
    const at = pair.indexOf('=');
    const name = decodeURIComponent(at === -1 ? pair : pair.slice(0, at));
    query[name] = at === -1 ? '' : decodeURIComponent(pair.slice(at + 1));
  }
  return query;
}

/** A handler that sends each request on to `upstream` and answers with what came back. */
export function forwardTo(upstream: Upstream): GroupHandler {
  const endpoint = upstream.endpoint.replace(/\/+$/, '');
  const send = upstream.fetch ?? globalThis.fetch;
  let signer: Promise<SignatureV4> | undefined;
  return async (event) => {
    const method = event.requestContext.http.method;
    let query: Record<string, string>;
    try {
      query = parseQuery(event.rawQueryString);
    } catch {
      return failure(400, 'bad_request', 'the query string is not valid percent-encoding');
    }
    const url = new URL(`${endpoint}${event.rawPath}`);
    url.search = signableQuery(query);
    // Only what the API reads: the browser's own headers (cookies, Origin, the session token) stay here.
    const headers: Record<string, string> = { accept: 'application/json' };
    const type = event.headers['content-type'];
    if (type) headers['content-type'] = type;
    const body = event.body === undefined || event.body === '' ? undefined : event.body;
    let response: Response;
    try {
      let sent = headers;
      if (upstream.region !== undefined) {
        signer ??= loadSigner(upstream.region, endpoint);
        sent = await signedHeaders(await signer, { method, url, query, headers, body });
      } else if (upstream.token) sent = { ...headers, authorization: `Bearer ${upstream.token}` };
      response = await send(url, { method, headers: sent, body });
    } catch (error) {
      return failure(502, 'bad_gateway', `cannot reach Relay at ${endpoint}: ${reason(error)}`);
    }
    const text = await response.text();
    if (response.status === 401) {
      // The page would ask for a token; the one missing is the CLI's (--token / RELAY_TOKEN).
      return failure(
        502,
        'upstream_unauthorized',
        `Relay at ${endpoint} refused the CLI's credentials: ${text}`,
      );
    }
    const passed: Record<string, string> = {};
    for (const name of PASSED_BACK) {
      const value = response.headers.get(name);
      if (value !== null) passed[name] = value;
    }
    return { statusCode: response.status, headers: passed, body: text };
  };
}

const reason = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
};

/** Starts the proxy on 127.0.0.1 (`port` 0 picks one). */
export async function startDashboardProxy(upstream: Upstream, port: number): Promise<DashboardProxy> {
  const token = randomBytes(24).toString('base64url');
  const forward = forwardTo(upstream);
  const adapter: HttpAdapter = await startHttpAdapter({
    host: '127.0.0.1',
    port,
    token,
    // Its own address and localhost only, whatever RELAY_ALLOWED_HOSTS says for `relay dev`.
    allowedHosts: [],
    files: dashboardPages(),
    handlers: { relay: forward, jobs: forward, managed: forward, fallback: forward },
  });
  return {
    url: adapter.url,
    token,
    pageUrl: `${adapter.url}/dashboard/#token=${token}`,
    close: () => adapter.close(),
  };
}
