/**
 * relay-rs's own transitions of a running job: reschedule it (v1 `PUT`), replace its run with new
 * jobs (v2 `PUT …/run-id/{r}`), and its `DELETE`. They act on pull jobs only: relay-rs has no
 * managed jobs, and its routes must not end a managed run.
 */
import { type JobChange, replacing, toCompleted } from './changes.ts';
import {
  currentRun,
  idFree,
  pullJob,
  replaceable,
  runFence,
  runFenceFailure,
  waitingPullJob,
} from './conditions.ts';
import { retainUntil, type StoreContext } from './context.ts';
import { putOf, type TransactWrite, updateOf } from './dynamo.ts';
import { dedupe, type EnqueueMode, newItem } from './enqueue.ts';
import { InvalidArgumentError, JobExistsError, JobNotFoundError } from './errors.ts';
import { and } from './expressions.ts';
import { recorded } from './history.ts';
import { isRunning, type JobItem, keyOf, seconds, toJob } from './item.ts';
import { jobKey } from './keys.ts';
import type { Job, NewJob } from './model.ts';
import { completed, endRun } from './runs.ts';

/** DynamoDB's limit on the writes of one transaction. */
const MAX_TRANSACTION_WRITES = 100;

/**
 * Replaces a running job with new content and takes it out of flight (relay-rs reschedule):
 * payload, state, timeout, max_retries and run_at are overwritten and the retry budget resets.
 */
export async function reschedule(ctx: StoreContext, job: NewJob, runId?: string): Promise<Job> {
  const now = ctx.clock();
  // Only a running job can be rescheduled, so its queue is registered: a miss must not register one.
  if (!(await ctx.queues.find(job.queue))) throw new JobNotFoundError(job.queue, job.id);
  // The run is read for its record and its `RunDuration`: the upsert clears `claimed_at`.
  const [run, item] = await Promise.all([
    ctx.db.get<JobItem>(jobKey(job.queue, job.id)),
    newItem(ctx, job, now),
  ]);
  const ours = run && isRunning(run) && (runId === undefined || run.run_id === runId);
  const written = ours
    ? await endRun(ctx, run, and(currentRun(run.run_id), pullJob), keepingRuns(replacing(item)), now, {
        outcome: 'rescheduled',
      })
    : await ctx.db.update<JobItem>(keyOf(item), and(runFence(runId), pullJob), replacing(item));
  if (!written.ok) throw runFenceFailure(written.old, job, runId, ctx.clock());
  if (ours) ctx.metrics.runEnded(run, 'completed', now);
  ctx.metrics.enqueued([item]);
  return toJob(written.item);
}

/**
 * Atomically ends the current run and enqueues `jobs` (relay-rs v2 PUT with run id). A job with
 * the running job's own id replaces it in place as a fresh job. Returns false, changing nothing,
 * when `runId` is no longer the current run.
 */
export async function replaceRun(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  jobs: readonly NewJob[],
  mode: EnqueueMode,
): Promise<boolean> {
  const now = ctx.clock();
  const own = jobKey(queue, id);
  const fresh = dedupe(jobs, mode === 'unique' ? 'ignore' : mode);
  if (mode === 'unique' && fresh.length < jobs.length) throw new JobExistsError(queue, id);
  const replacesItself = fresh.some((j) => jobKey(j.queue, j.id).pk === own.pk);
  if (fresh.length + (replacesItself ? 0 : 1) > MAX_TRANSACTION_WRITES) {
    throw new InvalidArgumentError(
      'jobs',
      `a run can be replaced by at most ${MAX_TRANSACTION_WRITES - 1} jobs`,
    );
  }
  // The run is read for its record and its `RunDuration`: the transaction returns nothing.
  const [run, items] = await Promise.all([
    ctx.db.get<JobItem>(own),
    Promise.all(fresh.map((j) => newItem(ctx, j, now))),
  ]);
  const selfAt = items.findIndex((i) => i.pk === own.pk);
  const ownRun = and(currentRun(runId), pullJob);
  // The run ends as `replaced` in its record; a run read as another is refused by the fence anyway.
  const completion = toCompleted(now, retainUntil(ctx, now));
  const ended = run && isRunning(run) ? recorded(completion, run, { outcome: 'replaced' }, now) : completion;
  const writes: TransactWrite[] = [];
  if (selfAt === -1) writes.push(updateOf(own, ownRun, ended));
  for (const item of items) {
    if (item.pk === own.pk) writes.push(putOf(item, ownRun));
    else if (mode === 'replace')
      writes.push(updateOf(keyOf(item), replaceable(seconds(now)), replacing(item)));
    else writes.push(putOf(item, idFree(seconds(now))));
  }
  const done = await ctx.db.transact(writes);
  if (done.ok) {
    // The fence held, so the run read after its claim is this very run.
    if (run?.run_id === runId) ctx.metrics.runEnded(run, 'completed', now);
    ctx.metrics.enqueued(items);
    return true;
  }
  const fenceAt = selfAt === -1 ? 0 : selfAt;
  if (done.refusals[fenceAt]) return false;
  const itemAt = (write: number) => (selfAt === -1 ? write - 1 : write);
  const conflicts = done.refusals.flatMap((r, i) => (r ? [items[itemAt(i)] as JobItem] : []));
  if (mode === 'ignore') {
    // Conflicts are not errors in `ignore` mode: try again without the jobs that exist.
    const skip = new Set(conflicts.map((c) => c.pk));
    const rest = jobs.filter((j) => !skip.has(jobKey(j.queue, j.id).pk));
    return replaceRun(ctx, queue, id, runId, rest, mode);
  }
  const first = conflicts[0] as JobItem;
  throw new JobExistsError(first.queue, first.id);
}

/**
 * relay-rs's DELETE: a running pull job completes; a waiting one is deleted. False when no live
 * pull job has the id (terminal jobs are invisible to relay-rs routes, managed ones untouchable).
 */
export async function remove(ctx: StoreContext, queue: string, id: string): Promise<boolean> {
  if ((await completed(ctx, queue, id, undefined)).ok) return true;
  return (await ctx.db.delete<JobItem>(jobKey(queue, id), waitingPullJob)).ok;
}

/** An upsert that keeps the job's run history: the rescheduled job is the same job, run again. */
const keepingRuns = (change: JobChange): JobChange => ({
  ...change,
  remove: change.remove?.filter((name) => name !== 'runs'),
});
