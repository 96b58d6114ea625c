/**
 * The job item as DynamoDB stores it, and its codec to the `Job` callers see.
 *
 * `JobItem` is the one description of the stored shape: what an enqueue writes, what reads return,
 * what change builders may set (`Change<JobItem>`), and what an upsert clears (`JOB_ATTRIBUTES`,
 * which the compiler keeps complete). Its job fields are `Job`'s: a new field of `Job` is stored
 * as it is unless `StoredAsJson` or `StoredWhenSet` names it, and the compiler names every other
 * place that must learn of it.
 */
import type { ItemKey } from './keys.ts';
import type { Job, RunRecord } from './model.ts';

/** `Job` fields an item keeps as JSON text: any JSON, with no nesting limit, and numbers kept exact. */
type StoredAsJson = 'payload' | 'state';

/**
 * `Job` fields an item holds only when they are set: `null` (or no children) on the job is an
 * absent attribute. `run_id` and `lease_expires_at` are left to `JobItem`'s running group.
 */
type StoredWhenSet =
  | 'run_at_text'
  | 'idempotency_key'
  | 'backoff'
  | 'last_backoff_seconds'
  | 'last_error'
  | 'type'
  | 'parent'
  | 'children'
  | 'result'
  | 'task_arn'
  | 'dead_message_id'
  | 'dead_reason';

/** The job fields an item stores as the job has them. */
type JobFields = Omit<Job, StoredAsJson | StoredWhenSet | 'run_id' | 'lease_expires_at'>;

/** The job fields an item stores only when set. */
type JobFieldsWhenSet = { readonly [K in StoredWhenSet]?: NonNullable<Job[K]> };

/** A job item. Times are epoch milliseconds except `expires_at` (seconds, DynamoDB's TTL). */
export interface JobItem extends ItemKey, JobFields, JobFieldsWhenSet {
  /** JSON text of the job's payload. */
  readonly payload: string;
  /** JSON text; absent when the job has no state. */
  readonly state?: string;
  /** The lease in milliseconds: what a heartbeat adds to the time without reading the item first. */
  readonly timeout_ms: number;
  /** JSON text of the `ChildJobSpec` enqueued when a run completes. */
  readonly on_success?: string;
  /** JSON text of the `ChildJobSpec` enqueued when the job dies. */
  readonly on_failure?: string;
  /** Enqueue sequence (a ULID): the last part of the order key, and the `created` sort key. */
  readonly seq: string;
  readonly shard: number;
  /** The claim order key (`orderKey`). Kept while running, so an expired run returns to its place. */
  readonly order_key: string;
  /** The queue's aging rate (ms per priority level) when the job was enqueued; absent: strict bands. */
  readonly aging_ms?: number;
  readonly created_pk: string;
  readonly created_sk: string;
  // Each group below is present only in one state, so each index holds only jobs in that state.
  /** Waiting (`pending`, `failed`). */
  readonly ready_pk?: string;
  readonly ready_sk?: string;
  /** Running. */
  readonly run_id?: NonNullable<Job['run_id']>;
  readonly lease_expires_at?: NonNullable<Job['lease_expires_at']>;
  readonly lease_pk?: string;
  readonly lease_sk?: string;
  readonly claimed_at?: number;
  /** The identity the run's claimer sent, if any: kept for the run's record (`history.ts`). */
  readonly worker?: string;
  readonly completed_at?: number;
  /** Dead. */
  readonly dead_at?: number;
  readonly dead_pk?: string;
  readonly dead_sk?: string;
  /** Terminal: when retention ends (TTL). */
  readonly expires_at?: number;
  /** The records of its ended runs, oldest first (`history.ts`). */
  readonly runs?: readonly RunRecord[];
}

/** A job item in a run: a running job always carries its run id and lease deadline. */
export type RunningItem = JobItem & {
  readonly status: 'running';
  readonly run_id: string;
  readonly lease_expires_at: number;
};

export const isRunning = (item: JobItem): item is RunningItem =>
  item.status === 'running' && item.run_id !== undefined && item.lease_expires_at !== undefined;

/** A job item that waits: what an enqueue writes. */
export type WaitingItem = JobItem & { readonly ready_pk: string; readonly ready_sk: string };

/** A `ready` index entry: the keys and `READY_PROJECTION`. */
export type ReadyEntry = Pick<JobItem, 'pk' | 'sk' | 'status' | 'timeout_ms'> & {
  readonly ready_pk: string;
  readonly ready_sk: string;
};

/** A `leases` index entry: the keys and `LEASE_PROJECTION`. */
export type LeaseEntry = Pick<JobItem, 'pk' | 'sk' | 'order_key'> & {
  readonly lease_pk: string;
  readonly lease_sk: string;
};

/** A `created` or `dead` index entry (KEYS_ONLY): the item's keys and the index's. */
export type KeysEntry = Pick<JobItem, 'pk' | 'sk' | 'created_pk' | 'created_sk' | 'dead_pk' | 'dead_sk'>;

/** Attributes `T` may lack. */
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/**
 * Attributes an upsert removes when the new job lacks them: every optional attribute but
 * `dead_message_id`. A job replaced after its dispatch was dead-lettered keeps that id, so the
 * message counts as dealt with rather than as a failure of the new job.
 */
type Clearable = Exclude<OptionalKeys<JobItem>, 'dead_message_id'>;

/** `list`, which must name every `Clearable` attribute: the compiler names the one missing. */
const everyClearable = <const L extends readonly Clearable[]>(
  list: L &
    ([Exclude<Clearable, L[number]>] extends [never]
      ? unknown
      : { readonly missing: Exclude<Clearable, L[number]> }),
): L => list;

export const JOB_ATTRIBUTES = everyClearable([
  'aging_ms',
  'state',
  'run_at_text',
  'idempotency_key',
  'backoff',
  'last_backoff_seconds',
  'last_error',
  'type',
  'on_success',
  'on_failure',
  'parent',
  'children',
  'result',
  'task_arn',
  'dead_reason',
  'ready_pk',
  'ready_sk',
  'run_id',
  'lease_expires_at',
  'lease_pk',
  'lease_sk',
  'claimed_at',
  'worker',
  'completed_at',
  'dead_at',
  'dead_pk',
  'dead_sk',
  'expires_at',
  'runs',
]);

/** The job a stored item holds. */
export function toJob(item: JobItem): Job {
  return {
    queue: item.queue,
    id: item.id,
    payload: JSON.parse(item.payload),
    state: item.state === undefined ? null : JSON.parse(item.state),
    timeout: item.timeout,
    max_retries: item.max_retries ?? null,
    retries_remaining: item.retries_remaining ?? null,
    attempts: item.attempts,
    priority: item.priority,
    run_at: item.run_at,
    run_at_text: item.run_at_text ?? null,
    created_at: item.created_at,
    updated_at: item.updated_at,
    status: item.status,
    run_id: item.run_id ?? null,
    lease_expires_at: item.lease_expires_at ?? null,
    last_error: item.last_error ?? null,
    idempotency_key: item.idempotency_key ?? null,
    backoff: item.backoff ?? null,
    last_backoff_seconds: item.last_backoff_seconds ?? null,
    type: item.type ?? null,
    parent: item.parent ?? null,
    children: item.children ?? [],
    result: item.result ?? null,
    task_arn: item.task_arn ?? null,
    dead_message_id: item.dead_message_id ?? null,
    dead_reason: item.dead_reason ?? null,
  };
}

/** A job's queue and id. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
}

export const refOf = (item: JobRef): JobRef => ({ queue: item.queue, id: item.id });

/** An item's primary key alone (an index entry or item carries more). */
export const keyOf = (item: ItemKey): ItemKey => ({ pk: item.pk, sk: item.sk });

export const isManaged = (item: Pick<JobItem, 'type'>): boolean => item.type === 'SHELL';

/** A retry is left: `null` retries mean unlimited. */
export const hasRetryLeft = (item: Pick<JobItem, 'retries_remaining'>): boolean =>
  item.retries_remaining === null || item.retries_remaining > 0;

export const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * The item's retention has ended. DynamoDB's TTL deletes such items lazily, often days later, so
 * every read ignores them, and so does every condition that frees an id.
 */
export const pastRetention = (item: { readonly expires_at?: number }, now: number): boolean =>
  typeof item.expires_at === 'number' && item.expires_at <= seconds(now);
