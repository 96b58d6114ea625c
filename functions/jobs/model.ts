/**
 * The job aggregate: statuses, limits and the shapes the store reads and writes.
 *
 * Field names follow what job systems use (graphile-worker, pg-boss, relay-rs): `attempts`,
 * `max_retries`, `retries_remaining`, `run_at`, `run_id`, `lease_expires_at`, `last_error`.
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

/** Waiting to run: claimable once `run_at` is due. `failed` waits for a retry after a failed run. */
export const WAITING: readonly StoredStatus[] = ['pending', 'failed'];
/** Live jobs hold their id: a second enqueue of the same id conflicts. */
export const LIVE: readonly StoredStatus[] = ['pending', 'failed', 'running'];
/** Terminal jobs keep their item until retention ends but free their id. */
export const TERMINAL: readonly StoredStatus[] = ['completed', 'dead', 'cancelled'];

export const LIMITS = {
  /** Bytes of UTF-8 in a queue name or job id (a DynamoDB sort key holds at most 1,024 bytes). */
  nameBytes: 1024,
  /** Bytes of serialized payload plus state (a DynamoDB item holds at most 400 KB). */
  payloadStateBytes: 256 * 1024,
  maxClaim: 100,
  maxBatch: 1000,
  minTimeoutSeconds: 1,
  maxTimeoutSeconds: 12 * 3600,
  minPriority: -2_147_483_648,
  maxPriority: 2_147_483_647,
} as const;

export const DEFAULTS = {
  timeoutSeconds: 300,
  maxRetries: 3,
  priority: 0,
} as const;

export const BACKOFF_STRATEGIES = ['exponential', 'fixed'] as const;
export const JITTERS = ['full', 'equal', 'decorrelated', 'none'] as const;

/** How long a failed run waits before its retry. */
export interface Backoff {
  readonly strategy: (typeof BACKOFF_STRATEGIES)[number];
  readonly base_seconds: number;
  readonly max_seconds: number;
  readonly jitter: (typeof JITTERS)[number];
}

export const DEFAULT_BACKOFF: Backoff = {
  strategy: 'exponential',
  base_seconds: 1,
  max_seconds: 600,
  jitter: 'full',
};

/** A job as the store returns it. Times are epoch milliseconds. */
export interface Job {
  readonly queue: string;
  readonly id: string;
  readonly payload: unknown;
  readonly state: unknown;
  /** Lease length in seconds. */
  readonly timeout: number;
  /** `null` means unlimited retries. */
  readonly max_retries: number | null;
  /** `null` means unlimited retries. */
  readonly retries_remaining: number | null;
  readonly attempts: number;
  readonly priority: number;
  readonly run_at: number;
  readonly created_at: number;
  readonly updated_at: number;
  readonly status: StoredStatus;
  readonly run_id: string | null;
  readonly lease_expires_at: number | null;
  readonly last_error: string | null;
  readonly idempotency_key: string | null;
  readonly backoff: Backoff | null;
  /** Delay of the last retry, in seconds (decorrelated jitter grows from it). */
  readonly last_backoff_seconds: number | null;
}

/** A validated job to enqueue. */
export interface NewJob {
  readonly queue: string;
  readonly id: string;
  readonly payload: unknown;
  readonly state?: unknown;
  readonly timeout: number;
  readonly max_retries: number | null;
  readonly priority?: number;
  /** Epoch ms; omitted means now (FIFO by enqueue time). */
  readonly run_at?: number;
  readonly idempotency_key?: string;
  readonly backoff?: Backoff;
}

/** The status a caller sees: `pending` with a future `run_at` reads as `scheduled`. */
export function viewStatus(job: Pick<Job, 'status' | 'run_at'>, now: number): ViewStatus {
  return job.status === 'pending' && job.run_at > now ? 'scheduled' : job.status;
}

/** `max_retries` below zero means unlimited; stored as `null`. */
export function normalizeMaxRetries(
  value: number | null | undefined,
  fallback: number | null,
): number | null {
  if (value === undefined) return fallback;
  if (value === null || value < 0) return null;
  return value;
}
