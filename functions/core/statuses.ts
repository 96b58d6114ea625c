/**
 * A job's statuses, shared by the job store (`functions/jobs/model.ts`) and the SDK, which ships
 * without server code. Pure and dependency-free.
 */

/** Statuses stored on a job item. `scheduled` is a view of `pending` with `run_at` in the future. */
export const STORED_STATUSES = ['pending', 'failed', 'running', 'completed', 'dead', 'cancelled'] as const;
export type StoredStatus = (typeof STORED_STATUSES)[number];

/** Statuses a caller sees and may filter by. */
export const VIEW_STATUSES = [
  'pending',
  'scheduled',
  'running',
  'failed',
  'completed',
  'dead',
  'cancelled',
] as const;
export type ViewStatus = (typeof VIEW_STATUSES)[number];
