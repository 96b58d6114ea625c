/**
 * SigV4 for a deployed Relay (API Gateway with IAM auth): when to sign, for which region, and the
 * signer, whose modules are loaded only when a request is signed.
 */
import type { SignatureV4 } from '@smithy/signature-v4';
import { RelayCredentialsError } from './errors.ts';

export interface SigV4Options {
  /**
   * The region the API is deployed in.
   * @default the endpoint's region, else `RELAY_AWS_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`
   */
  readonly region?: string;
}

/** API Gateway's own hosts: `<api-id>.execute-api.<region>.amazonaws.com` (`.com.cn` in China). */
const EXECUTE_API_HOST = /^([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i;

/** The API id and region of an API Gateway default endpoint host; undefined for any other host. */
export function parseExecuteApiHost(hostname: string): { apiId: string; region: string } | undefined {
  const match = EXECUTE_API_HOST.exec(hostname);
  return match?.[1] && match[2] ? { apiId: match[1], region: match[2] } : undefined;
}

/**
 * The region to sign requests to `endpoint` for, or undefined to send them unsigned.
 *
 * Signing is on when asked for (`sigv4` given, or `RELAY_AWS_REGION` set: a custom domain hides
 * the region) or when the host is API Gateway's own; a local Relay never needs it. The region is
 * the one asked for, else the host's, else the AWS SDK's usual variables.
 */
export function signingRegion(
  endpoint: string,
  sigv4: SigV4Options | false | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  if (sigv4 === false) return undefined;
  const hostRegion = parseExecuteApiHost(new URL(endpoint).hostname)?.region;
  if (sigv4 === undefined && !env.RELAY_AWS_REGION && !hostRegion) return undefined;
  const region =
    sigv4?.region || hostRegion || env.RELAY_AWS_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new Error(
      `no region to sign requests to ${endpoint} for: give sigv4.region or set RELAY_AWS_REGION`,
    );
  }
  return region;
}

/**
 * A signer for API Gateway in `region` with the default credential chain. The modules are imported
 * here, not at the top, so a client that never signs never loads them.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control-iam.html
 */
export async function loadSigner(region: string, endpoint: string): Promise<SignatureV4> {
  const modules = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-crypto/sha256-js'),
    import('@aws-sdk/credential-provider-node'),
  ]).catch((error: unknown) => {
    throw new RelayCredentialsError(
      `signing requests to ${endpoint} needs @smithy/signature-v4, @aws-crypto/sha256-js and ` +
        `@aws-sdk/credential-provider-node installed: ${(error as Error).message}`,
      { cause: error },
    );
  });
  const [{ SignatureV4 }, { Sha256 }, { defaultProvider }] = modules;
  // The provider memoizes, and refreshes temporary credentials before they expire.
  const provider = defaultProvider();
  const credentials = async () => {
    try {
      return await provider();
    } catch (error) {
      throw new RelayCredentialsError(
        `no AWS credentials to sign requests to ${endpoint} with: ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  return new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
}

/** RFC 3986 percent-encoding, as SigV4 canonicalizes query names and values. */
export const uriEscape = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A request as SigV4 signs it: the query apart from the URL, exactly as it will be sent. */
export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/**
 * The headers to send with a signed request: these plus SigV4's (over method, path, query, every
 * header here plus `host`, and the body's hash in `x-amz-content-sha256`). `host` itself is left
 * out: fetch sets it to the same `url.host` that was signed.
 */
export async function signedHeaders(
  signer: SignatureV4,
  request: RequestToSign,
): Promise<Record<string, string>> {
  const { url } = request;
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: request.query,
    headers: { ...request.headers, host: url.host },
    body: request.body,
  });
  const { host: _host, ...rest } = signed.headers;
  return rest;
}

/** A query as SigV4 canonicalizes it and as it must then be sent: each name and value `uriEscape`d. */
export const signableQuery = (query: Record<string, string>): string =>
  Object.entries(query)
    .map(([name, value]) => `${uriEscape(name)}=${uriEscape(value)}`)
    .join('&');
