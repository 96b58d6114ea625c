/**
 * SigV4 as API Gateway's IAM authorizer checks it, for tests of what signs requests (the SDK, the
 * dashboard's proxy) against a local server that records them.
 */
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect, vi } from 'vitest';
import type { Received } from './stub-server.ts';

/** Static credentials the default chain finds in the environment, as on a CI runner. */
export const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-of-temporary-credentials',
};

/** Puts `CREDENTIALS` where the default chain finds them first (undo with `vi.unstubAllEnvs()`). */
export function stubCredentials(): void {
  vi.stubEnv('AWS_ACCESS_KEY_ID', CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', CREDENTIALS.sessionToken);
  // A profile in the developer's shell would make the chain skip the variables above.
  vi.stubEnv('AWS_PROFILE', undefined);
}

export const header = (request: Received, name: string): string => String(request.headers[name] ?? '');

/** `20300101T000000Z` as a Date. */
const amzDate = (value: string): Date =>
  new Date(value.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

/**
 * Checks the request as API Gateway's IAM authorizer would: recomputes the signature from the
 * method, raw path, query, the headers it names and the body as received, for `execute-api` in
 * `region` with the known secret, and compares it with the one sent. The body hash must be the hash
 * of the body received, so an unsigned payload (`UNSIGNED-PAYLOAD`) fails too.
 */
export async function expectSignedFor(request: Received, region: string): Promise<void> {
  const authorization = header(request, 'authorization');
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  expect(authorization).toMatch(
    new RegExp(
      `^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/\\d{8}/${region}/execute-api/aws4_request,`,
    ),
  );
  expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-content-sha256', 'x-amz-date']));
  expect(header(request, 'x-amz-content-sha256')).toBe(
    createHash('sha256').update(request.body).digest('hex'),
  );

  const [path = '', rawQuery = ''] = request.url.split('?');
  const query = Object.fromEntries(
    rawQuery
      .split('&')
      .filter(Boolean)
      .map((pair) => pair.split('=').map(decodeURIComponent)),
  );
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, header(request, name)]));
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: CREDENTIALS,
    sha256: Sha256,
  });
  const expected = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      path,
      query,
      headers,
      body: request.body,
    },
    { signingDate: amzDate(header(request, 'x-amz-date')) },
  );
  expect(authorization).toBe(expected.headers.authorization);
}
