/**
 * The one place errors become HTTP responses.
 *
 * Domain errors map to 4xx with their message; a busy store maps to 429 (relay-rs v1 and seed
 * routes, as relay-rs does) or 503 (v2 and native) with `Retry-After`; anything else is a 500
 * whose details stay in the logs. relay-rs routes write errors as plain text, native routes as
 * `{"error":{"code","message"}}`.
 */
import {
  DuplicateIdempotencyKeyError,
  InvalidArgumentError,
  InvalidTransitionError,
  JobExistsError,
  JobKindError,
  JobNotFoundError,
  LeaseLostError,
  PayloadTooLargeError,
  ScheduleExistsError,
  ScheduleKindError,
  ScheduleNotFoundError,
  StoreBusyError,
} from '../jobs/errors.ts';
import { HttpError, type HttpResponse } from './http.ts';
import type { ErrorStyle } from './routes.ts';

interface Mapped {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  extra?: Record<string, unknown>;
}

function classify(error: unknown, style: ErrorStyle): Mapped | undefined {
  if (error instanceof HttpError) {
    return { status: error.statusCode, code: error.code, message: error.message, headers: error.headers };
  }
  if (error instanceof JobNotFoundError || error instanceof ScheduleNotFoundError) {
    return { status: 404, code: error.code, message: error.message };
  }
  if (error instanceof ScheduleExistsError) return { status: 409, code: error.code, message: error.message };
  if (error instanceof ScheduleKindError) {
    // A managed schedule on a route for pull jobs: this route may not start its command.
    return { status: error.kind === 'managed' ? 403 : 409, code: error.code, message: error.message };
  }
  if (error instanceof LeaseLostError) {
    // relay's v2 routes say "not found … with RUN_ID." for a run that is no longer current.
    if (style !== 'native') {
      const notFound = new JobNotFoundError(error.queue, error.id, error.runId);
      return { status: 404, code: notFound.code, message: notFound.message };
    }
    return { status: 409, code: error.code, message: error.message };
  }
  if (error instanceof JobExistsError || error instanceof InvalidTransitionError) {
    return { status: 409, code: error.code, message: error.message };
  }
  if (error instanceof JobKindError) {
    // A managed job on a route for pull jobs: this route may not start its command.
    return { status: error.kind === 'managed' ? 403 : 409, code: error.code, message: error.message };
  }
  if (error instanceof InvalidArgumentError) {
    // A cursor comes in the query string (400); anything else in the body (422).
    return { status: error.argument === 'after' ? 400 : 422, code: error.code, message: error.message };
  }
  if (error instanceof PayloadTooLargeError) return { status: 413, code: error.code, message: error.message };
  if (error instanceof DuplicateIdempotencyKeyError) {
    return { status: 409, code: error.code, message: error.message, extra: { job_id: error.existingJobId } };
  }
  if (error instanceof StoreBusyError) {
    return {
      status: style === 'relay-v1' ? 429 : 503,
      code: error.code,
      message: error.message,
      headers: { 'retry-after': String(error.retryAfterSeconds) },
    };
  }
  return undefined;
}

export function errorResponse(error: unknown, style: ErrorStyle): HttpResponse {
  const mapped = classify(error, style) ?? {
    status: 500,
    code: 'internal_error',
    message: 'internal server error',
  };
  if (style === 'native') {
    return {
      statusCode: mapped.status,
      headers: { 'content-type': 'application/json', ...mapped.headers },
      body: JSON.stringify({ error: { code: mapped.code, message: mapped.message, ...mapped.extra } }),
    };
  }
  return {
    statusCode: mapped.status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...mapped.headers },
    body: mapped.message,
  };
}

/** Whether an error is one we expected (4xx, busy) rather than a fault to log in full. */
export const isExpected = (error: unknown, style: ErrorStyle): boolean =>
  classify(error, style) !== undefined;
