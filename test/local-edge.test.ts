/**
 * The local adapter as the stack's edge (docs/design.md, "Threat model"): it answers only requests
 * addressed to it, so a DNS-rebinding web page cannot reach a developer's `relay dev`, and it
 * refuses browsers' cross-origin requests, while curl, the SDK and the CLI pass. Every request goes
 * through a real adapter over a real table; every refusal must leave the table as it was.
 */
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedHosts } from '../functions/local/http-adapter.ts';
import { RelayClient } from '../functions/sdk/client.ts';
import { startTestApi, type TestApi, tableItems } from './support/api.ts';
import { rawRequest } from './support/raw-http.ts';

interface Reply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

interface Sent {
  readonly method?: string;
  readonly path: string;
  /** The Host header, as sent; `null` sends none. */
  readonly host?: string | null;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

/**
 * Sends a request to the adapter's own address with any Host header (fetch would write its own).
 */
async function send(api: TestApi, sent: Sent): Promise<Reply> {
  const body = sent.body === undefined ? undefined : JSON.stringify(sent.body);
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(typeof sent.host === 'string' ? { host: sent.host } : {}),
    ...sent.headers,
  };
  const reply = await rawRequest(api.url, {
    method: sent.method ?? 'GET',
    path: sent.path,
    headers,
    setHost: sent.host === undefined,
    body,
  });
  return { status: reply.status, contentType: reply.headers['content-type'], text: reply.text };
}

const portOf = (api: TestApi) => new URL(api.url).port;

let jobs = 0;

/** A native submit naming a queue of its own, so what it wrote (or did not) is easy to find. */
function submit(): { queue: string; sent: Sent } {
  const queue = `edge-${++jobs}`;
  return { queue, sent: { method: 'POST', path: '/v1/jobs', body: { queue, id: 'a', payload: { n: 1 } } } };
}

/** Whether anything in the table names this queue: a job, its index entries, the queue itself. */
async function wrote(api: TestApi, queue: string): Promise<boolean> {
  return (await tableItems(api)).some((item) => JSON.stringify(item).includes(`"${queue}`));
}

/** Addresses of this machine's own network interfaces that are not loopback. */
const externalAddresses = (family: 'IPv4' | 'IPv6') =>
  Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && i.family === family)
    .map((i) => i?.address as string);

describe('the local adapter bound to 127.0.0.1', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi();
  });

  afterAll(async () => {
    await api.dispose();
  });

  describe('Host', () => {
    it.each([
      ['its bound address with its port', (p: string) => `127.0.0.1:${p}`],
      ['localhost with its port', (p: string) => `localhost:${p}`],
      ['localhost in capitals', (p: string) => `LocalHost:${p}`],
      ['another 127.x.x.x address', (p: string) => `127.1.2.3:${p}`],
      ['the IPv6 loopback with its port', (p: string) => `[::1]:${p}`],
      ['localhost without a port', () => 'localhost'],
      ['its bound address without a port', () => '127.0.0.1'],
    ])('serves %s', async (_what, host) => {
      const { queue, sent } = submit();

      const reply = await send(api, { ...sent, host: host(portOf(api)) });

      expect(reply.status, reply.text).toBe(201);
      expect(await wrote(api, queue)).toBe(true);
    });

    it.each([
      ['a foreign name with its port', (p: string) => `evil.example.com:${p}`],
      ['a foreign name without a port', () => 'evil.example.com'],
      ['a name that starts like a loopback address', (p: string) => `127.0.0.1.evil.example.com:${p}`],
      ['a name that starts like localhost', (p: string) => `localhost.evil.example.com:${p}`],
      ['localhost with another port', (p: string) => `localhost:${Number(p) + 1}`],
      ['the IPv6 loopback with another port', (p: string) => `[::1]:${Number(p) + 1}`],
      ['an address it is not bound to', (p: string) => `0.0.0.0:${p}`],
      ['an empty Host', () => ''],
    ])('answers 421 to %s, writing nothing', async (_what, host) => {
      const { queue, sent } = submit();

      const reply = await send(api, { ...sent, host: host(portOf(api)) });

      expect(reply.status).toBe(421);
      expect(await wrote(api, queue)).toBe(false);
    });

    it('names the Host it refused, in the JSON envelope on native routes', async () => {
      const { sent } = submit();

      const reply = await send(api, { ...sent, host: `evil.example.com:${portOf(api)}` });

      expect(reply.contentType).toBe('application/json');
      expect(JSON.parse(reply.text)).toEqual({
        error: {
          code: 'misdirected_request',
          message: expect.stringContaining(`Host \`evil.example.com:${portOf(api)}\``),
        },
      });
    });

    it('names the Host it refused, in plain text on relay-rs routes', async () => {
      const reply = await send(api, {
        method: 'POST',
        path: '/v1/queues/jobs',
        host: 'evil.example.com',
        body: [{ id: 'a', queue: 'edge-relay', timeout: 30, payload: 1 }],
      });

      expect(reply.status).toBe(421);
      expect(reply.contentType).toBe('text/plain; charset=utf-8');
      expect(reply.text).toContain('Host `evil.example.com`');
      expect(await wrote(api, 'edge-relay')).toBe(false);
    });

    it('refuses a request without a Host header, writing nothing', async () => {
      const { queue, sent } = submit();

      const reply = await send(api, { ...sent, host: null });

      expect(reply.status).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
      expect(await wrote(api, queue)).toBe(false);
    });

    it('serves the SDK, which sends the loopback Host of its endpoint', async () => {
      const client = new RelayClient({ endpoint: api.url, token: '' });

      await expect(client.queues()).resolves.toMatchObject({ queues: expect.any(Array) });
    });
  });

  describe('Origin', () => {
    it.each([
      ['a foreign Origin', { origin: 'http://evil.example.com' }],
      ['Origin null (a sandboxed page or a file)', { origin: 'null' }],
      ['the Origin of another local port', { origin: 'http://127.0.0.1:1' }],
      ['the Origin of localhost, another origin than 127.0.0.1', { origin: 'http://localhost:PORT' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site (a page on another local port)', { 'sec-fetch-site': 'same-site' }],
    ])('answers 403 to a POST with %s, writing nothing', async (_what, headers) => {
      const { queue, sent } = submit();
      const withPort = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', portOf(api))]),
      );

      const reply = await send(api, { ...sent, headers: withPort });

      expect(reply.status).toBe(403);
      expect(JSON.parse(reply.text)).toMatchObject({ error: { code: 'cross_origin' } });
      expect(await wrote(api, queue)).toBe(false);
    });

    it.each([
      ['no Origin (curl, the SDK, the CLI)', {}],
      ['its own Origin', { origin: 'http://127.0.0.1:PORT' }],
      ['its own Origin behind a TLS proxy', { origin: 'https://127.0.0.1:PORT' }],
      ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
      ['Sec-Fetch-Site: none (the user opened the URL)', { 'sec-fetch-site': 'none' }],
    ])('serves a POST with %s', async (_what, headers: Record<string, string>) => {
      const { queue, sent } = submit();
      const withPort = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', portOf(api))]),
      );

      const reply = await send(api, { ...sent, headers: withPort });

      expect(reply.status, reply.text).toBe(201);
      expect(await wrote(api, queue)).toBe(true);
    });

    it.each([
      ['PUT', '/v1/queues/jobs', { id: 'a', queue: 'edge-put', timeout: 30, payload: 1 }],
      ['PATCH', '/v1/queues/edge-patch/jobs/a', { step: 1 }],
      ['DELETE', '/v1/queues/edge-delete/jobs/a', undefined],
    ])(
      'answers 403 as plain text to a %s on a relay-rs route with a foreign Origin',
      async (method, path, body) => {
        const reply = await send(api, { method, path, body, headers: { origin: 'http://evil.example.com' } });

        expect(reply.status).toBe(403);
        expect(reply.contentType).toBe('text/plain; charset=utf-8');
        expect(reply.text).toContain('Origin `http://evil.example.com`');
      },
    );

    it('refuses a cross-origin GET too: relay-rs workers claim jobs with GET', async () => {
      await api.store.enqueue({ queue: 'edge-claim', id: 'a', payload: 1, timeout: 30, max_retries: 0 });

      const scripted = await send(api, {
        path: '/v1/queues/edge-claim/jobs?num_jobs=1',
        headers: { origin: 'http://evil.example.com' },
      });
      const embedded = await send(api, {
        path: '/v2/queues/edge-claim/jobs?num_jobs=1',
        headers: { 'sec-fetch-site': 'cross-site' },
      });

      expect([scripted.status, embedded.status]).toEqual([403, 403]);
      expect((await api.store.get('edge-claim', 'a'))?.status).toBe('pending');
    });
  });
});

describe('the local adapter bound to the IPv6 loopback', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi({ host: '::1' });
  });

  afterAll(async () => {
    await api.dispose();
  });

  it.each([
    ['its bound address', (p: string) => `[::1]:${p}`],
    ['localhost', (p: string) => `localhost:${p}`],
    ['127.0.0.1', (p: string) => `127.0.0.1:${p}`],
  ])('serves %s', async (_what, host) => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host: host(portOf(api)) });

    expect(reply.status, reply.text).toBe(201);
    expect(await wrote(api, queue)).toBe(true);
  });

  it('answers 421 to a foreign Host, writing nothing', async () => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host: `evil.example.com:${portOf(api)}` });

    expect(reply.status).toBe(421);
    expect(await wrote(api, queue)).toBe(false);
  });
});

describe('the local adapter bound to every interface, with a token', () => {
  let api: TestApi;
  const auth = { authorization: 'Bearer s3cret' };

  beforeAll(async () => {
    api = await startTestApi({ host: '0.0.0.0', token: 's3cret' });
  });

  afterAll(async () => {
    await api.dispose();
  });

  const hosts: [what: string, host: (port: string) => string][] = [
    ['the address it was bound to', (p) => `0.0.0.0:${p}`],
    ['localhost', (p) => `localhost:${p}`],
    ['127.0.0.1', (p) => `127.0.0.1:${p}`],
    ...externalAddresses('IPv4')
      .slice(0, 1)
      .map((a): [string, (p: string) => string] => [`this machine's address ${a}`, (p) => `${a}:${p}`]),
  ];

  it.each(hosts)('serves %s', async (_what, host) => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host: host(portOf(api)), headers: auth });

    expect(reply.status, reply.text).toBe(201);
    expect(await wrote(api, queue)).toBe(true);
  });

  it('answers 421 to a foreign Host even with the token, writing nothing', async () => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host: `evil.example.com:${portOf(api)}`, headers: auth });

    expect(reply.status).toBe(421);
    expect(await wrote(api, queue)).toBe(false);
  });

  it('still answers 401 to a request from a known Host without the token', async () => {
    const { queue, sent } = submit();

    const reply = await send(api, sent);

    expect(reply.status).toBe(401);
    expect(await wrote(api, queue)).toBe(false);
  });

  it('answers 403 to a cross-origin request even with the token', async () => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, headers: { ...auth, origin: 'http://evil.example.com' } });

    expect(reply.status).toBe(403);
    expect(await wrote(api, queue)).toBe(false);
  });
});

describe.skipIf(externalAddresses('IPv4').length === 0)(
  "the local adapter bound to one of this machine's addresses, with a token",
  () => {
    let api: TestApi;
    const address = externalAddresses('IPv4')[0] as string;
    const auth = { authorization: 'Bearer s3cret' };

    beforeAll(async () => {
      api = await startTestApi({ host: address, token: 's3cret' });
    });

    afterAll(async () => {
      await api.dispose();
    });

    it('serves its own address', async () => {
      const { queue, sent } = submit();

      const reply = await send(api, { ...sent, headers: auth });

      expect(reply.status, reply.text).toBe(201);
      expect(await wrote(api, queue)).toBe(true);
    });

    it('answers 421 to a foreign Host, writing nothing', async () => {
      const { queue, sent } = submit();

      const reply = await send(api, { ...sent, host: `evil.example.com:${portOf(api)}`, headers: auth });

      expect(reply.status).toBe(421);
      expect(await wrote(api, queue)).toBe(false);
    });
  },
);

describe('the local adapter with allowed host names', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi({ allowedHosts: ['Relay.Internal'] });
  });

  afterAll(async () => {
    await api.dispose();
  });

  it.each([
    ['an allowed name on a proxy port', 'relay.internal:8443'],
    ['an allowed name without a port', 'relay.internal'],
    ['an allowed name in capitals', 'RELAY.internal'],
  ])('serves %s', async (_what, host) => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host });

    expect(reply.status, reply.text).toBe(201);
    expect(await wrote(api, queue)).toBe(true);
  });

  it('answers 421 to a name it was not given, writing nothing', async () => {
    const { queue, sent } = submit();

    const reply = await send(api, { ...sent, host: 'other.internal' });

    expect(reply.status).toBe(421);
    expect(await wrote(api, queue)).toBe(false);
  });

  it("accepts the allowed name's own origin", async () => {
    const { queue, sent } = submit();

    const reply = await send(api, {
      ...sent,
      host: 'relay.internal',
      headers: { origin: 'https://relay.internal' },
    });

    expect(reply.status, reply.text).toBe(201);
    expect(await wrote(api, queue)).toBe(true);
  });
});

describe('parseAllowedHosts', () => {
  it('reads a comma-separated list of names, lower-cased', () => {
    expect(parseAllowedHosts(' relay.example.com, Jobs.Internal ,,[fd00::1],relay_1')).toEqual([
      'relay.example.com',
      'jobs.internal',
      '[fd00::1]',
      'relay_1',
    ]);
  });

  it('reads nothing from an unset variable', () => {
    expect(parseAllowedHosts(undefined)).toEqual([]);
  });

  it.each(['http://relay.example.com', 'relay.example.com:8443', 'relay.example.com/api', '*'])(
    'fails on %s, naming the variable and the entry',
    (entry) => {
      expect(() => parseAllowedHosts(entry)).toThrow(/^RELAY_ALLOWED_HOSTS: `.*` is not a host name/);
    },
  );
});
