/**
 * A local HTTP server that records every request and answers each with a function of it: a
 * stand-in for a service that has no emulator here (CloudFormation, a deployed API Gateway).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  /** Path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Reply {
  readonly status: number;
  /** @default { 'content-type': 'application/json' } */
  readonly headers?: Record<string, string>;
  /** @default '{}' */
  readonly body?: string;
}

export interface StubServer {
  readonly url: string;
  readonly requests: Received[];
  close(): Promise<void>;
}

/** Starts the server on a free port of 127.0.0.1; `answer` gets each request and its index. */
export async function startStubServer(
  answer: (request: Received, index: number) => Reply,
): Promise<StubServer> {
  const requests: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(request);
    const { status, headers, body } = answer(request, requests.length - 1);
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body ?? '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
