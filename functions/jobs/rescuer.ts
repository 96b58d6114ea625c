/**
 * The rescuer: ends runs whose lease has passed, on the sweep or when a claimer meets one (lazy
 * expiry). An expired run spends a retry: its job waits again where it was, or is dead when none
 * is left (enqueuing its `on_failure` job).
 *
 * Lazy expiry and the sweep cannot both count one expired run: both write with
 * `currentRun(run_id) AND leaseExpired(now)`, and the first writer changes `run_id` or the status.
 */
import { mapLimit } from '../core/concurrency.ts';
import { expiredToWaiting, spendRetry, startRun, toDead } from './changes.ts';
import { currentRun, leaseAsRead, leaseExpired, pullJob } from './conditions.ts';
import { retainUntil, type StoreContext } from './context.ts';
import { and } from './expressions.ts';
import type { RunEnding } from './history.ts';
import { hasRetryLeft, isManaged, isRunning, type JobItem, keyOf, type LeaseEntry } from './item.ts';
import { type ItemKey, leaseExpiredBefore, leaseSortKey, runIdOfLeaseKey, shardPk } from './keys.ts';
import { shardsOf } from './queues.ts';
import { endRun } from './runs.ts';

export interface SweepResult {
  /** Expired runs put back to wait for a retry. */
  readonly requeued: number;
  /** Expired runs that had no retry left. */
  readonly dead: number;
  /** Lease index entries moved forward because their job had heartbeated. */
  readonly refreshed: number;
  /**
   * Fargate tasks of the runs this sweep expired: their runner stopped heartbeating, so it may be
   * hung with its command still going. The caller stops them.
   */
  readonly orphanedTasks: readonly string[];
}

/** The message an expired run leaves in `last_error`. */
const LEASE_EXPIRED = 'lease expired';

/**
 * Ends every run whose lease has passed, in every queue. Safe to run concurrently with itself and
 * with claimers: each expiry is a write conditioned on the run id and the lease deadline.
 */
export async function sweep(ctx: StoreContext): Promise<SweepResult> {
  const counts = { requeued: 0, dead: 0, refreshed: 0 };
  const orphanedTasks: string[] = [];
  const now = ctx.clock();
  for (const info of await ctx.queues.list()) {
    for (const shard of shardsOf(info)) {
      const entries = await ctx.db.queryAll<LeaseEntry>(expiredLeases(shardPk(shard, info.queue), now));
      await mapLimit(entries, 16, async (entry) => {
        const outcome = await sweepOne(ctx, keyOf(entry), runIdOfLeaseKey(entry.lease_sk), now);
        if (!outcome) return;
        counts[outcome.kind]++;
        if (outcome.task) orphanedTasks.push(outcome.task);
      });
    }
  }
  return { ...counts, orphanedTasks };
}

/** The query of one shard's `leases` entries whose deadline has passed at `now`. */
export const expiredLeases = (partition: string, now: number) => ({
  index: 'leases' as const,
  partition,
  range: { atMost: leaseExpiredBefore(now) },
});

async function sweepOne(
  ctx: StoreContext,
  key: ItemKey,
  runId: string,
  now: number,
): Promise<{ kind: 'requeued' | 'dead' | 'refreshed'; task?: string } | undefined> {
  const item = await ctx.db.get<JobItem>(key);
  if (!item || !isRunning(item) || item.run_id !== runId) return undefined;
  if (item.lease_expires_at > now) {
    // Alive: the job heartbeated. Move its index entry to the real deadline.
    const moved = await ctx.db.update<JobItem>(
      key,
      and(currentRun(runId), leaseAsRead(item.lease_expires_at)),
      {
        set: { lease_sk: leaseSortKey(item.lease_expires_at, runId) },
      },
    );
    return moved.ok ? { kind: 'refreshed' } : undefined;
  }
  const deadBefore = !hasRetryLeft(item);
  if (!(await expireRun(ctx, key, runId, now, false))) return undefined;
  return { kind: deadBefore ? 'dead' : 'requeued', task: item.task_arn };
}

/**
 * Ends a run whose lease has passed: back to waiting (keeping `run_at`, so it returns to the head
 * of its priority band) or dead when no retry is left (enqueuing its `on_failure` job). With
 * `reclaim`, a pull job with a retry left is claimed again in the same write instead (lazy expiry
 * by a claimer), and the new run is returned; a managed one goes back to waiting for a dispatch,
 * as the sweep would do (`worker` is the new run's claimer). `undefined` when the run was not expired, or another sweep or claimer
 * expired it first.
 */
export async function expireRun(
  ctx: StoreContext,
  key: ItemKey,
  runId: string,
  now: number,
  reclaim: boolean,
  worker?: string,
): Promise<JobItem | undefined> {
  const item = await ctx.db.get<JobItem>(key);
  if (!item || !isRunning(item) || item.run_id !== runId) return undefined; // index lag
  if (item.lease_expires_at > now) return undefined; // heartbeated since the index entry
  const fence = and(currentRun(runId), leaseExpired(now));
  // As far as Relay can tell the run ended when its lease did: how late the sweep or a claimer
  // noticed is not run time.
  const endedAt = item.lease_expires_at;
  const ending: RunEnding = { outcome: 'lease_expired', endedAt, error: LEASE_EXPIRED };
  if (!hasRetryLeft(item)) {
    const dead = toDead(item, now, retainUntil(ctx, now), 'lease_expired', LEASE_EXPIRED);
    const ended = await endRun(ctx, item, fence, dead, now, ending, 'failure');
    if (!ended.ok) return undefined;
    ctx.metrics.runEnded(item, 'dead', endedAt);
    return reclaim ? undefined : ended.item;
  }
  if (reclaim && !isManaged(item)) {
    const again = startRun(now, item.timeout_ms, item.created_pk, {
      retries_remaining: spendRetry(item),
      last_error: LEASE_EXPIRED,
      worker,
    });
    const claimed = await endRun(ctx, item, and(fence, pullJob), again, now, ending);
    if (!claimed.ok) return undefined;
    ctx.metrics.runEnded(item, 'retried', endedAt);
    ctx.metrics.claimed(item, claimed.item, now);
    return claimed.item;
  }
  const waiting = await endRun(ctx, item, fence, expiredToWaiting(item, now, LEASE_EXPIRED), now, ending);
  if (!waiting.ok) return undefined;
  ctx.metrics.runEnded(item, 'retried', endedAt);
  return reclaim ? undefined : waiting.item;
}
