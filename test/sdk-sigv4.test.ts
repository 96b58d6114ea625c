import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  parseExecuteApiHost,
  RelayClient,
  RelayCredentialsError,
  signingRegion,
} from '../functions/sdk/client.ts';
import { CREDENTIALS, expectSignedFor, header, stubCredentials } from './support/sigv4.ts';
import { type Received, type Reply, type StubServer, startStubServer } from './support/stub-server.ts';

const REGION = 'eu-west-1';

let server: StubServer;
let endpoint: string;
let received: Received[];
/** How the server answers the next request; each test may replace it. */
let reply: (request: Received, index: number) => Reply;

beforeAll(async () => {
  server = await startStubServer((request, index) => reply(request, index));
  endpoint = server.url;
});

afterAll(() => server.close());

beforeEach(() => {
  server.requests.length = 0;
  received = server.requests;
  reply = () => ({ status: 200, body: '{"jobs":[],"next_cursor":null}' });
  stubCredentials();
  vi.stubEnv('RELAY_AWS_REGION', undefined);
  vi.stubEnv('RELAY_TOKEN', undefined);
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

/** The one request the server received. */
function only(): Received {
  expect(received).toHaveLength(1);
  return received[0] as Received;
}

describe('parseExecuteApiHost', () => {
  it('reads the API id and region of an API Gateway host', () => {
    expect(parseExecuteApiHost('abc123defg.execute-api.eu-west-1.amazonaws.com')).toEqual({
      apiId: 'abc123defg',
      region: 'eu-west-1',
    });
  });

  it('reads China regions on amazonaws.com.cn', () => {
    expect(parseExecuteApiHost('abc123.execute-api.cn-north-1.amazonaws.com.cn')).toEqual({
      apiId: 'abc123',
      region: 'cn-north-1',
    });
  });

  it.each([
    '127.0.0.1',
    'localhost',
    'relay.example.com',
    'abc123.execute-api.eu-west-1.amazonaws.com.example.com',
    'abc123.lambda-url.eu-west-1.on.aws',
  ])('does not match %s', (hostname) => {
    expect(parseExecuteApiHost(hostname)).toBeUndefined();
  });
});

describe('signingRegion', () => {
  const apiUrl = 'https://abc123.execute-api.eu-west-1.amazonaws.com/';

  it('signs for the region of an execute-api endpoint', () => {
    expect(signingRegion(apiUrl, undefined, {})).toBe('eu-west-1');
  });

  it('leaves a local endpoint unsigned, whatever AWS_REGION says', () => {
    expect(signingRegion('http://127.0.0.1:4000', undefined, { AWS_REGION: 'us-east-1' })).toBeUndefined();
  });

  it('signs any endpoint, such as a custom domain, for RELAY_AWS_REGION', () => {
    expect(signingRegion('https://jobs.example.com', undefined, { RELAY_AWS_REGION: 'us-east-2' })).toBe(
      'us-east-2',
    );
  });

  it('prefers the region it is given over the endpoint’s', () => {
    expect(signingRegion(apiUrl, { region: 'ap-south-1' }, {})).toBe('ap-south-1');
  });

  it('falls back to AWS_REGION, then AWS_DEFAULT_REGION, when told to sign without a region', () => {
    const url = 'https://jobs.example.com';
    expect(signingRegion(url, {}, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'sa-east-1' })).toBe(
      'us-west-2',
    );
    expect(signingRegion(url, {}, { AWS_DEFAULT_REGION: 'sa-east-1' })).toBe('sa-east-1');
  });

  it('never signs with sigv4: false, even for an execute-api endpoint', () => {
    expect(signingRegion(apiUrl, false, { RELAY_AWS_REGION: 'us-east-2' })).toBeUndefined();
  });

  it('throws when told to sign and no region is known', () => {
    expect(() => signingRegion('https://jobs.example.com', {}, {})).toThrow(/no region to sign requests/);
  });
});

describe('RelayClient with SigV4 (a local server verifies each signature)', () => {
  const signingClient = () => new RelayClient({ endpoint, sigv4: { region: REGION }, retries: 0 });

  it('signs a GET over its path and query, which is sent as it was signed', async () => {
    await signingClient().list({ queue: 'mail out+now', status: 'dead', cursor: 'a/b=c*', limit: 5 });

    const request = only();
    await expectSignedFor(request, REGION);
    expect(request.url).toBe('/v1/jobs?queue=mail%20out%2Bnow&status=dead&limit=5&cursor=a%2Fb%3Dc%2A');
  });

  it('signs a POST over its JSON body and content type', async () => {
    reply = () => ({ status: 201, body: '{"id":"a"}' });

    await signingClient().submit({ queue: 'q', id: 'a', payload: { to: 'ünï@example.com' } });

    const request = only();
    await expectSignedFor(request, REGION);
    expect(JSON.parse(request.body)).toEqual({ queue: 'q', id: 'a', payload: { to: 'ünï@example.com' } });
    expect(header(request, 'authorization')).toMatch(/SignedHeaders=[^,]*content-type/);
  });

  it('signs a retry afresh, with the time of the retry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    reply = (_request, index) => {
      if (index > 0) return { status: 200, body: '{"queues":[]}' };
      vi.setSystemTime(new Date('2030-01-01T00:05:00Z'));
      return { status: 503, headers: { 'retry-after': '0' } };
    };

    await new RelayClient({ endpoint, sigv4: { region: REGION }, retries: 1 }).queues();

    expect(received.map((request) => header(request, 'x-amz-date'))).toEqual([
      '20300101T000000Z',
      '20300101T000500Z',
    ]);
    for (const request of received) await expectSignedFor(request, REGION);
  });

  it('sends and signs the session token of temporary credentials', async () => {
    await signingClient().health();

    const request = only();
    expect(header(request, 'x-amz-security-token')).toBe(CREDENTIALS.sessionToken);
    expect(header(request, 'authorization')).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
  });

  it('sends no bearer token with a signature', async () => {
    await new RelayClient({ endpoint, sigv4: { region: REGION }, token: 'secret' }).health();

    const request = only();
    await expectSignedFor(request, REGION);
    expect(JSON.stringify(request.headers)).not.toContain('secret');
  });

  it('signs for RELAY_AWS_REGION without being told to in code', async () => {
    vi.stubEnv('RELAY_AWS_REGION', 'us-east-2');

    await new RelayClient({ endpoint }).health();

    await expectSignedFor(only(), 'us-east-2');
  });

  it('sends a local request unsigned, with its bearer token', async () => {
    const client = new RelayClient({ endpoint, token: 'secret' });

    await client.health();

    const request = only();
    expect(client.region).toBeUndefined();
    expect(header(request, 'authorization')).toBe('Bearer secret');
    expect(request.headers).not.toHaveProperty('x-amz-date');
    expect(request.headers).not.toHaveProperty('x-amz-content-sha256');
  });

  it('fails with RelayCredentialsError, sending nothing, when the chain finds no credentials', async () => {
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ]) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/relay-test/credentials');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/relay-test/config');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');

    const failure = signingClient().health();

    await expect(failure).rejects.toBeInstanceOf(RelayCredentialsError);
    await expect(failure).rejects.toThrow(`no AWS credentials to sign requests to ${endpoint} with`);
    expect(received).toEqual([]);
  });
});
