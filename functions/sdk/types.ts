/** Relay's API as the SDK sees it: what goes in and what comes out of each call (the wire shapes). */

import { VIEW_STATUSES, type ViewStatus } from '../core/statuses.ts';

/** Statuses a job can be seen in; `scheduled` is a pending job whose `run_at` is in the future. */
export const JOB_STATUSES = VIEW_STATUSES;
export type JobStatus = ViewStatus;

/** How long a failed run waits before its retry. */
export interface Backoff {
  readonly strategy: 'exponential' | 'fixed';
  readonly base_seconds: number;
  readonly max_seconds: number;
  readonly jitter: 'full' | 'equal' | 'decorrelated' | 'none';
}

/** A job to submit, in Relay's native shape. Omitted fields take the API's defaults. */
export interface JobInput {
  /** @default 'default' */
  readonly queue?: string;
  /** Generated (a ULID) when omitted. */
  readonly id?: string;
  readonly payload: unknown;
  readonly state?: unknown;
  /** Lease length in seconds. @default 300 */
  readonly timeout?: number;
  /** `null` or a negative number means unlimited. @default 3 */
  readonly max_retries?: number | null;
  /** Higher runs first; a named level is its number (`PriorityLevel`). @default 0 (`medium`) */
  readonly priority?: number | PriorityLevel;
  /** RFC 3339 date-time; give this or `delay`, not both. */
  readonly run_at?: string;
  /** Seconds from now. */
  readonly delay?: number;
  readonly idempotency_key?: string;
  /** A strategy name with the default settings, or a full backoff. */
  readonly backoff?: Backoff['strategy'] | Partial<Backoff>;
  /** `SHELL`: Relay runs `payload` (`{command, args?, env?, cwd?, timeout?, runtime?}`) for you. */
  readonly type?: 'SHELL';
  /** Enqueued once when a managed run completes. */
  readonly on_success?: ChildJobInput;
  /** Enqueued once when a managed job goes dead. */
  readonly on_failure?: ChildJobInput;
}

/** A job to enqueue when a managed run ends; it may chain further. */
export interface ChildJobInput {
  /** @default the parent's queue */
  readonly queue?: string;
  readonly type?: 'SHELL';
  readonly payload: unknown;
  readonly timeout?: number;
  readonly max_retries?: number | null;
  readonly backoff?: Backoff['strategy'] | Partial<Backoff>;
  readonly priority?: number | PriorityLevel;
  readonly on_success?: ChildJobInput;
  readonly on_failure?: ChildJobInput;
}

/** Every field of `JobInput`: the compiler checks the list is complete (a CLI hints near misses). */
export const JOB_INPUT_FIELDS = Object.keys({
  queue: true,
  id: true,
  payload: true,
  state: true,
  timeout: true,
  max_retries: true,
  priority: true,
  run_at: true,
  delay: true,
  idempotency_key: true,
  backoff: true,
  type: true,
  on_success: true,
  on_failure: true,
} satisfies Record<keyof JobInput, true>);

/** Every field of `ChildJobInput`, checked complete like `JOB_INPUT_FIELDS`. */
export const CHILD_JOB_FIELDS = Object.keys({
  queue: true,
  type: true,
  payload: true,
  timeout: true,
  max_retries: true,
  backoff: true,
  priority: true,
  on_success: true,
  on_failure: true,
} satisfies Record<keyof ChildJobInput, true>);

/** A job as the native API shows it (the server's `nativeView`). Times are RFC 3339 strings. */
export interface Job {
  readonly queue: string;
  readonly id: string;
  readonly status: JobStatus;
  readonly payload: unknown;
  readonly state: unknown;
  readonly priority: number;
  readonly timeout: number;
  /** `null` means unlimited. */
  readonly max_retries: number | null;
  /** `null` means unlimited. */
  readonly retries_remaining: number | null;
  readonly attempts: number;
  /** Set while the job is running. */
  readonly run_id: string | null;
  readonly lease_expires_at: string | null;
  readonly last_error: string | null;
  /** Why a dead job is dead: `retries_exhausted`, `failed_permanently`, `lease_expired`, `dispatch_failed`. */
  readonly dead_reason: string | null;
  readonly idempotency_key: string | null;
  readonly backoff: Backoff | null;
  /** `SHELL` for a managed job Relay runs; `null` for a pull job. */
  readonly type: 'SHELL' | null;
  /** The run whose outcome enqueued this job (`on_success` / `on_failure`). */
  readonly parent: { readonly queue: string; readonly id: string; readonly run_id: string } | null;
  /** Ids of the jobs this job's outcomes enqueued. */
  readonly children: readonly string[];
  /** How the last finished run of a managed job ended. */
  readonly result: { readonly exit_code: number | null; readonly duration_ms: number | null } | null;
  readonly run_at: string | null;
  readonly created_at: string | null;
  readonly updated_at: string | null;
}

/** Which jobs a listing or a bulk action selects. Times are ISO 8601 with an offset. */
export interface JobFilter {
  readonly status?: JobStatus;
  /** Text the job's `last_error` contains (case-sensitive). */
  readonly errorContains?: string;
  /** Created strictly before this instant. */
  readonly createdBefore?: string;
  /** Created at or after this instant. */
  readonly createdAfter?: string;
}

export type BulkAction = 'retry' | 'cancel' | 'delete';

/** One bulk call's report; while `more`, pass `next_cursor` back as `cursor` for the next page. */
export interface BulkResult {
  readonly action: BulkAction;
  readonly dry_run: boolean;
  /** Jobs of this page the action applies to (on a dry run: would apply to). */
  readonly matched: number;
  readonly changed: number;
  /** Matched jobs that changed between the listing and the write: left as they were. */
  readonly skipped_changed: number;
  /** Up to 20 ids of the matched jobs, newest first. */
  readonly sample_ids: string[];
  readonly next_cursor: string | null;
  readonly more: boolean;
}

/** A page of jobs; pass `next_cursor` back as `cursor` for the next page. */
export interface JobPage {
  readonly jobs: Job[];
  readonly next_cursor: string | null;
}

/** Job counts of one queue by status. */
export interface QueueCounts {
  readonly pending: number;
  readonly scheduled: number;
  readonly running: number;
  readonly failed: number;
  readonly dead: number;
}

/** The named priorities: `critical` 2, `high` 1, `medium` 0, `low` -1. */
export type PriorityLevel = 'critical' | 'high' | 'medium' | 'low';

/** What an operator sets on a queue. */
/** A queue's rate limit: runs started per second across every worker and dispatcher. */
export interface QueueLimits {
  /** `null`: no limit. */
  readonly rate_per_second: number | null;
  /** Runs that may start at once after a quiet spell; `null` without a rate. */
  readonly burst: number | null;
  /** Runs that may be running at once; `null`: no limit. */
  readonly max_running: number | null;
}

/** A queue's limits, as `GET` and `PUT /v1/queues/{queue}/limits` answer. */
export interface QueueLimitsView extends QueueLimits {
  readonly queue: string;
}

/** A change of a queue's limits: a field left out is kept, `null` clears it. */
export interface QueueLimitsChange {
  readonly rate_per_second?: number | null;
  readonly burst?: number | null;
  readonly max_running?: number | null;
}

export interface QueueSettings extends QueueLimits {
  /** A paused queue accepts jobs and hands out none; its running jobs finish. */
  readonly paused: boolean;
  /** RFC 3339; `null` while the queue runs. */
  readonly paused_at: string | null;
  /** Seconds of waiting worth one priority level; `null`: strict priority order. */
  readonly aging_seconds_per_level: number | null;
}

export interface QueueStats extends QueueCounts, QueueSettings {
  readonly queue: string;
}

/** A queue's layout and settings, as pause, resume and the settings calls answer. */
export interface QueueState extends QueueSettings {
  readonly name: string;
  readonly ordering: 'strict' | 'priority';
  readonly shards: number;
}

export interface QueueSummary extends QueueCounts, QueueState {}

/** One chunk of a managed run's output, as the command wrote it. */
export interface LogEntry {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** Epoch ms when the runner read the chunk. */
  readonly at: number;
  readonly run_id: string;
  readonly attempt: number;
  /** Ascending within a run. */
  readonly seq: number;
  /** Set on the one entry that stands for the output dropped past the run's log bound. */
  readonly truncated?: true;
}

/**
 * A page of log entries, oldest run first. Pass `next_cursor` back as `after` for the next page or
 * the next poll; it stays the same while nothing new has arrived.
 */
export interface LogPage {
  readonly entries: LogEntry[];
  readonly next_cursor: string | null;
}

/** How a run ended (`Run.outcome`). */
export type RunOutcome =
  | 'completed'
  | 'failed'
  | 'timed_out'
  | 'lease_expired'
  | 'cancelled'
  | 'released'
  | 'rescheduled'
  | 'replaced'
  | 'dispatch_failed';

/** One run of a job, as its history keeps it. Times are ISO 8601 text. */
export interface Run {
  readonly run_id: string;
  readonly attempt: number;
  /** `null` while the run goes on. */
  readonly outcome: RunOutcome | null;
  readonly claimed_at: string | null;
  /** The command's start for a managed run that reported its duration, else the claim. */
  readonly started_at: string | null;
  /** `null` while the run goes on. */
  readonly ended_at: string | null;
  readonly duration_ms: number | null;
  /** The command's exit status (managed runs). */
  readonly exit_code: number | null;
  readonly error: string | null;
  /** What the claiming worker sent as `X-Relay-Worker`. */
  readonly worker: string | null;
}

/** A job handed to a worker by a claim (the server's `relayV2View`): it is running as `run_id`. */
export interface ClaimedJob {
  readonly queue: string;
  readonly id: string;
  /** Lease length in seconds: heartbeat well within it. */
  readonly timeout: number;
  readonly max_retries: number | null;
  readonly retries_remaining: number | null;
  readonly payload: unknown;
  readonly state: unknown;
  readonly run_id: string;
  readonly run_at: string | null;
  readonly updated_at: string | null;
  readonly created_at: string | null;
}

/** The job a schedule enqueues at each fire: a `JobInput` without what each fire decides. */
export type ScheduledJobInput = Omit<JobInput, 'id' | 'run_at' | 'delay' | 'idempotency_key'>;

/** A cron schedule to create or redefine. */
export interface ScheduleInput {
  /** 5 fields, or 6 with seconds first. */
  readonly cron: string;
  /** An IANA time zone. @default 'UTC' */
  readonly timezone?: string;
  readonly job: ScheduledJobInput;
  /** @default false */
  readonly paused?: boolean;
  /** `skip`: no fire while the previous fire's job is live. @default 'allow' */
  readonly overlap?: 'allow' | 'skip';
}

/** A schedule as the API shows it (the server's `scheduleView`). Times are RFC 3339 strings. */
export interface Schedule {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly overlap: 'allow' | 'skip';
  readonly paused: boolean;
  /** `managed` when its job runs a command. */
  readonly kind: 'pull' | 'managed';
  readonly job: ScheduledJobInput;
  /** `null` while paused. */
  readonly next_fire_at: string | null;
  /** The next five fire times; none while paused. */
  readonly next_fire_times: readonly string[];
  readonly last_fire_at: string | null;
  readonly last_job: { readonly queue: string; readonly id: string } | null;
  readonly created_at: string;
  readonly updated_at: string;
}
