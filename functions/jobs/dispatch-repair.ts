/**
 * Managed jobs whose dispatch went wrong: the lost-dispatch repair (a hint that may never have
 * arrived is sent again) and the dead-letter reconciler's `markDead` (a hint SQS gave up on).
 */
import { toDead, withSet } from './changes.ts';
import { dispatchable, statusIn, unchangedSince } from './conditions.ts';
import { retainUntil, type StoreContext } from './context.ts';
import { and } from './expressions.ts';
import { isRunning, type JobItem, keyOf, pastRetention, type ReadyEntry, toJob } from './item.ts';
import { dispatchDueBefore, dispatchKey, jobKey, managedShardPk } from './keys.ts';
import { type Job, LIVE } from './model.ts';
import { shardsOf } from './queues.ts';
import { endRun } from './runs.ts';

/**
 * Managed jobs, in every queue, that are waiting and due, and whose dispatch time (`run_at`, or
 * the last `markRedispatched`) is more than `graceMs` before `now`: their dispatch message may
 * have been lost. One range query per managed `ready` shard finds them (no scan), so the cost is
 * the overdue backlog, not the table. Oldest dispatch time first within a queue.
 *
 * Paused queues are left out: their dispatcher would drop the hint. Resuming a queue re-sends the
 * hints of its due jobs (`queue` names it), and what that misses is overdue here after the grace.
 */
export async function dueUndispatched(
  ctx: StoreContext,
  now: number,
  graceMs: number,
  limit: number,
  queue?: string,
): Promise<Job[]> {
  const before = dispatchDueBefore(now - graceMs);
  const found: Job[] = [];
  const queues = queue === undefined ? await ctx.queues.list() : [await ctx.queues.state(queue)];
  for (const info of queues) {
    if (!info || info.paused) continue;
    const want = limit - found.length;
    if (want <= 0) break;
    const perShard = await Promise.all(
      shardsOf(info).map((shard) =>
        ctx.db.query<ReadyEntry>({
          index: 'ready',
          partition: managedShardPk(shard, info.queue),
          range: { below: before },
          limit: want,
        }),
      ),
    );
    const entries = perShard
      .flatMap((page) => page.items)
      .sort((a, b) => a.ready_sk.localeCompare(b.ready_sk))
      .slice(0, want);
    const items = await ctx.db.batchGet<JobItem>(entries.map(keyOf));
    for (const entry of entries) {
      const item = items.get(entry.pk);
      // The index lags the table: keep only jobs still waiting under this very entry.
      if (item && item.ready_pk === entry.ready_pk && item.ready_sk === entry.ready_sk)
        found.push(toJob(item));
    }
  }
  return found;
}

/**
 * Records that a dispatch message was sent again at `now`, so the job leaves `dueUndispatched`
 * until `graceMs` has passed once more: a backlog is re-sent once per grace, not every sweep.
 * False when the job is no longer a waiting, due managed job (claimed or changed meanwhile).
 */
export async function markRedispatched(
  ctx: StoreContext,
  queue: string,
  id: string,
  now: number,
): Promise<boolean> {
  const key = jobKey(queue, id);
  const written = await ctx.db.update<JobItem>(key, dispatchable(now), {
    set: { ready_sk: dispatchKey(now, key.pk) },
  });
  return written.ok;
}

/**
 * Makes a live job dead because its dispatch failed for good: its SQS message `messageId` was
 * dead-lettered (poison message, repeated dispatcher crashes). `reason` is the human message
 * (`last_error`); `dead_reason` is `dispatch_failed`. The job keeps the message id as
 * `dead_message_id`, also once revived, so the dead-letter reconciler can tell the message it
 * died of from a new one. Idempotent: a job that is already dead or terminal, or that this very
 * message made dead before (it was revived since), is left alone and `undefined` returned. A
 * running job's runner then loses its lease.
 */
export async function markDead(
  ctx: StoreContext,
  queue: string,
  id: string,
  reason: string,
  messageId?: string,
): Promise<Job | undefined> {
  const key = jobKey(queue, id);
  const item = await ctx.db.get<JobItem>(key);
  if (!item || !LIVE.includes(item.status) || pastRetention(item, ctx.clock())) return undefined;
  if (messageId !== undefined && item.dead_message_id === messageId) return undefined;
  const now = ctx.clock();
  const death = toDead(item, now, retainUntil(ctx, now), 'dispatch_failed', reason);
  const change = messageId === undefined ? death : withSet(death, { dead_message_id: messageId });
  // Still the live job that was read: a job that finished or changed meanwhile keeps its outcome.
  const still = and(statusIn(LIVE), unchangedSince(item.updated_at));
  // A running job's run ends here: its record goes in the same transaction.
  const written = isRunning(item)
    ? await endRun(ctx, item, still, change, now, { outcome: 'dispatch_failed', error: reason })
    : await ctx.db.update<JobItem>(key, still, change);
  if (!written.ok) return undefined;
  // A waiting job has no run to end: it only becomes dead.
  if (item.status === 'running') ctx.metrics.runEnded(item, 'dead', now);
  else ctx.metrics.died({ queue, id });
  return toJob(written.item);
}
