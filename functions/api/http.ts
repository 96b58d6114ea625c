/**
 * The HTTP edge's vocabulary: the request a handler sees, the response it returns, and the
 * parsing helpers that turn bad input into a precise 4xx before anything is written.
 *
 * Status codes for malformed input follow relay-rs (axum): malformed JSON 400, valid JSON of the
 * wrong shape 422, wrong content type 415, bad query string 400.
 */
import type * as z from 'zod';

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Path parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /**
   * Query parameters whose value does not percent-decode to UTF-8 (`%ED%A0%80`, the bytes of a lone
   * surrogate; `%FF`). `query` holds them decoded lossily, with U+FFFD, as API Gateway and
   * `URLSearchParams` do, so they must not be read as names.
   */
  readonly malformedQuery?: readonly string[];
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Largest request body accepted: Lambda's synchronous invocation payload limit. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** An error whose status and message are meant for the caller. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    /** Machine-readable code for native error bodies. */
    readonly code: string = codeFor(statusCode),
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function codeFor(status: number): string {
  return (
    {
      400: 'bad_request',
      404: 'not_found',
      405: 'method_not_allowed',
      409: 'conflict',
      413: 'payload_too_large',
      415: 'unsupported_media_type',
      422: 'invalid_request',
    }[status] ?? 'error'
  );
}

export const json = (statusCode: number, value: unknown): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

export const empty = (statusCode: number): HttpResponse => ({ statusCode });

export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** Whether the request carries a body at all (clients send `Content-Type` on empty bodies too). */
export const hasBody = (req: HttpRequest): boolean => req.body !== undefined && req.body.trim() !== '';

/** Parses a required JSON body: 415 without a JSON content type, 400 when it does not parse. */
export function readJson(req: HttpRequest): unknown {
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new HttpError(415, 'Expected request with `Content-Type: application/json`');
  }
  return parseJson(req.body ?? '');
}

/** Parses an optional JSON body (heartbeat state): none means `undefined`. */
export function readOptionalJson(req: HttpRequest): unknown {
  if (!hasBody(req)) return undefined;
  return readJson(req);
}

function parseJson(text: string): unknown {
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `Failed to parse the request body as JSON: ${(error as Error).message}`);
  }
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new HttpError(400, `request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

/**
 * How deep a body may nest. JSON.parse takes any depth, but JSON.stringify, zod's recursive
 * schemas (chained jobs) and the DynamoDB marshaller recurse, and a few thousand levels overflow
 * the stack: a 500 for what is the caller's mistake.
 */
export const MAX_JSON_DEPTH = 128;

/** Whether `value` nests arrays and objects deeper than `max`, found without recursion. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Validates a parsed body: 422 naming the first problem, or its own status for size limits. */
export function validBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const tooLarge = parsed.error.issues.find((i) => i.code === 'custom' && i.params?.status === 413);
  if (tooLarge) throw new HttpError(413, describeIssue(tooLarge));
  throw new HttpError(
    422,
    `Failed to deserialize the JSON body into the target type: ${describeIssue(parsed.error.issues[0])}`,
  );
}

/** Validates query parameters: 400 naming the first problem. */
export function validQuery<S extends z.ZodObject>(schema: S, req: HttpRequest): z.output<S> {
  const malformed = req.malformedQuery?.find((name) => Object.hasOwn(schema.shape, name));
  if (malformed !== undefined) {
    throw new HttpError(
      400,
      `Failed to deserialize query string: \`${malformed}\` is not percent-encoded UTF-8`,
    );
  }
  const parsed = schema.safeParse(req.query);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, `Failed to deserialize query string: ${describeIssue(parsed.error.issues[0])}`);
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid input';
  const path = issue.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return `${path}${issue.message}`;
}
