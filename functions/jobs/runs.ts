/**
 * The transitions of a run, by its worker or runner: heartbeat, complete, fail, give back, and the
 * end of a run that enqueues its `on_success` / `on_failure` job in the same transaction.
 *
 * Every write here is fenced by the run (`runFence`): a worker whose lease was lost to another
 * claim changes nothing, and learns so (`LeaseLostError`, or `JobNotFoundError`).
 */
import { backoffSeconds } from '../core/backoff.ts';
import {
  applied,
  heartbeatChange,
  type JobChange,
  released,
  toCompleted,
  toDead,
  toFailed,
  withResult,
} from './changes.ts';
import {
  childNotCreated,
  currentRun,
  fitsBeside,
  ofKind,
  pullJob,
  runFence,
  runFenceFailure,
} from './conditions.ts';
import { retainUntil, type StoreContext } from './context.ts';
import { putOf, updateOf, type Written } from './dynamo.ts';
import { newItem } from './enqueue.ts';
import { JobExistsError, JobNotFoundError, LeaseLostError, PayloadTooLargeError } from './errors.ts';
import { and, type Condition } from './expressions.ts';
import { failedOutcome, type RunEnding, recorded } from './history.ts';
import {
  hasRetryLeft,
  isRunning,
  type JobItem,
  type JobRef,
  keyOf,
  pastRetention,
  type RunningItem,
  refOf,
  toJob,
} from './item.ts';
import type { RunEnd } from './job-metrics.ts';
import { childId, jobKey, utf8Bytes } from './keys.ts';
import {
  type ChildJobSpec,
  DEFAULT_BACKOFF,
  DEFAULTS,
  type Job,
  type JobKind,
  kindOf,
  LIMITS,
  type NewJob,
  normalizeMaxRetries,
  type RunResult,
} from './model.ts';

/** How a run ended: the job after the write, and the job its outcome enqueued, if any. */
export interface RunOutcome {
  readonly job: Job;
  /** The `on_success` / `on_failure` job this end enqueued; it needs a dispatch if it is managed. */
  readonly child: Job | null;
}

/**
 * Extends the lease of a running job by its timeout and replaces its state (`undefined` clears it).
 * Without `runId` any run of the job may heartbeat (relay-rs v1); with it only that run.
 *
 * Only the item changes: the lease index entry keeps the earlier deadline and the sweep moves it
 * forward when it finds the job alive, which keeps heartbeats to one write without index updates.
 */
export async function heartbeat(
  ctx: StoreContext,
  queue: string,
  id: string,
  state: unknown,
  runId: string | undefined,
  kind: JobKind,
): Promise<Job> {
  const now = ctx.clock();
  const fence = and(runFence(runId), ofKind(kind));
  const stateBytes = utf8Bytes(JSON.stringify(state ?? null));
  const stored = state === undefined || state === null ? undefined : JSON.stringify(state);
  const written = await ctx.db.update<JobItem>(
    jobKey(queue, id),
    and(fence, fitsBeside(stateBytes)),
    heartbeatChange(now, stored),
  );
  if (written.ok) return toJob(written.item);
  // An old item that passes the run fence means the size check is the condition that failed.
  const old = written.old;
  const fenceHeld =
    old?.status === 'running' &&
    !pastRetention(old, ctx.clock()) &&
    kindOf(old) === kind &&
    (runId === undefined || old.run_id === runId);
  if (old && fenceHeld) {
    throw new PayloadTooLargeError(utf8Bytes(old.payload) + stateBytes, LIMITS.payloadStateBytes);
  }
  throw runFenceFailure(old, { queue, id }, runId, ctx.clock());
}

/**
 * Marks a pull job's run completed: the write `complete` and relay-rs's DELETE share. Without
 * `runId` any run completes (relay-rs v1). It reads nothing first, so it appends no run record:
 * the completed item's own `run_id`, `attempts`, `claimed_at` and `completed_at` are that run's
 * record (`history.ts`).
 */
export async function completed(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string | undefined,
): Promise<Written<JobItem>> {
  const now = ctx.clock();
  const written = await ctx.db.update<JobItem>(
    jobKey(queue, id),
    and(runFence(runId), pullJob),
    toCompleted(now, retainUntil(ctx, now)),
  );
  if (written.ok) ctx.metrics.runEnded(written.item, 'completed', now);
  return written;
}

/**
 * Marks the run completed. It records no result and enqueues no `on_success` job: managed runs
 * end through `completeRun`.
 */
export async function complete(ctx: StoreContext, queue: string, id: string, runId?: string): Promise<Job> {
  const written = await completed(ctx, queue, id, runId);
  if (!written.ok) throw runFenceFailure(written.old, { queue, id }, runId, ctx.clock());
  return toJob(written.item);
}

/**
 * Completes a run with its result. A job with `on_success` enqueues that job in the same
 * transaction, with an id derived from the run, so a repeated or concurrent completion (a lost
 * response, a retry) fails the `currentRun` fence and creates no second child.
 */
export async function completeRun(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  result: { exit_code: number; duration_ms: number },
): Promise<RunOutcome> {
  const now = ctx.clock();
  const item = runningAs(await ctx.db.get<JobItem>(jobKey(queue, id)), { queue, id }, runId);
  const change = withResult(toCompleted(now, retainUntil(ctx, now)), runResult(result));
  return endOwnRun(ctx, item, change, now, 'completed', { outcome: 'completed', result: runResult(result) });
}

/**
 * Fails the current run of a job of `kind`. With a retry left (and `retry` not false) the job
 * waits for its backoff as `failed`; otherwise it is dead, and its `on_failure` job (if any) is
 * enqueued in the same transaction. Without `runId` the job's current run fails.
 */
export async function fail(
  ctx: StoreContext,
  queue: string,
  id: string,
  givenRunId: string | undefined,
  opts: { error: string; retry?: boolean; result?: RunResult },
  kind: JobKind,
): Promise<RunOutcome> {
  const now = ctx.clock();
  const item = runningAs(await ctx.db.get<JobItem>(jobKey(queue, id)), { queue, id }, givenRunId);
  // The write is fenced by the run id, which a replace would change: the kind read here holds.
  if (kindOf(item) !== kind) throw new JobNotFoundError(queue, id);
  if (opts.retry === false || !hasRetryLeft(item)) {
    const reason = opts.retry === false ? 'failed_permanently' : 'retries_exhausted';
    const dead = withResult(toDead(item, now, retainUntil(ctx, now), reason, opts.error), opts.result);
    return endOwnRun(ctx, item, dead, now, 'dead', failedEnding(opts));
  }
  const delay = backoffSeconds(
    item.backoff ?? DEFAULT_BACKOFF,
    item.attempts,
    item.last_backoff_seconds ?? null,
  );
  const failed = withResult(toFailed(item, now, delay, opts.error), opts.result);
  return endOwnRun(ctx, item, failed, now, 'retried', failedEnding(opts));
}

/**
 * Gives back a run that never started (its runner could not be launched, e.g. Fargate capacity):
 * the job waits again where it was, without spending a retry or counting the attempt. Fenced by
 * the run id; `undefined` when the run is no longer current.
 */
export async function releaseRun(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  reason: string,
): Promise<Job | undefined> {
  const key = jobKey(queue, id);
  const item = await ctx.db.get<JobItem>(key);
  if (!item || !isRunning(item) || item.run_id !== runId) return undefined;
  const now = ctx.clock();
  const ending = { outcome: 'released', error: reason } as const;
  const ended = await endRun(ctx, item, currentRun(runId), released(item, now, reason), now, ending);
  return ended.ok ? toJob(ended.item) : undefined;
}

/**
 * Records the Fargate task running a run, so a cancel or an expired lease can stop it. Fenced by
 * the run id: a late record for an older run changes nothing.
 */
export async function recordTask(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  taskArn: string,
): Promise<boolean> {
  const written = await ctx.db.update<JobItem>(jobKey(queue, id), currentRun(runId), {
    set: { task_arn: taskArn },
  });
  return written.ok;
}

/** A run's end: the job after it and its child, or the refusal of the run's fence. */
export type Ended =
  | { readonly ok: true; readonly item: JobItem; readonly child: JobItem | null }
  | { readonly ok: false; readonly old: JobItem | undefined };

/**
 * Ends a run with one write fenced by `fence`, which also keeps the run's record as `ending` tells
 * (`recorded`). When the outcome has a chained job (`on_success`, `on_failure`) the write is a
 * transaction that also puts the child (`childNotCreated`) and records its id in the parent's
 * `children`.
 */
export async function endRun(
  ctx: StoreContext,
  item: RunningItem,
  fence: Condition,
  endChange: JobChange,
  now: number,
  ending: RunEnding,
  outcome?: 'success' | 'failure',
): Promise<Ended> {
  const change = recorded(endChange, item, ending, now);
  const spec = outcome === 'success' ? item.on_success : outcome === 'failure' ? item.on_failure : undefined;
  if (outcome === undefined || spec === undefined) {
    const written = await ctx.db.update<JobItem>(keyOf(item), fence, change);
    return written.ok ? { ok: true, item: written.item, child: null } : written;
  }
  const child = await newItem(ctx, childJob(item, JSON.parse(spec) as ChildJobSpec, outcome), now);
  const ended: JobChange = { ...change, append: { ...change.append, children: [child.id] } };
  const done = await ctx.db.transact([updateOf(keyOf(item), fence, ended), putOf(child, childNotCreated)]);
  if (done.ok) {
    ctx.metrics.enqueued([refOf(child)]);
    return { ok: true, item: applied<JobItem>(item, ended), child };
  }
  const [parent] = done.refusals;
  if (parent) return { ok: false, old: parent.old as JobItem | undefined };
  // The fence held, so this run never ended before: only a job enqueued by hand can hold the id.
  throw new JobExistsError(child.queue, child.id);
}

/** The chained job a run's end enqueues: `on_success` when it completes, `on_failure` when it dies. */
const CHAINED: Readonly<Record<RunEnd, 'success' | 'failure' | undefined>> = {
  completed: 'success',
  dead: 'failure',
  retried: undefined,
};

/**
 * Ends the caller's own run as `end` (`endRun`, fenced by `currentRun`) and counts it. A refused
 * fence is the caller's error.
 */
async function endOwnRun(
  ctx: StoreContext,
  item: RunningItem,
  change: JobChange,
  now: number,
  end: RunEnd,
  ending: RunEnding,
): Promise<RunOutcome> {
  const ended = await endRun(ctx, item, currentRun(item.run_id), change, now, ending, CHAINED[end]);
  if (!ended.ok) throw runFenceFailure(ended.old, item, item.run_id, ctx.clock());
  const outcome = { job: toJob(ended.item), child: ended.child && toJob(ended.child) };
  ctx.metrics.runEnded(item, end, now);
  return outcome;
}

/**
 * The job read for a run transition, if it is running `runId` (or any run when omitted): the same
 * errors a failed fence gives, before any write.
 */
function runningAs(item: JobItem | undefined, job: JobRef, runId: string | undefined): RunningItem {
  if (!item || !isRunning(item)) throw new JobNotFoundError(job.queue, job.id);
  if (runId !== undefined && item.run_id !== runId) throw new LeaseLostError(job.queue, job.id, runId);
  return item;
}

/** How a run its worker or runner failed ended. */
const failedEnding = (opts: { error: string; result?: RunResult }): RunEnding => ({
  outcome: failedOutcome(opts.result),
  error: opts.error,
  result: opts.result,
});

export const runResult = (r: { exit_code?: number | null; duration_ms?: number | null }): RunResult => ({
  exit_code: r.exit_code ?? null,
  duration_ms: r.duration_ms ?? null,
});

/** The job a run's outcome enqueues: the parent's spec, with defaults, a derived id and its parent. */
function childJob(item: RunningItem, spec: ChildJobSpec, outcome: 'success' | 'failure'): NewJob {
  return {
    queue: spec.queue ?? item.queue,
    id: childId(item.id, item.run_id, outcome),
    payload: spec.payload,
    timeout: spec.timeout ?? DEFAULTS.timeoutSeconds,
    max_retries: normalizeMaxRetries(spec.max_retries, DEFAULTS.maxRetries),
    priority: spec.priority,
    backoff: spec.backoff,
    type: spec.type,
    on_success: spec.on_success,
    on_failure: spec.on_failure,
    parent: { queue: item.queue, id: item.id, run_id: item.run_id },
  };
}
