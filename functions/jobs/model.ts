/**
 * The job aggregate: statuses, limits and the shapes the store reads and writes.
 *
 * Field names follow what job systems use (graphile-worker, pg-boss, relay-rs): `attempts`,
 * `max_retries`, `retries_remaining`, `run_at`, `run_id`, `lease_expires_at`, `last_error`.
 */

import type { StoredStatus, ViewStatus } from '../core/statuses.ts';

export { STORED_STATUSES, type StoredStatus, VIEW_STATUSES, type ViewStatus } from '../core/statuses.ts';

/** Waiting to run: claimable once `run_at` is due. `failed` waits for a retry after a failed run. */
export const WAITING: readonly StoredStatus[] = ['pending', 'failed'];
/** Live jobs hold their id: a second enqueue of the same id conflicts. */
export const LIVE: readonly StoredStatus[] = ['pending', 'failed', 'running'];
/** Every status but `running`: what a bulk delete may remove. */
export const NOT_RUNNING: readonly StoredStatus[] = ['pending', 'failed', 'completed', 'dead', 'cancelled'];
/** Terminal jobs keep their item until retention ends but free their id. */
export const TERMINAL: readonly StoredStatus[] = ['completed', 'dead', 'cancelled'];

export const LIMITS = {
  /** Bytes of UTF-8 in a queue name or job id (a DynamoDB sort key holds at most 1,024 bytes). */
  nameBytes: 1024,
  /** Bytes of serialized payload plus state (a DynamoDB item holds at most 400 KB). */
  payloadStateBytes: 256 * 1024,
  /** Jobs one claim hands out at most: a claim for more is served up to this many (`num_jobs` is "up to"). */
  maxClaim: 100,
  maxBatch: 1000,
  minTimeoutSeconds: 1,
  /** A lease: any `i32` of seconds, as relay-rs takes it. Pull jobs may hold long leases. */
  maxTimeoutSeconds: 2_147_483_647,
  /** A managed job's lease and command: the longest run an executor (a Fargate task) is given. */
  maxManagedTimeoutSeconds: 12 * 3600,
  minPriority: -2_147_483_648,
  maxPriority: 2_147_483_647,
  /** Bytes of log text one run may store; the rest is dropped behind a `truncated` marker. */
  runLogBytes: 256 * 1024,
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
  /**
   * `run_at` as its client wrote it (RFC 3339, in UTC), kept when it is finer than a millisecond
   * (Go and Rust clients send microseconds), for views to echo; `run_at` is it rounded up. Cleared
   * whenever `run_at` changes.
   */
  readonly run_at_text: string | null;
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
  /** `SHELL` for a managed job (Relay runs it); `null` for a pull job (a worker claims it). */
  readonly type: JobType | null;
  /** The run whose outcome enqueued this job, for a chained job. */
  readonly parent: JobParent | null;
  /** Ids of the jobs this job's outcomes enqueued (`on_success` / `on_failure`), oldest first. */
  readonly children: readonly string[];
  /** How the last finished run of a managed job ended. */
  readonly result: RunResult | null;
  /** The Fargate task running the current run of a managed job, once its executor recorded it. */
  readonly task_arn: string | null;
  /**
   * The SQS dead-letter queue message (`MessageId`) whose dispatch failure last made this managed
   * job dead. Kept when the job is revived, so that message is then known to be dealt with.
   */
  readonly dead_message_id: string | null;
  /** Why the job is dead; `null` unless it is. */
  readonly dead_reason: DeadReason | null;
}

/**
 * Why a job is dead, as a fact the code can test (`last_error` stays the human message):
 * - `retries_exhausted`: its last run failed with no retry left;
 * - `failed_permanently`: a run failed and said not to retry it (`retry: false`);
 * - `lease_expired`: its last run's lease expired with no retry left;
 * - `dispatch_failed`: its dispatch message was dead-lettered (`markDead`).
 */
export const DEAD_REASONS = [
  'retries_exhausted',
  'failed_permanently',
  'lease_expired',
  'dispatch_failed',
] as const;
export type DeadReason = (typeof DEAD_REASONS)[number];

/** Job types Relay runs itself. A job without a type is a pull job. */
export const JOB_TYPES = ['SHELL'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/**
 * Who runs a job: workers claim `pull` jobs; Relay runs `managed` ones (a command). Starting a
 * managed job's command is a permission of its own, so calls name the kind they may act on.
 */
export type JobKind = 'pull' | 'managed';

export const kindOf = (job: { readonly type?: unknown }): JobKind =>
  job.type === 'SHELL' ? 'managed' : 'pull';

/** The run that enqueued a chained job. */
export interface JobParent {
  readonly queue: string;
  readonly id: string;
  readonly run_id: string;
}

/** The outcome of a managed run, recorded on the job when the run ends. */
export interface RunResult {
  /** The command's exit status; `null` when it never exited (could not start, lost, killed). */
  readonly exit_code: number | null;
  readonly duration_ms: number | null;
}

/**
 * A job to enqueue when a managed run ends (`on_success`, `on_failure`). The API validates it;
 * the store keeps it as JSON on the parent and enqueues it with a deterministic id.
 */
export interface ChildJobSpec {
  /** Defaults to the parent's queue. */
  readonly queue?: string;
  readonly payload: unknown;
  readonly timeout?: number;
  readonly max_retries?: number | null;
  readonly backoff?: Backoff;
  readonly priority?: number;
  readonly type?: JobType;
  readonly on_success?: ChildJobSpec;
  readonly on_failure?: ChildJobSpec;
}

/** A job with the jobs its outcomes chain, as far as the kinds go. */
interface Chaining {
  readonly type?: string;
  readonly on_success?: Chaining;
  readonly on_failure?: Chaining;
}

/** Whether a job, or any job its outcomes chain, runs a command: then it is the managed routes' to start. */
export function startsCommands(job: Chaining): boolean {
  return (
    job.type === 'SHELL' ||
    (job.on_success !== undefined && startsCommands(job.on_success)) ||
    (job.on_failure !== undefined && startsCommands(job.on_failure))
  );
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
  /** `run_at` as the client wrote it, when finer than a millisecond (see `Job.run_at_text`). */
  readonly run_at_text?: string;
  readonly idempotency_key?: string;
  readonly backoff?: Backoff;
  /** Omitted for a pull job. */
  readonly type?: JobType;
  /** Enqueued, once, when a run completes. */
  readonly on_success?: ChildJobSpec;
  /** Enqueued, once, when the job goes dead. */
  readonly on_failure?: ChildJobSpec;
  /** Set by the store on a chained job. */
  readonly parent?: JobParent;
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

export const LOG_STREAMS = ['stdout', 'stderr'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

/**
 * One chunk of a run's output as the runner appends it. `seq` is the runner's own counter (0, 1, …
 * per run, ascending across appends), so a retried append rewrites the same items instead of adding.
 */
export interface LogEntryInput {
  readonly seq: number;
  readonly stream: LogStream;
  readonly text: string;
  /** Epoch ms when the runner read the chunk. */
  readonly at: number;
}

/** A stored log entry. `truncated` marks the one entry that stands for everything dropped past the bound. */
export interface LogEntry extends LogEntryInput {
  readonly run_id: string;
  readonly attempt: number;
  readonly truncated?: true;
}

/** How a run ended. A closed set: the record's `outcome`; `null` while the run goes on. */
export const RUN_OUTCOMES = [
  'completed',
  'failed',
  'timed_out',
  'lease_expired',
  'cancelled',
  'released',
  'rescheduled',
  'replaced',
  'dispatch_failed',
] as const;
export type RunOutcomeName = (typeof RUN_OUTCOMES)[number];

/** One run of a job, as the API shows it. Times are epoch milliseconds. */
export interface RunRecord {
  readonly run_id: string;
  readonly attempt: number;
  readonly claimed_at: number | null;
  /** When the work began: the command's start for a managed run with a result, else the claim. */
  readonly started_at: number | null;
  /** `null` while the run goes on. */
  readonly ended_at: number | null;
  readonly outcome: RunOutcomeName | null;
  /** The command's exit status (managed runs); `null` when it never exited or is not known. */
  readonly exit_code: number | null;
  readonly duration_ms: number | null;
  readonly error: string | null;
  /** The identity the claiming worker sent, if any. */
  readonly worker: string | null;
}
