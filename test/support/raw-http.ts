/**
 * Requests sent exactly as written, over node:http: fetch would normalise `..` in a path, refuse a
 * GET body and write a Host header of its own.
 */
import { type IncomingHttpHeaders, request } from 'node:http';

export interface RawRequest {
  readonly method: string;
  /** The path and query string, as sent. */
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
  /** Whether node adds a Host header when `headers` has none. @default true */
  readonly setHost?: boolean;
  readonly body?: string | Buffer;
}

export interface RawReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** Sends `sent` to the server at `baseUrl` on a connection of its own. */
export function rawRequest(baseUrl: string, sent: RawRequest): Promise<RawReply> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname.replace(/^\[|\]$/g, ''),
        port,
        method: sent.method,
        path: sent.path,
        headers: sent.headers,
        setHost: sent.setHost ?? true,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(sent.body);
  });
}
