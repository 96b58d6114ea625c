/**
 * An operator's transitions: cancel, retry, requeue from the dead letters, and delete.
 *
 * Retry and requeue read the job first (its kind decides who may revive it: reviving a managed job
 * runs its command) and write only if it is unchanged since (`unchangedSince`), so what the read
 * decided still holds.
 */
import { mapLimit } from '../core/concurrency.ts';
import { revived, toCancelled } from './changes.ts';
import {
  currentRun,
  dead,
  live,
  notRunning,
  statusIn,
  transitionFailure,
  unchangedSince,
  unconditional,
} from './conditions.ts';
import { retainUntil, type StoreContext } from './context.ts';
import { InvalidTransitionError, JobKindError, JobNotFoundError } from './errors.ts';
import { and, type Condition } from './expressions.ts';
import { isRunning, type JobItem, keyOf, pastRetention, refOf, toJob } from './item.ts';
import { type ItemKey, jobKey, orderKey } from './keys.ts';
import { type Job, type JobKind, kindOf, LIVE, type StoredStatus } from './model.ts';
import { deadLetters } from './reads.ts';
import { endRun } from './runs.ts';

/** What a retry revives: a job that ended without success, or waits for the retry of a failed run. */
export const RETRYABLE: readonly StoredStatus[] = ['dead', 'cancelled', 'failed'];

/** How often a cancel reads again after the job changed between its read and its write. */
const CANCEL_TRIES = 3;

/**
 * Cancels a live job. A cancelled run's heartbeat and complete then fail. It reads the job first:
 * the cancel of a running job ends its run and writes the run's record (`cancelIf`). A job that
 * changed between the read and the write (claimed, or its run ended) is read again.
 */
export async function cancel(ctx: StoreContext, queue: string, id: string): Promise<Job> {
  const key = jobKey(queue, id);
  for (let tries = 1; ; tries++) {
    const written = await cancelIf(ctx, key, await ctx.db.get<JobItem>(key), live);
    if (written.ok) return toJob(written.item);
    const old = written.old;
    const now = ctx.clock();
    const changed = old && LIVE.includes(old.status) && !pastRetention(old, now);
    if (!changed || tries === CANCEL_TRIES) throw transitionFailure(old, { queue, id }, 'cancel', now);
  }
}

/** Cancels a job listed as `item` if it is live and unchanged since; `undefined` if it changed. */
export async function cancelUnchanged(ctx: StoreContext, item: JobItem): Promise<Job | undefined> {
  const written = await cancelIf(ctx, keyOf(item), item, and(live, unchangedSince(item.updated_at)));
  return written.ok ? toJob(written.item) : undefined;
}

/**
 * The one cancel write, under `when` (at least `live`), of the job read as `item`. A running job's
 * cancel ends its run: a transaction with the run's record, fenced by the run read (`currentRun`);
 * any other is one update, conditioned on the job still not running.
 */
async function cancelIf(ctx: StoreContext, key: ItemKey, item: JobItem | undefined, when: Condition) {
  const now = ctx.clock();
  const change = toCancelled(now, retainUntil(ctx, now));
  const written =
    item && isRunning(item)
      ? await endRun(ctx, item, and(when, currentRun(item.run_id)), change, now, { outcome: 'cancelled' })
      : await ctx.db.update<JobItem>(key, and(when, notRunning), change);
  if (written.ok) ctx.metrics.cancelled(refOf(written.item));
  return written;
}

/**
 * Runs a dead, cancelled or failed job of `kind` again now, with a fresh retry budget. A job of
 * the other kind is refused (`JobKindError`): retrying a managed job runs its command.
 */
export function retry(ctx: StoreContext, queue: string, id: string, kind: JobKind): Promise<Job> {
  return revive(ctx, queue, id, RETRYABLE, 'retry', kind);
}

/** Retries a job of `kind` listed as `item` if it is unchanged since; `undefined` if it changed. */
export function retryUnchanged(ctx: StoreContext, item: JobItem, kind: JobKind): Promise<Job | undefined> {
  return unlessGone(reviveAsRead(ctx, item, RETRYABLE, 'retry', kind));
}

/** Puts a dead job of `kind` back in its queue with a fresh retry budget. */
export function requeueDead(ctx: StoreContext, queue: string, id: string, kind: JobKind): Promise<Job> {
  return revive(ctx, queue, id, ['dead'], 'requeue', kind);
}

/**
 * Requeues up to `limit` dead jobs of `kind` (all when omitted). Dead jobs of the other kind are
 * left where they are and counted in `skipped`.
 */
export async function requeueAllDead(
  ctx: StoreContext,
  queue: string,
  opts: { limit?: number; kind?: JobKind; onRequeued?: (job: Job) => Promise<void> },
): Promise<{ requeued: number; skipped: number }> {
  const { limit, kind = 'pull', onRequeued } = opts;
  let requeued = 0;
  let skipped = 0;
  let cursor: string | undefined;
  do {
    const page = await deadLetters(
      ctx,
      queue,
      Math.min(100, limit === undefined ? 100 : limit - requeued),
      cursor,
    );
    const results = await mapLimit(page.items, 16, async (job) => {
      if (kindOf(job) !== kind) {
        skipped++;
        return 0;
      }
      const requeuedJob = await unlessGone(requeueDead(ctx, queue, job.id, kind));
      if (!requeuedJob) return 0;
      await onRequeued?.(requeuedJob);
      return 1;
    });
    requeued += results.reduce((a: number, b: number) => a + b, 0);
    cursor = page.cursor ?? undefined;
  } while (cursor && (limit === undefined || requeued < limit));
  return { requeued, skipped };
}

/** Deletes a dead job for good. */
export async function deleteDead(ctx: StoreContext, queue: string, id: string): Promise<void> {
  const deleted = await ctx.db.delete<JobItem>(jobKey(queue, id), dead);
  if (!deleted.ok) {
    throw transitionFailure(deleted.old, { queue, id }, 'delete from the dead-letter queue', ctx.clock());
  }
}

/**
 * Deletes a job listed as `item` if it is not running and unchanged since: false if it changed. A
 * running job is left to its worker (cancel it first), so no run loses its job mid-flight.
 */
export async function deleteUnchanged(ctx: StoreContext, item: JobItem): Promise<boolean> {
  const deleted = await ctx.db.delete<JobItem>(
    jobKey(item.queue, item.id),
    and(notRunning, unchangedSince(item.updated_at)),
  );
  return deleted.ok;
}

/**
 * Deletes a job whatever its status (relay-rs v2 DELETE). Idempotent. A running job's run then
 * fails every fenced write, as if it had been cancelled.
 */
export async function deleteJob(ctx: StoreContext, queue: string, id: string): Promise<void> {
  await ctx.db.delete(
    jobKey(queue, id),
    unconditional('relay v2 DELETE removes the job in any state, and deleting what is gone is a no-op'),
  );
}

async function revive(
  ctx: StoreContext,
  queue: string,
  id: string,
  from: readonly StoredStatus[],
  action: string,
  kind: JobKind,
): Promise<Job> {
  const item = await ctx.db.get<JobItem>(jobKey(queue, id));
  if (!item || pastRetention(item, ctx.clock())) throw new JobNotFoundError(queue, id);
  return reviveAsRead(ctx, item, from, action, kind);
}

/** Revives `item` as read: refused if of another kind or status, skipped if changed since. */
async function reviveAsRead(
  ctx: StoreContext,
  item: JobItem,
  from: readonly StoredStatus[],
  action: string,
  kind: JobKind,
): Promise<Job> {
  const { queue, id } = item;
  const now = ctx.clock();
  // The write below requires `updated_at` unchanged, so the kind read here holds when it lands.
  if (kindOf(item) !== kind) throw new JobKindError(queue, id, kindOf(item), action);
  if (!from.includes(item.status)) throw new InvalidTransitionError(action, item.status);
  const order = orderKey(item.priority, now, ctx.nextSeq(now), item.aging_ms);
  const when = and(statusIn(from), unchangedSince(item.updated_at));
  const written = await ctx.db.update<JobItem>(jobKey(queue, id), when, revived(item, now, order));
  if (!written.ok) throw transitionFailure(written.old, { queue, id }, action, ctx.clock());
  return toJob(written.item);
}

/**
 * The job, or `undefined` if it was revived, deleted or changed since it was read: not this
 * pass's to change. Any other failure is thrown.
 */
async function unlessGone(change: Promise<Job>): Promise<Job | undefined> {
  try {
    return await change;
  } catch (error) {
    const gone =
      error instanceof JobNotFoundError ||
      error instanceof InvalidTransitionError ||
      error instanceof JobKindError;
    if (gone) return undefined;
    throw error;
  }
}
