/**
 * Reads: one job, listings (newest first, and the dead-letter listing) and per-queue counts.
 *
 * Every read ignores an item past retention (`pastRetention`): DynamoDB's TTL deletes it lazily.
 * Listings and counts read only the sparse indexes, never the whole table.
 */
import type { StoreContext } from './context.ts';
import type { KeyQuery } from './dynamo.ts';
import { type JobFilter, matchesFilter } from './filters.ts';
import { type JobItem, type KeysEntry, keyOf, pastRetention, type ReadyEntry, toJob } from './item.ts';
import { deadSortKey, dispatchTimeOf, INDEX, jobKey, managedShardPk, runAtOf, shardPk } from './keys.ts';
import { type Job, LIVE } from './model.ts';
import { type QueueInfo, shardsOf } from './queues.ts';

export interface Page<T> {
  readonly items: T[];
  readonly cursor: string | null;
}

export interface QueueStats {
  readonly pending: number;
  readonly scheduled: number;
  readonly running: number;
  readonly failed: number;
  readonly dead: number;
}

/** The job, or `undefined` when unknown or past retention. */
export async function get(ctx: StoreContext, queue: string, id: string): Promise<Job | undefined> {
  const item = await ctx.db.get<JobItem>(jobKey(queue, id));
  if (!item || pastRetention(item, ctx.clock())) return undefined;
  return toJob(item);
}

/** The job if it is live (pending, failed or running): what relay-rs's routes can see. */
export async function getLive(ctx: StoreContext, queue: string, id: string): Promise<Job | undefined> {
  const job = await get(ctx, queue, id);
  return job && LIVE.includes(job.status) ? job : undefined;
}

/**
 * Jobs newest first, optionally of one queue and matching `filter`. Pages may hold fewer than
 * `limit` jobs when the filter skips many; `cursor` is null once there is nothing older.
 */
export async function list(
  ctx: StoreContext,
  opts: JobFilter & { queue?: string; limit: number; cursor?: string },
): Promise<Page<Job>> {
  const page = await listItems(ctx, opts);
  return { items: page.items.map(toJob), cursor: page.cursor };
}

/** `list`, as the stored items: what a bulk action conditions its writes on. */
export async function listItems(
  ctx: StoreContext,
  opts: JobFilter & { queue?: string; limit: number; cursor?: string },
): Promise<Page<JobItem>> {
  const queues = opts.queue
    ? [await ctx.queues.info(opts.queue)].filter((q): q is QueueInfo => q !== undefined)
    : await ctx.queues.list();
  const now = ctx.clock();
  const index = opts.status === 'dead' ? 'dead' : 'created';
  return listByIndex(ctx, index, queues, opts.limit, opts.cursor, (job) => matchesFilter(job, opts, now));
}

/** Dead jobs of a queue, most recently dead first. */
export async function deadLetters(
  ctx: StoreContext,
  queue: string,
  limit: number,
  cursor?: string,
): Promise<Page<Job>> {
  const info = await ctx.queues.info(queue);
  const page = await listByIndex(ctx, 'dead', info ? [info] : [], limit, cursor, (j) => j.status === 'dead');
  return { items: page.items.map(toJob), cursor: page.cursor };
}

/**
 * Walks a KEYS_ONLY index newest first over every shard of the given queues, merging by sort key.
 * The cursor is the last sort key returned: sort keys are unique, so one boundary serves all shards.
 */
async function listByIndex(
  ctx: StoreContext,
  index: 'created' | 'dead',
  queues: readonly QueueInfo[],
  limit: number,
  cursor: string | undefined,
  keep: (job: Job) => boolean,
): Promise<Page<JobItem>> {
  const sortKey = INDEX[index].sk;
  const sortKeyOf = (entry: KeysEntry | JobItem): string => entry[sortKey] ?? '';
  let boundary = cursor;
  const found: JobItem[] = [];
  // Bounded: a status filter over a long history returns a short page and a cursor rather than
  // reading the whole index in one request.
  for (let round = 0; round < 10 && found.length < limit; round++) {
    const range = boundary === undefined ? undefined : { below: boundary };
    const perShard = await Promise.all(
      queues.flatMap((q) =>
        shardsOf(q).map((shard) =>
          ctx.db.query<KeysEntry>({
            index,
            partition: shardPk(shard, q.queue),
            range,
            descending: true,
            limit,
          }),
        ),
      ),
    );
    const entries = perShard
      .flatMap((page) => page.items)
      .sort((a, b) => sortKeyOf(b).localeCompare(sortKeyOf(a)))
      .slice(0, limit);
    if (!entries.length) return { items: found, cursor: null };
    const items = await ctx.db.batchGet<JobItem>(entries.map(keyOf));
    for (const entry of entries) {
      const item = items.get(entry.pk);
      // The index lags the table: skip entries whose item has moved on (or is past retention).
      if (item && sortKeyOf(item) === sortKeyOf(entry) && !pastRetention(item, ctx.clock())) {
        if (keep(toJob(item))) found.push(item);
      }
      boundary = sortKeyOf(entry);
      if (found.length === limit) break;
    }
    if (entries.length < limit) {
      const exhausted = perShard.every((page) => !page.lastKey);
      if (exhausted && found.length < limit) return { items: found, cursor: null };
    }
  }
  return { items: found, cursor: boundary ?? null };
}

/**
 * Counts per status from the sparse indexes: reads only waiting, running and dead jobs. Waiting
 * jobs are read from both `ready` partitions of each shard, the pull one and the managed one.
 */
export async function stats(ctx: StoreContext, queue: string): Promise<QueueStats> {
  const info = await ctx.queues.info(queue);
  const now = ctx.clock();
  const perShard = await Promise.all(
    (info ? shardsOf(info) : []).map(async (shard) => {
      const pk = shardPk(shard, queue);
      const [{ waiting }, running, dead] = await Promise.all([
        waitingIn(ctx, shard, queue),
        ctx.db.count({ index: 'leases', partition: pk }),
        ctx.db.count({ index: 'dead', partition: pk }),
      ]);
      const failed = waiting.filter((w) => w.status === 'failed').length;
      const scheduled = waiting.filter((w) => w.status !== 'failed' && w.at > now).length;
      return { pending: waiting.length - failed - scheduled, scheduled, running, failed, dead };
    }),
  );
  const total: QueueStats = { pending: 0, scheduled: 0, running: 0, failed: 0, dead: 0 };
  return perShard.reduce(
    (sum, s) => ({
      pending: sum.pending + s.pending,
      scheduled: sum.scheduled + s.scheduled,
      running: sum.running + s.running,
      failed: sum.failed + s.failed,
      dead: sum.dead + s.dead,
    }),
    total,
  );
}

/** A waiting job as its `ready` entry tells it: its status, and when it is (or was) due. */
export interface Waiting {
  readonly status: ReadyEntry['status'];
  readonly at: number;
}

/**
 * The waiting jobs of one shard of `queue`, from its pull and its managed `ready` partitions: all
 * of them, or the first `limit` of each partition in key order, with `complete` false when a
 * partition held more. A pull entry's key holds its run_at; a managed entry's holds its dispatch
 * time (≥ run_at, and ≤ now once due), so both say whether the job is due.
 */
export async function waitingIn(
  ctx: StoreContext,
  shard: number,
  queue: string,
  limit?: number,
): Promise<{ waiting: Waiting[]; complete: boolean }> {
  const read = async (partition: string) => {
    const q: KeyQuery = { index: 'ready', partition, attributes: ['status', INDEX.ready.sk] };
    type Entry = Pick<ReadyEntry, 'status' | 'ready_sk'>;
    if (limit === undefined) return { items: await ctx.db.queryAll<Entry>(q), complete: true };
    const page = await ctx.db.query<Entry>({ ...q, limit });
    return { items: page.items, complete: !page.lastKey };
  };
  const [pull, managed] = await Promise.all([
    read(shardPk(shard, queue)),
    read(managedShardPk(shard, queue)),
  ]);
  return {
    waiting: [
      ...pull.items.map((w) => ({ status: w.status, at: runAtOf(w.ready_sk) })),
      ...managed.items.map((w) => ({ status: w.status, at: dispatchTimeOf(w.ready_sk) })),
    ],
    complete: pull.complete && managed.complete,
  };
}

/**
 * Dead jobs of `queue`, from its sparse `dead` index (a `Select: COUNT` query per shard, about
 * 0.5 RRU each while few jobs are dead). A dead job past retention is not counted: every read
 * ignores it already, though DynamoDB's TTL may delete it days later.
 */
export async function countDead(ctx: StoreContext, queue: string): Promise<number> {
  const info = await ctx.queues.info(queue);
  const retainedSince = deadSortKey(ctx.clock() - ctx.config.retentionSeconds * 1000, '');
  const perShard = await Promise.all(
    (info ? shardsOf(info) : []).map((shard) => {
      const q: KeyQuery = {
        index: 'dead',
        partition: shardPk(shard, queue),
        range: { atLeast: retainedSince },
      };
      return ctx.db.count(q);
    }),
  );
  return perShard.reduce((sum, n) => sum + n, 0);
}
