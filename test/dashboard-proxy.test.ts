/**
 * `relay dashboard`'s proxy (docs/design.md, "Threat model"): it serves the dashboard on loopback and
 * forwards the page's API calls to the deployed Relay, signed with the caller's AWS credentials, so
 * IAM stays the only door. A local server stands in for API Gateway and checks every signature; the
 * proxy must refuse other hosts, other sites and calls without its session token, before anything
 * is forwarded.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DashboardProxy, startDashboardProxy } from '../functions/cli/dashboard-proxy.ts';
import { startCli } from './support/cli.ts';
import { rawRequest } from './support/raw-http.ts';
import { expectSignedFor, header, stubCredentials } from './support/sigv4.ts';
import { type Received, type Reply, type StubServer, startStubServer } from './support/stub-server.ts';

const REGION = 'eu-west-1';

let upstream: StubServer;
let reply: (request: Received) => Reply;

beforeAll(async () => {
  upstream = await startStubServer((request) => reply(request));
});
afterAll(() => upstream.close());

beforeEach(() => {
  upstream.requests.length = 0;
  reply = () => ({ status: 200, body: '{"queues":[]}' });
  stubCredentials();
});
afterEach(() => vi.unstubAllEnvs());

/** A call through the proxy as the page makes it: same origin, with the session token. */
const call = (proxy: DashboardProxy, path: string, init: RequestInit = {}) =>
  fetch(`${proxy.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${proxy.token}`, ...(init.headers as Record<string, string>) },
  });

describe('the dashboard proxy, signing for a deployed Relay', () => {
  let proxy: DashboardProxy;
  beforeAll(async () => {
    proxy = await startDashboardProxy({ endpoint: upstream.url, region: REGION }, 0);
  });
  afterAll(() => proxy.close());

  it('forwards a read with its query, signed for the region, and answers with what came back', async () => {
    reply = () => ({ status: 200, body: '{"jobs":[],"next_cursor":"c"}' });

    const answer = await call(proxy, '/v1/jobs?queue=mail%20out%2Bnow&status=dead&limit=5');

    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ jobs: [], next_cursor: 'c' });
    const [request] = upstream.requests as [Received];
    expect(request.url).toBe('/v1/jobs?queue=mail%20out%2Bnow&status=dead&limit=5');
    await expectSignedFor(request, REGION);
  });

  it('forwards a write with its body signed, and none of the browser’s own headers', async () => {
    reply = () => ({ status: 200, body: '{"requeued":2}' });

    const answer = await call(proxy, '/v1/queues/emails/dlq/requeue', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'session=abc', origin: proxy.url },
      body: '{"limit":10}',
    });

    expect(answer.status).toBe(200);
    const [request] = upstream.requests as [Received];
    expect(request.method).toBe('POST');
    expect(request.body).toBe('{"limit":10}');
    await expectSignedFor(request, REGION);
    expect(header(request, 'cookie')).toBe('');
    expect(header(request, 'origin')).toBe('');
    expect(header(request, 'authorization')).not.toContain(proxy.token);
  });

  it('passes the API’s errors back as they came', async () => {
    reply = () => ({
      status: 409,
      body: '{"error":{"code":"invalid_transition","message":"job is completed"}}',
    });

    const answer = await call(proxy, '/v1/queues/q/jobs/a/cancel', { method: 'POST' });

    expect(answer.status).toBe(409);
    expect(await answer.json()).toEqual({
      error: { code: 'invalid_transition', message: 'job is completed' },
    });
  });

  it('serves the dashboard page without the session token: the page holds no data', async () => {
    const page = await fetch(`${proxy.url}/dashboard/`);

    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).toContain('<script type="module" src="app.js">');
  });

  it('refuses an API call without the session token, and forwards nothing', async () => {
    const answer = await fetch(`${proxy.url}/v1/queues`);

    expect(answer.status).toBe(401);
    expect(upstream.requests).toEqual([]);
  });

  it('refuses a request addressed to another host name (DNS rebinding), and forwards nothing', async () => {
    const answer = await rawRequest(proxy.url, {
      method: 'GET',
      path: '/v1/queues',
      headers: { host: `rebound.example:${new URL(proxy.url).port}`, authorization: `Bearer ${proxy.token}` },
      setHost: false,
    });

    expect(answer.status).toBe(421);
    expect(upstream.requests).toEqual([]);
  });

  it('refuses a cross-site request from a browser, and forwards nothing', async () => {
    const answer = await call(proxy, '/v1/queues/q/dlq/requeue', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });

    expect(answer.status).toBe(403);
    expect(upstream.requests).toEqual([]);
  });

  it('listens on loopback only', () => {
    expect(new URL(proxy.url).hostname).toBe('127.0.0.1');
  });
});

describe('the dashboard proxy, unsigned', () => {
  it('sends the CLI’s bearer token to a Relay that wants one, never the session token', async () => {
    const proxy = await startDashboardProxy({ endpoint: upstream.url, token: 'relay-token' }, 0);
    try {
      await call(proxy, '/v1/queues');

      expect(header(upstream.requests[0] as Received, 'authorization')).toBe('Bearer relay-token');
    } finally {
      await proxy.close();
    }
  });

  it('answers 502 naming the Relay when the CLI’s credentials are refused', async () => {
    reply = () => ({ status: 401, body: 'unauthorized' });
    const proxy = await startDashboardProxy({ endpoint: upstream.url }, 0);
    try {
      const answer = await call(proxy, '/v1/queues');

      expect(answer.status).toBe(502);
      expect(((await answer.json()) as { error: { message: string } }).error.message).toContain(
        `Relay at ${upstream.url} refused the CLI's credentials`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('answers 502 naming the Relay when it cannot be reached', async () => {
    const proxy = await startDashboardProxy({ endpoint: 'http://127.0.0.1:9' }, 0);
    try {
      const answer = await call(proxy, '/v1/queues');

      expect(answer.status).toBe(502);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('bad_gateway');
    } finally {
      await proxy.close();
    }
  });
});

describe('relay dashboard', () => {
  it('prints the page’s address with its session token, and forwards calls made with it', async () => {
    const run = await startCli(
      ['--endpoint', upstream.url, 'dashboard', '--port', '0'],
      /Open: (http:\/\/127\.0\.0\.1:\d+\/dashboard\/#token=([\w-]+))/,
    );
    try {
      const [, pageUrl = '', token = ''] = run.match;
      const origin = new URL(pageUrl).origin;
      const answer = await fetch(`${origin}/v1/queues`, { headers: { authorization: `Bearer ${token}` } });

      expect(answer.status).toBe(200);
      expect(run.output()).toContain(`Relay dashboard for ${upstream.url}`);
      expect(upstream.requests.map((r) => r.url)).toEqual(['/v1/queues']);
    } finally {
      run.child.kill('SIGINT');
      await run.exited;
    }
  });
});
