/**
 * Enqueue: one job, or a batch, as conditional writes that succeed only while the id is free (or,
 * in `replace` mode, may overwrite what holds it).
 */
import { mapLimit } from '../core/concurrency.ts';
import { readyEntry, replacing } from './changes.ts';
import { idFree, keyFree, replaceable, stillOurs } from './conditions.ts';
import type { StoreContext } from './context.ts';
import { putOf, wasThrottled } from './dynamo.ts';
import { DuplicateIdempotencyKeyError, InvalidArgumentError, JobExistsError } from './errors.ts';
import { type JobItem, keyOf, seconds, toJob, type WaitingItem } from './item.ts';
import { type ItemKey, idempotencyKey, jobKey, orderKey, shardOf, shardPk } from './keys.ts';
import type { Job, NewJob } from './model.ts';
import { agingMsOf } from './queues.ts';

/** What to do when an enqueued id is already held by a live job. */
export type EnqueueMode = 'unique' | 'ignore' | 'replace';

export interface EnqueueResult {
  readonly job: Job;
  /** False when `ignore` mode kept an existing job. */
  readonly created: boolean;
}

/** The item that reserves an idempotency key for the job first enqueued with it. */
interface IdempotencyItem extends ItemKey {
  readonly queue: string;
  readonly key: string;
  readonly job_id: string;
  readonly expires_at: number;
}

/**
 * Enqueues one job. A live job with the same id makes `unique` throw `JobExistsError`, `ignore`
 * return the existing job, and `replace` overwrite it (a running job's run is fenced out).
 */
export async function enqueue(ctx: StoreContext, job: NewJob, mode: EnqueueMode): Promise<EnqueueResult> {
  const { written, ...result } = await growingWhenThrottled(ctx, [job], () => enqueueOne(ctx, job, mode));
  if (written) ctx.metrics.enqueued([written]);
  return result;
}

/**
 * Enqueues many jobs. `unique` is all-or-nothing: any conflict, including a duplicate id within
 * the batch, rejects the whole batch. `ignore` keeps the first of duplicate ids, `replace` the last.
 */
export async function enqueueMany(
  ctx: StoreContext,
  jobs: readonly NewJob[],
  mode: EnqueueMode,
): Promise<void> {
  return growingWhenThrottled(ctx, jobs, () =>
    mode === 'unique' ? enqueueAllOrNothing(ctx, jobs) : enqueueEach(ctx, jobs, mode),
  );
}

/** `enqueueMany` in `ignore` or `replace` mode: one conditional write per job. */
async function enqueueEach(
  ctx: StoreContext,
  jobs: readonly NewJob[],
  mode: Exclude<EnqueueMode, 'unique'>,
): Promise<void> {
  const written: JobItem[] = [];
  const failures: unknown[] = [];
  // Every job is tried before the first failure is thrown, so each job written is recorded.
  await mapLimit(dedupe(jobs, mode), 16, async (job) => {
    try {
      const result = await enqueueOne(ctx, job, mode);
      if (result.written) written.push(result.written);
    } catch (error) {
      failures.push(error);
    }
  });
  ctx.metrics.enqueued(written);
  if (failures.length) throw failures[0];
}

/**
 * Runs an enqueue; when DynamoDB throttled it, grows the shards of the queues it wrote to before
 * failing as it would have (`QueueRegistry.grow`): the caller's retry, and every enqueue after it,
 * spreads over twice as many index partitions.
 */
async function growingWhenThrottled<T>(
  ctx: StoreContext,
  jobs: readonly NewJob[],
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (wasThrottled(error)) {
      // Best effort: the enqueue's own error is the answer, whether or not the layout could grow.
      await Promise.allSettled(
        [...new Set(jobs.map((job) => job.queue))].map((queue) => ctx.queues.grow(queue)),
      );
    }
    throw error;
  }
}

/** What `enqueueOne` wrote: the item, for the metrics and the claims waiting on its queue. */
interface Written extends EnqueueResult {
  readonly written?: JobItem;
}

/** `enqueue` without its metrics, so a batch records its jobs once per queue. */
async function enqueueOne(ctx: StoreContext, job: NewJob, mode: EnqueueMode): Promise<Written> {
  if (job.idempotency_key !== undefined && mode !== 'unique') {
    throw new InvalidArgumentError('mode', 'an idempotency key is honoured only by a unique enqueue');
  }
  const now = ctx.clock();
  const item = await newItem(ctx, job, now);
  if (job.idempotency_key !== undefined) return enqueueIdempotent(ctx, item, job.idempotency_key, now);
  const written =
    mode === 'replace'
      ? await ctx.db.update<JobItem>(keyOf(item), replaceable(seconds(now)), replacing(item))
      : await ctx.db.put<JobItem>(item, idFree(seconds(now)));
  if (written.ok) return { job: toJob(written.item), created: true, written: written.item };
  if (mode === 'ignore' && written.old) return { job: toJob(written.old), created: false };
  throw new JobExistsError(job.queue, job.id);
}

/** The job and its idempotency key in one transaction: either both are written or neither. */
async function enqueueIdempotent(
  ctx: StoreContext,
  item: JobItem,
  key: string,
  now: number,
): Promise<Written> {
  const nowSeconds = seconds(now);
  const reservation: IdempotencyItem = {
    ...idempotencyKey(item.queue, key),
    queue: item.queue,
    key,
    job_id: item.id,
    expires_at: nowSeconds + ctx.config.idempotencyTtlSeconds,
  };
  const done = await ctx.db.transact([
    putOf(reservation, keyFree(nowSeconds)),
    putOf(item, idFree(nowSeconds)),
  ]);
  if (done.ok) return { job: toJob(item), created: true, written: item };
  const [keyTaken] = done.refusals;
  if (keyTaken) {
    const holder = keyTaken.old as Partial<IdempotencyItem> | undefined;
    throw new DuplicateIdempotencyKeyError(item.queue, key, String(holder?.job_id));
  }
  throw new JobExistsError(item.queue, item.id);
}

/**
 * Enqueues a batch where any conflict rejects the whole batch (relay-rs v2 `unique`).
 *
 * Up to 100 jobs (DynamoDB's transaction limit) are all-or-nothing. Larger batches are written in
 * transactions of 100; if a later one conflicts, the jobs already written are removed again while
 * still unclaimed, so a rejected batch leaves nothing behind unless a worker raced to claim it.
 */
async function enqueueAllOrNothing(ctx: StoreContext, jobs: readonly NewJob[]): Promise<void> {
  const seen = new Set<string>();
  for (const job of jobs) {
    const key = jobKey(job.queue, job.id).pk;
    if (seen.has(key)) throw new JobExistsError(job.queue, job.id);
    seen.add(key);
  }
  const now = ctx.clock();
  const items = await Promise.all(jobs.map((job) => newItem(ctx, job, now)));
  const written: WaitingItem[] = [];
  for (const chunk of transactionChunks(items)) {
    const conflicting = await writeAllOrNothing(ctx, chunk, seconds(now));
    if (conflicting) {
      await rollBack(ctx, written);
      throw new JobExistsError(conflicting.queue, conflicting.id);
    }
    written.push(...chunk);
  }
  ctx.metrics.enqueued(items);
}

/**
 * Writes every job of `chunk` under `idFree`, or none; returns a job that was not free, if any. A
 * chunk of one is a lone conditional put: as atomic as a transaction, and DynamoDB bills a
 * transactional write twice.
 */
async function writeAllOrNothing(
  ctx: StoreContext,
  chunk: readonly WaitingItem[],
  nowSeconds: number,
): Promise<WaitingItem | undefined> {
  const [only] = chunk;
  if (only && chunk.length === 1) return (await ctx.db.put(only, idFree(nowSeconds))).ok ? undefined : only;
  const done = await ctx.db.transact(chunk.map((item) => putOf(item, idFree(nowSeconds))));
  if (done.ok) return undefined;
  return chunk[
    Math.max(
      0,
      done.refusals.findIndex((r) => r !== undefined),
    )
  ];
}

/** Deletes the jobs a rejected batch wrote, each only while still unclaimed (`stillOurs`). */
async function rollBack(ctx: StoreContext, items: readonly WaitingItem[]): Promise<void> {
  await mapLimit(items, 16, (item) => ctx.db.delete(keyOf(item), stillOurs(item.ready_sk)));
}

/** The item of a new job, waiting in its queue (which this registers on first use). */
export async function newItem(ctx: StoreContext, job: NewJob, now: number): Promise<WaitingItem> {
  // Taken before the first await, so jobs built concurrently (a batch) keep their call order.
  const seq = ctx.nextSeq(now);
  const info = await ctx.queues.register(job.queue);
  const agingMs = agingMsOf(await ctx.queues.settings(job.queue));
  const shard = shardOf(job.queue, job.id, info.shards);
  const runAt = Math.max(0, Math.trunc(job.run_at ?? now));
  const priority = job.priority ?? 0;
  const order = orderKey(priority, runAt, seq, agingMs);
  const key = jobKey(job.queue, job.id);
  const createdPk = shardPk(shard, job.queue);
  return {
    ...key,
    queue: job.queue,
    id: job.id,
    payload: JSON.stringify(job.payload ?? null),
    state: job.state === undefined || job.state === null ? undefined : JSON.stringify(job.state),
    timeout: job.timeout,
    timeout_ms: job.timeout * 1000,
    max_retries: job.max_retries,
    retries_remaining: job.max_retries,
    attempts: 0,
    priority,
    run_at: runAt,
    run_at_text: job.run_at_text,
    created_at: now,
    updated_at: now,
    status: 'pending',
    idempotency_key: job.idempotency_key,
    backoff: job.backoff,
    type: job.type,
    on_success: job.on_success === undefined ? undefined : JSON.stringify(job.on_success),
    on_failure: job.on_failure === undefined ? undefined : JSON.stringify(job.on_failure),
    parent: job.parent,
    seq,
    shard,
    order_key: order,
    aging_ms: agingMs,
    ...readyEntry({ ...key, type: job.type, shard, queue: job.queue, created_pk: createdPk }, order),
    created_pk: createdPk,
    created_sk: seq,
  };
}

/** Duplicate ids within one batch: `ignore` keeps the first, `replace` the last. */
export function dedupe(jobs: readonly NewJob[], mode: 'ignore' | 'replace'): NewJob[] {
  const byKey = new Map<string, NewJob>();
  for (const job of jobs) {
    const key = jobKey(job.queue, job.id).pk;
    if (mode === 'replace' || !byKey.has(key)) {
      byKey.delete(key);
      byKey.set(key, job);
    }
  }
  return [...byKey.values()];
}

/**
 * Splits puts into transactions DynamoDB accepts: at most 100 items and 4 MB in all (kept at
 * 3.5 MB to leave room for attribute names and overhead).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 */
function transactionChunks<T extends object>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (current.length && (current.length === 100 || bytes + size > 3.5 * 1024 * 1024)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}
