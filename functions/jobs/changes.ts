/**
 * The changes each transition makes to a job item, built without I/O: the services pair each one
 * with its condition (`conditions.ts`) and hand both to the gateway in one write.
 *
 * Index attributes follow the state (sparse indexes): a waiting job carries `ready_*`, a running
 * one `lease_*`, a dead one `dead_*`, and each change that leaves a state removes them.
 */
import { randomUUID } from 'node:crypto';
import type { Change } from './expressions.ts';
import { isManaged, JOB_ATTRIBUTES, type JobItem } from './item.ts';
import { deadSortKey, dispatchKey, leaseSortKey, managedShardPk, orderKey, runAtOf } from './keys.ts';
import type { DeadReason, RunResult } from './model.ts';

export type JobChange = Change<JobItem>;

const READY_ATTRS = ['ready_pk', 'ready_sk'] as const;
const LEASE_ATTRS = ['lease_pk', 'lease_sk'] as const;
const DEAD_ATTRS = ['dead_pk', 'dead_sk'] as const;

/** `change` that also sets `set`. */
export const withSet = (change: JobChange, set: JobChange['set']): JobChange => ({
  ...change,
  set: { ...change.set, ...set },
});

/**
 * Where a waiting job's `ready` entry goes. A pull job waits in its shard in claim order; a managed
 * job waits in the shard's managed partition, keyed by when it is due for a dispatch (`run_at`).
 */
export function readyEntry(
  item: Pick<JobItem, 'pk' | 'type' | 'shard' | 'queue' | 'created_pk'>,
  order: string,
): { ready_pk: string; ready_sk: string } {
  if (!isManaged(item)) return { ready_pk: item.created_pk, ready_sk: order };
  return {
    ready_pk: managedShardPk(item.shard, item.queue),
    ready_sk: dispatchKey(runAtOf(order), item.pk),
  };
}

/**
 * An upsert of `item` (`replace`, reschedule): the new content overwrites the old, the run (if any)
 * is fenced out by clearing `run_id`, and `created_at` keeps the first enqueue's time, as relay-rs
 * does.
 */
export function replacing(item: JobItem): JobChange {
  const { pk, sk, created_at, created_sk, ...rest } = item;
  const fields: Readonly<Record<string, unknown>> = rest;
  const leftovers = JOB_ATTRIBUTES.filter((a) => fields[a] === undefined);
  return { set: rest, remove: leftovers, keep: { created_at, created_sk } };
}

/** The start of a new run: fresh run id, counted attempt, lease from now. */
export function startRun(
  now: number,
  timeoutMs: number,
  shardKey: string,
  extra: JobChange['set'] = {},
): JobChange {
  const runId = randomUUID();
  const lease = now + timeoutMs;
  return {
    set: {
      status: 'running',
      run_id: runId,
      lease_expires_at: lease,
      lease_pk: shardKey,
      lease_sk: leaseSortKey(lease, runId),
      claimed_at: now,
      updated_at: now,
      // The last run's claimer is not this one's: `extra` names this run's, if it sent one.
      worker: undefined,
      ...extra,
    },
    add: { attempts: 1 },
    // A new run has no Fargate task yet: the last run's is no longer this job's to stop.
    remove: [...READY_ATTRS, 'task_arn'],
  };
}

/** Back to waiting at `order` (a run ended, or an operator revived the job). */
export function toWaiting(
  item: JobItem,
  now: number,
  status: 'pending' | 'failed',
  order: string,
  retries: number | null,
  lastError: string | undefined,
): JobChange {
  return {
    set: {
      status,
      order_key: order,
      ...readyEntry(item, order),
      retries_remaining: retries,
      last_error: lastError,
      updated_at: now,
      run_id: undefined,
      lease_expires_at: undefined,
    },
    remove: [...LEASE_ATTRS],
  };
}

/**
 * A managed run that ended without an outcome (expired, or given back) has no dispatch hint in
 * flight: its dispatch key says it is owed one since forever, so the sweep's repair re-sends it at
 * once, whatever its grace. A hint that is in flight after all (SQS redelivering) only duplicates it.
 */
export function owedDispatch(item: JobItem, waiting: JobChange): JobChange {
  if (!isManaged(item)) return waiting;
  return withSet(waiting, { ready_sk: dispatchKey(0, item.pk) });
}

/** An expired run with a retry left: waiting again where it was (`run_at` and order key kept). */
export const expiredToWaiting = (item: JobItem, now: number, lastError: string): JobChange =>
  owedDispatch(item, toWaiting(item, now, 'pending', item.order_key, spendRetry(item), lastError));

/** A failed run with a retry left: `failed`, due again after `delaySeconds`. */
export function toFailed(item: JobItem, now: number, delaySeconds: number, lastError: string): JobChange {
  const runAt = now + Math.round(delaySeconds * 1000);
  const order = orderKey(item.priority, runAt, item.seq, item.aging_ms);
  return withSet(toWaiting(item, now, 'failed', order, spendRetry(item), lastError), {
    run_at: runAt,
    run_at_text: undefined,
    last_backoff_seconds: delaySeconds,
  });
}

/** A run given back before it started: waiting again, no retry spent and the attempt not counted. */
export function released(item: JobItem, now: number, reason: string): JobChange {
  const waiting = toWaiting(item, now, 'pending', item.order_key, item.retries_remaining, reason);
  return owedDispatch(item, { ...waiting, add: { attempts: -1 } });
}

export const toCompleted = (now: number, expiresAt: number): JobChange => ({
  set: { status: 'completed', completed_at: now, updated_at: now, expires_at: expiresAt },
  remove: [...LEASE_ATTRS],
});

/** The end of a run that records how its command ended. */
export const withResult = (change: JobChange, result: RunResult | undefined): JobChange =>
  result === undefined ? change : withSet(change, { result });

/** Dead, and why: `reason` is the fact, `lastError` the human message. */
export function toDead(
  item: JobItem,
  now: number,
  expiresAt: number,
  reason: DeadReason,
  lastError: string,
): JobChange {
  return {
    set: {
      status: 'dead',
      dead_reason: reason,
      last_error: lastError,
      updated_at: now,
      dead_at: now,
      dead_pk: item.created_pk,
      dead_sk: deadSortKey(now, item.seq),
      expires_at: expiresAt,
      retries_remaining: item.retries_remaining === null ? null : 0,
      lease_expires_at: undefined,
    },
    remove: [...LEASE_ATTRS, ...READY_ATTRS],
  };
}

export const toCancelled = (now: number, expiresAt: number): JobChange => ({
  set: { status: 'cancelled', updated_at: now, expires_at: expiresAt, run_id: undefined },
  remove: [...READY_ATTRS, ...LEASE_ATTRS, 'lease_expires_at'],
});

/** An operator's retry or requeue: waiting now at `order`, with a fresh retry budget. */
export function revived(item: JobItem, now: number, order: string): JobChange {
  const change = toWaiting(item, now, 'pending', order, item.max_retries, item.last_error);
  return {
    ...withSet(change, {
      run_at: now,
      run_at_text: undefined,
      expires_at: undefined,
      last_backoff_seconds: undefined,
    }),
    remove: [...(change.remove ?? []), ...DEAD_ATTRS, 'dead_reason'],
  };
}

/** A heartbeat: the lease runs `timeout_ms` from now, read from the item itself (no read first). */
export const heartbeatChange = (now: number, state: string | undefined): JobChange => ({
  set: { state, updated_at: now },
  plus: { lease_expires_at: ['timeout_ms', now] },
});

/** Retries left after one more is spent (`null`: unlimited). */
export function spendRetry(item: Pick<JobItem, 'retries_remaining'>): number | null {
  return item.retries_remaining === null ? null : item.retries_remaining - 1;
}

/**
 * The item after `change`, as a write that returns no values (a transaction) left it. Only the
 * parts such writes use: `set`, `remove`, `add` and `append`.
 */
export function applied<T extends object>(item: T, change: Change<T>): T {
  const out = { ...item } as Record<string, unknown>;
  for (const name of change.remove ?? []) delete out[name];
  for (const [name, value] of Object.entries<unknown>(change.set ?? {})) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  for (const [name, amount] of Object.entries<number | undefined>(change.add ?? {})) {
    out[name] = Number(out[name] ?? 0) + (amount ?? 0);
  }
  for (const [name, list] of Object.entries<readonly unknown[] | undefined>(change.append ?? {})) {
    out[name] = [...((out[name] as readonly unknown[] | undefined) ?? []), ...(list ?? [])];
  }
  return out as T;
}
