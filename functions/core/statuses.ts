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

/**
 * The statuses, as a caller sees them, that each bulk action changes a job from: those of its
 * single-job transition (retry: ended without success or waiting to retry; cancel: live; delete:
 * anything but running, which is cancelled first).
 */
export const BULK_ACTION_STATUSES = {
  retry: ['dead', 'cancelled', 'failed'],
  cancel: ['pending', 'scheduled', 'failed', 'running'],
  delete: ['pending', 'scheduled', 'failed', 'completed', 'dead', 'cancelled'],
} as const satisfies Record<string, readonly ViewStatus[]>;
