/**
 * Run history on the native API: the view of a run record, and the worker identity a claimer may
 * send with the `X-Relay-Worker` header on any claim route (relay-rs clients, which send none,
 * see no change).
 */
import * as z from 'zod';
import type { RunRecord } from '../jobs/store.ts';
import { HttpError, type HttpRequest } from './http.ts';
import { iso } from './schemas.ts';

/** The header a worker names itself with: kept with its run and shown in the run's record. */
export const WORKER_HEADER = 'x-relay-worker';

// Printable ASCII, as any header value; 256 bytes is room for a host, a pid and a name.
const workerName = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .regex(/^[\x20-\x7e]+$/, 'printable ASCII');

/** The claimer's identity from `X-Relay-Worker`, if it sent one; a malformed one is a 400. */
export function workerOf(req: HttpRequest): string | undefined {
  const value = req.headers[WORKER_HEADER];
  if (value === undefined) return undefined;
  const parsed = workerName.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, `${WORKER_HEADER} must be 1 to 256 printable ASCII characters`);
}

/** The runs route takes no query parameters: an unknown one is a 400, not silently ignored. */
export const noQuery = z.strictObject({});

/** A run as the API shows it: times as ISO text. */
export const runView = (run: RunRecord) => ({
  run_id: run.run_id,
  attempt: run.attempt,
  outcome: run.outcome,
  claimed_at: iso(run.claimed_at),
  started_at: iso(run.started_at),
  ended_at: iso(run.ended_at),
  duration_ms: run.duration_ms,
  exit_code: run.exit_code,
  error: run.error,
  worker: run.worker,
});
