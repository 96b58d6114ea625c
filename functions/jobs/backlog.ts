/**
 * A queue's backlog as the maintenance pass reports it (the `PendingJobs`, `OldestPendingAge`,
 * `RunningJobs` and `DeadJobs` gauges): bounded reads of the sparse indexes, so the pass costs the
 * same whatever the backlog.
 */
import type { StoreContext } from './context.ts';
import { shardPk } from './keys.ts';
import { shardsOf } from './queues.ts';
import { countDead, waitingIn } from './reads.ts';

/**
 * `ready` entries read per partition (a queue has a pull and a managed one per shard): one Query
 * page of at most ~150 KB, ~19 RRU when full. A larger backlog reads as this many per partition.
 */
export const BACKLOG_SCAN_LIMIT = 1_000;

export interface QueueBacklog {
  /** Waiting jobs due now (status `pending`), among the entries read. */
  readonly pending: number;
  /** `now` minus when the longest-waiting of them became due; 0 when none is due. */
  readonly oldestPendingMs: number;
  /** Runs holding a lease, expired or not. */
  readonly running: number;
  /** Dead jobs still retained. */
  readonly dead: number;
  /** False when a partition held more than `BACKLOG_SCAN_LIMIT` entries: `pending` is then a floor. */
  readonly complete: boolean;
}

/**
 * The backlog of `queue`. A pull partition is in claim order (priority band, then run_at), so the
 * entries read are those claimed next: when no one claims, their age rises like every other's.
 */
export async function backlog(
  ctx: StoreContext,
  queue: string,
  limit = BACKLOG_SCAN_LIMIT,
): Promise<QueueBacklog> {
  const info = await ctx.queues.info(queue);
  const now = ctx.clock();
  const shards = info ? shardsOf(info) : [];
  const [perShard, running, dead] = await Promise.all([
    Promise.all(shards.map((shard) => waitingIn(ctx, shard, queue, limit))),
    Promise.all(shards.map((shard) => ctx.db.count({ index: 'leases', partition: shardPk(shard, queue) }))),
    countDead(ctx, queue),
  ]);
  const due = perShard.flatMap((s) => s.waiting).filter((w) => w.status === 'pending' && w.at <= now);
  const oldest = Math.min(...due.map((w) => w.at));
  return {
    pending: due.length,
    oldestPendingMs: due.length ? Math.max(0, now - oldest) : 0,
    running: running.reduce((sum, n) => sum + n, 0),
    dead,
    complete: perShard.every((s) => s.complete),
  };
}
