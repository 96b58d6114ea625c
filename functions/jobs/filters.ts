/**
 * Which jobs a listing or a bulk action selects: a pure predicate over a job, shared by
 * `GET /v1/jobs` and the bulk actions so both select exactly the same jobs.
 */
import { type Job, type StoredStatus, type ViewStatus, viewStatus } from './model.ts';

export interface JobFilter {
  /** The job's status as a caller sees it (`scheduled` is a pending job due later). */
  readonly status?: ViewStatus;
  /** Text the job's `last_error` contains (case-sensitive). */
  readonly errorContains?: string;
  /** Created strictly before this time (ms). */
  readonly createdBefore?: number;
  /** Created at or after this time (ms): `after`/`before` windows tile without overlap. */
  readonly createdAfter?: number;
  /** Stored statuses the job must be in: a bulk action's prior states. */
  readonly statuses?: readonly StoredStatus[];
}

/** Whether `job` is one `filter` selects at `now`. */
export function matchesFilter(job: Job, filter: JobFilter, now: number): boolean {
  const { status, errorContains, createdBefore, createdAfter, statuses } = filter;
  if (status !== undefined && viewStatus(job, now) !== status) return false;
  if (statuses !== undefined && !statuses.includes(job.status)) return false;
  if (errorContains !== undefined && !job.last_error?.includes(errorContains)) return false;
  if (createdBefore !== undefined && job.created_at >= createdBefore) return false;
  if (createdAfter !== undefined && job.created_at < createdAfter) return false;
  return true;
}
