/**
 * The job store: every job transition as one conditional DynamoDB write.
 *
 * DynamoDB is the only source of truth. Each method below changes a job with a single
 * `PutItem`/`UpdateItem`/`DeleteItem` (or one `TransactWriteItems`) whose condition names the prior
 * state it expects, and for running jobs the run's fencing token (`run_id`). Where a method reads
 * first (lazy lease expiry, explicit failure), the write is still conditioned on what was read, so
 * a concurrent change makes it fail instead of being overwritten.
 */

import { randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { backoffSeconds } from '../core/backoff.ts';
import { mapLimit, sleep } from '../core/concurrency.ts';
import type { StoreConfig } from '../core/config.ts';
import { describeError, log } from '../core/log.ts';
import { JobMetric } from '../core/metric-names.ts';
import { type JobMetrics, type MetricContext, type MetricValues, noMetrics } from '../core/metrics.ts';
import { type StoreContext, storeContext } from './context.ts';
import {
  DuplicateIdempotencyKeyError,
  InvalidArgumentError,
  InvalidTransitionError,
  JobExistsError,
  JobKindError,
  JobNotFoundError,
  LeaseLostError,
  PayloadTooLargeError,
  StoreBusyError,
} from './errors.ts';
import { and, build, buildUpdate, type Change, type Condition, condition, or } from './expressions.ts';
import {
  childId,
  deadSortKey,
  dispatchDueBefore,
  dispatchKey,
  INDEX,
  type IndexName,
  type ItemKey,
  idempotencyKey,
  jobKey,
  leaseExpiredBefore,
  leaseSortKey,
  managedShardPk,
  nextBand,
  orderKey,
  runAtOf,
  runIdOfLeaseKey,
  shardOf,
  shardPk,
  utf8Bytes,
} from './keys.ts';
import type { AppendLogsResult } from './logs.ts';
import * as logs from './logs.ts';
import {
  type ChildJobSpec,
  DEFAULT_BACKOFF,
  DEFAULTS,
  type DeadReason,
  type Job,
  type JobKind,
  kindOf,
  LIMITS,
  LIVE,
  type LogEntry,
  type LogEntryInput,
  type NewJob,
  normalizeMaxRetries,
  type RunResult,
  type StoredStatus,
  type ViewStatus,
  WAITING,
} from './model.ts';
import type { QueueInfo } from './queues.ts';
import type { Page, QueueStats } from './reads.ts';
import * as reads from './reads.ts';

type Item = Record<string, unknown>;

export type { AppendLogsResult } from './logs.ts';
export type { QueueInfo } from './queues.ts';
export type { Page, QueueStats } from './reads.ts';

/** What to do when an enqueued id is already held by a live job. */
export type EnqueueMode = 'unique' | 'ignore' | 'replace';

export interface EnqueueResult {
  readonly job: Job;
  /** False when `ignore` mode kept an existing job. */
  readonly created: boolean;
}

/** How a run ended: the job after the write, and the job its outcome enqueued, if any. */
export interface RunOutcome {
  readonly job: Job;
  /** The `on_success` / `on_failure` job this end enqueued; it needs a dispatch if it is managed. */
  readonly child: Job | null;
}

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

// ---------------------------------------------------------------------------------------------
// Named conditions. Each says which prior state a transition requires, and why.
// ---------------------------------------------------------------------------------------------

/** No item, or one whose id is free again: terminal jobs and items past retention free the id. */
const idFree = (nowSeconds: number): Condition =>
  or(
    condition('attribute_not_exists(#pk)', ['pk']),
    condition('#status IN (:completed, :dead, :cancelled)', ['status'], {
      ':completed': 'completed',
      ':dead': 'dead',
      ':cancelled': 'cancelled',
    }),
    condition('#expires_at <= :now_s', ['expires_at'], { ':now_s': nowSeconds }),
  );

/**
 * The job is still the waiting entry the claimer read from the `ready` index: the order key holds
 * priority, `run_at` and enqueue sequence, so a job rescheduled or replaced since then fails this.
 */
const stillWaitingAs = (readySk: string, timeoutMs: number): Condition =>
  condition('#ready_sk = :seen_ready_sk AND #timeout_ms = :seen_timeout_ms', ['ready_sk', 'timeout_ms'], {
    ':seen_ready_sk': readySk,
    ':seen_timeout_ms': timeoutMs,
  });

/** The job is running (any run): the fence of relay-rs's v1 routes, which carry no run id. */
const inFlight = condition('#status = :running', ['status'], { ':running': 'running' });

/** The job is running this exact run: the fence that keeps a stale worker out. */
const currentRun = (runId: string): Condition =>
  and(inFlight, condition('#run_id = :run_id', ['run_id'], { ':run_id': runId }));

/** The run's lease deadline has passed (heartbeats move it, so this is checked on the item itself). */
const leaseExpired = (now: number): Condition =>
  condition('#lease_expires_at <= :now', ['lease_expires_at'], { ':now': now });

const statusIn = (statuses: readonly StoredStatus[]): Condition =>
  condition(
    `#status IN (${statuses.map((s) => `:is_${s}`).join(', ')})`,
    ['status'],
    Object.fromEntries(statuses.map((s) => [`:is_${s}`, s])),
  );

/**
 * A new state of `stateBytes` fits beside the stored payload within `LIMITS.payloadStateBytes`, the
 * budget enqueue enforces; without it a large state would fail as an oversized DynamoDB item.
 */
const fitsBeside = (stateBytes: number): Condition =>
  condition('size(#payload) <= :room', ['payload'], { ':room': LIMITS.payloadStateBytes - stateBytes });

/** Item exists (and so has a status); paired with status checks so a missing item reads as not found. */
const exists = condition('attribute_exists(#pk)', ['pk']);

/** A managed job: Relay starts it on a dispatch message (`claimById`), never a pull claimer. */
const managed = condition('#type = :shell', ['type'], { ':shell': 'SHELL' });

/**
 * A pull job. Pull claims only read `shardPk` partitions, where managed jobs never wait; the claim
 * write still says so, so no index entry (lagging, or of a replaced job) can hand one to a worker.
 */
const pullJob = condition('attribute_not_exists(#type)', ['type']);

/**
 * The job is of the kind the caller may act on. Workers (relay-rs routes, native fail) act only on
 * pull jobs, so a principal allowed to work pull jobs can neither end a managed run nor, by failing
 * it, make its command run again; a managed run is heartbeated and ended by its own runner.
 */
const ofKind = (kind: JobKind): Condition => (kind === 'pull' ? pullJob : managed);

/**
 * `replace` may overwrite a pull job, or an id that is free (none, ended, past retention): never a
 * live managed job, whose command a producer of pull jobs must not be able to change or drop.
 */
const replaceable = (nowSeconds: number): Condition => or(pullJob, idFree(nowSeconds));

/**
 * A managed job that is waiting and due. A dispatch message may start it, and the lost-dispatch
 * repair may re-send one for it. `run_at` guards against early, stale or duplicate messages: a job
 * that failed since the message was sent waits for its backoff.
 */
const dispatchable = (now: number): Condition =>
  and(statusIn(WAITING), condition('#run_at <= :due_at', ['run_at'], { ':due_at': now }), managed);

/** The lease length is the one read before the write: the new `lease_sk` encodes a deadline built from it. */
const timeoutAsRead = (timeoutMs: number): Condition =>
  condition('#timeout_ms = :seen_timeout_ms', ['timeout_ms'], { ':seen_timeout_ms': timeoutMs });

/**
 * The child a run's outcome enqueues does not exist yet. Its id is derived from the run, so this
 * holds only for the first end of that run; with the parent's `currentRun` fence in the same
 * transaction it makes on_success / on_failure exactly-once.
 */
const childNotCreated = condition('attribute_not_exists(#pk)', ['pk']);

// Index attributes each state carries; leaving a state removes them (sparse indexes).
const READY_ATTRS = ['ready_pk', 'ready_sk'] as const;
const LEASE_ATTRS = ['lease_pk', 'lease_sk'] as const;
const DEAD_ATTRS = ['dead_pk', 'dead_sk'] as const;

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
]);

interface Candidate {
  readonly key: ItemKey;
  readonly order: string;
  /** `ready`: a waiting job; `expired`: a running job whose lease deadline has passed. */
  readonly kind: 'ready' | 'expired';
  /** `<shard>#<queue>`: the partition key the job's index entries share. */
  readonly shardKey: string;
  readonly readySk?: string;
  readonly timeoutMs?: number;
  readonly runId?: string;
}

/** What the end of a run counts, by how it ended. */
const RUN_ENDS = {
  completed: { [JobMetric.COMPLETED]: 1 },
  retried: { [JobMetric.FAILED]: 1, [JobMetric.RETRIED]: 1 },
  dead: { [JobMetric.FAILED]: 1, [JobMetric.DEAD]: 1 },
} satisfies Record<string, MetricValues>;

type RunEnd = keyof typeof RUN_ENDS;

/** The queue and id of a job: all an `Enqueued` record needs. */
interface JobRef {
  readonly queue: string;
  readonly id: string;
}

/**
 * Every job transition, and the metrics of each one that was written.
 *
 * Being the one place every handler, the dispatcher, the runner and the sweep go through, the store
 * records metrics itself, and only after the write succeeded: a failed condition, a stale run id or
 * a duplicate enqueue records nothing. What each transition counts:
 * - `Enqueued`: every job written — enqueue (also `replace` of a live job), batches (one record per
 *   queue), `reschedule`, the jobs of `replaceRun`, and the `on_success` / `on_failure` child of a
 *   run's end. An operator's retry or requeue of a dead job is not an enqueue, nor a `Retried` (which
 *   counts automatic retries of failed runs, so `Failed` = `Retried` + `Dead` of runs): it counts
 *   nothing, and its next claim counts as usual.
 * - `Claimed` + `QueueWait`: every run started, by a pull claim (also reclaiming an expired lease)
 *   or a dispatch (`claimById`).
 * - `Completed` + `RunDuration`: a run ended without failure — `complete`, `completeRun`, and a run
 *   that `reschedule` or `replaceRun` ended.
 * - `Failed` + `Retried` or `Dead` + `RunDuration`: a run failed (`fail`, `failRun`), its lease
 *   expired (sweep or a claimer), or `markDead` ended it. `markDead` of a waiting job has no run:
 *   `Dead` only.
 * - `Cancelled`: `cancel`. A cancelled run records no end of its own.
 * A released run (`releaseRun`: it never started) and deletes count nothing.
 */
export class JobStore {
  private readonly ctx: StoreContext;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly config: StoreConfig,
    private readonly clock: () => number = Date.now,
    private readonly metrics: JobMetrics = noMetrics,
  ) {
    this.ctx = storeContext(db, config, clock, metrics);
  }

  // -------------------------------------------------------------------------------------------
  // Queues
  // -------------------------------------------------------------------------------------------

  /** The queue's layout, registering the queue on first use when `create` is set. */
  queueInfo(queue: string, create = false): Promise<QueueInfo | undefined> {
    return this.ctx.queues.info(queue, create);
  }

  listQueues(): Promise<QueueInfo[]> {
    return this.ctx.queues.list();
  }

  // -------------------------------------------------------------------------------------------
  // Enqueue
  // -------------------------------------------------------------------------------------------

  /**
   * Enqueues one job. A live job with the same id makes `unique` throw `JobExistsError`, `ignore`
   * return the existing job, and `replace` overwrite it (a running job's run is fenced out).
   */
  async enqueue(job: NewJob, mode: EnqueueMode = 'unique'): Promise<EnqueueResult> {
    const result = await this.enqueueOne(job, mode);
    if (result.created) this.recordEnqueued([result.job]);
    return result;
  }

  /** `enqueue` without its metrics, so a batch records its jobs once per queue. */
  private async enqueueOne(job: NewJob, mode: EnqueueMode): Promise<EnqueueResult> {
    const now = this.clock();
    const item = await this.newItem(job, now);
    if (job.idempotency_key !== undefined) return this.enqueueIdempotent(job, item, mode, now);
    try {
      if (mode === 'replace') {
        const out = await this.send(() =>
          this.db.send(
            new UpdateCommand({
              ...this.upsert(item, replaceable(seconds(now))),
              ReturnValues: 'ALL_NEW',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        );
        return { job: toJob(out.Attributes as Item), created: true };
      }
      await this.send(() => this.db.send(new PutCommand(this.insert(item, now))));
      return { job: toJob(item), created: true };
    } catch (error) {
      const existing = conditionFailureItem(error);
      if (!existing) throw error;
      if (mode === 'ignore') return { job: toJob(existing), created: false };
      throw new JobExistsError(job.queue, job.id);
    }
  }

  /**
   * Enqueues many jobs. `unique` is all-or-nothing: any conflict, including a duplicate id within
   * the batch, rejects the whole batch. `ignore` keeps the first of duplicate ids, `replace` the last.
   */
  async enqueueMany(jobs: readonly NewJob[], mode: EnqueueMode): Promise<void> {
    if (mode === 'unique') return this.enqueueAllOrNothing(jobs);
    const written: Job[] = [];
    const failures: unknown[] = [];
    // Every job is tried before the first failure is thrown, so each job written is recorded.
    await mapLimit(dedupe(jobs, mode), 16, async (job) => {
      try {
        const result = await this.enqueueOne(job, mode);
        if (result.created) written.push(result.job);
      } catch (error) {
        failures.push(error);
      }
    });
    this.recordEnqueued(written);
    if (failures.length) throw failures[0];
  }

  /** A put that succeeds only while the id is free. */
  private insert(item: Item, now: number) {
    return {
      TableName: this.table,
      Item: item,
      ...build(idFree(seconds(now))),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /**
   * An upsert (unconditional for `replace`, fenced for reschedule): the new content overwrites the
   * old, the run (if any) is fenced out by clearing `run_id`, and `created_at` keeps the first
   * enqueue's time, as relay-rs does.
   */
  private upsert(item: Item, when?: Condition) {
    const { pk, sk, created_at, created_sk, ...rest } = item;
    const leftovers = JOB_ATTRIBUTES.filter((a) => !(a in rest) || rest[a] === undefined);
    return {
      TableName: this.table,
      Key: { pk: String(pk), sk: String(sk) },
      ...buildUpdate(when, { set: rest, remove: leftovers, keep: { created_at, created_sk } }),
    };
  }

  /** The job and its idempotency key in one transaction: either both are written or neither. */
  private async enqueueIdempotent(job: NewJob, item: Item, mode: EnqueueMode, now: number) {
    const key = job.idempotency_key as string;
    const nowS = seconds(now);
    /** The key was never used, or its lifetime is over (TTL deletes lazily, so check it here). */
    const keyFree = or(
      condition('attribute_not_exists(#pk)', ['pk']),
      condition('#expires_at <= :now_s', ['expires_at'], { ':now_s': nowS }),
    );
    try {
      await this.send(() =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: {
                    ...idempotencyKey(job.queue, key),
                    queue: job.queue,
                    key,
                    job_id: job.id,
                    expires_at: nowS + this.config.idempotencyTtlSeconds,
                  },
                  ...build(keyFree),
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              mode === 'replace'
                ? {
                    Update: {
                      ...this.upsert(item, replaceable(nowS)),
                      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                    },
                  }
                : { Put: this.insert(item, now) },
            ],
          }),
        ),
      );
      return { job: toJob(item), created: true };
    } catch (error) {
      const reasons = cancellationItems(error);
      if (!reasons) throw error;
      const [keyHolder, jobHolder] = reasons;
      if (keyHolder) throw new DuplicateIdempotencyKeyError(job.queue, key, String(keyHolder.job_id));
      if (jobHolder && mode === 'ignore') return { job: toJob(jobHolder), created: false };
      throw new JobExistsError(job.queue, job.id);
    }
  }

  /**
   * Enqueues a batch where any conflict rejects the whole batch (relay-rs v2 `unique`).
   *
   * Up to 100 jobs (DynamoDB's transaction limit) are all-or-nothing. Larger batches are written in
   * transactions of 100; if a later one conflicts, the jobs already written are removed again while
   * still unclaimed, so a rejected batch leaves nothing behind unless a worker raced to claim it.
   */
  private async enqueueAllOrNothing(jobs: readonly NewJob[]): Promise<void> {
    const seen = new Set<string>();
    for (const job of jobs) {
      const key = jobKey(job.queue, job.id).pk;
      if (seen.has(key)) throw new JobExistsError(job.queue, job.id);
      seen.add(key);
    }
    const now = this.clock();
    const items = await Promise.all(jobs.map((job) => this.newItem(job, now)));
    const written: Item[] = [];
    for (const chunk of transactionChunks(items)) {
      try {
        await this.send(() =>
          this.db.send(
            new TransactWriteCommand({
              TransactItems: chunk.map((item) => ({ Put: this.insert(item, now) })),
            }),
          ),
        );
        written.push(...chunk);
      } catch (error) {
        const reasons = cancellationItems(error);
        if (!reasons) throw error;
        await this.rollBack(written);
        const conflicting = chunk[
          Math.max(
            0,
            reasons.findIndex((r) => r !== undefined),
          )
        ] as Item;
        throw new JobExistsError(String(conflicting.queue), String(conflicting.id));
      }
    }
    this.recordEnqueued(items.map(refOf));
  }

  private async rollBack(items: readonly Item[]): Promise<void> {
    await mapLimit(items, 16, async (item) => {
      /** Only our own write, still unclaimed: a job a worker already took is left to run. */
      const untouched = condition('#ready_sk = :ours', ['ready_sk'], { ':ours': item.ready_sk });
      try {
        await this.send(() =>
          this.db.send(new DeleteCommand({ TableName: this.table, Key: keyOf(item), ...build(untouched) })),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    });
  }

  private async newItem(job: NewJob, now: number): Promise<Item> {
    // Taken before the first await, so jobs built concurrently (a batch) keep their call order.
    const seq = this.ctx.nextSeq(now);
    const info = (await this.queueInfo(job.queue, true)) as QueueInfo;
    const shard = shardOf(job.queue, job.id, info.shards);
    const runAt = Math.max(0, Math.trunc(job.run_at ?? now));
    const order = orderKey(job.priority ?? 0, runAt, seq);
    const pk = shardPk(shard, job.queue);
    const key = jobKey(job.queue, job.id);
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
      priority: job.priority ?? 0,
      run_at: runAt,
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
      ...readyEntry({ ...key, type: job.type, shard, queue: job.queue, created_pk: pk }, order),
      created_pk: pk,
      created_sk: seq,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** The job, or `undefined` when unknown or past retention. */
  get(queue: string, id: string): Promise<Job | undefined> {
    return reads.get(this.ctx, queue, id);
  }

  /** The job if it is live (pending, failed or running): what relay-rs's routes can see. */
  getLive(queue: string, id: string): Promise<Job | undefined> {
    return reads.getLive(this.ctx, queue, id);
  }

  /** Jobs newest first, optionally filtered by view status. */
  list(opts: { queue?: string; status?: ViewStatus; limit: number; cursor?: string }): Promise<Page<Job>> {
    return reads.list(this.ctx, opts);
  }

  /** Dead jobs of a queue, most recently dead first. */
  deadLetters(queue: string, limit: number, cursor?: string): Promise<Page<Job>> {
    return reads.deadLetters(this.ctx, queue, limit, cursor);
  }

  private async batchGet(keys: readonly ItemKey[]): Promise<Map<string, Item>> {
    const result = new Map<string, Item>();
    for (const batch of chunks(keys, 100)) {
      let pending: Record<string, { Keys: ItemKey[] }> | undefined = {
        [this.table]: { Keys: [...batch] },
      };
      for (let attempt = 0; pending && Object.keys(pending).length && attempt < 8; attempt++) {
        const request: Record<string, { Keys: ItemKey[] }> = pending;
        const out = await this.send(() => this.db.send(new BatchGetCommand({ RequestItems: request })));
        for (const item of out.Responses?.[this.table] ?? []) result.set(String(item.pk), item);
        pending = out.UnprocessedKeys as typeof pending;
        if (pending && Object.keys(pending).length) await sleep(2 ** attempt * 10);
      }
    }
    return result;
  }

  /** Counts per status from the sparse indexes. */
  stats(queue: string): Promise<QueueStats> {
    return reads.stats(this.ctx, queue);
  }

  /** Dead jobs of `queue` that are still retained. */
  countDead(queue: string): Promise<number> {
    return reads.countDead(this.ctx, queue);
  }

  // -------------------------------------------------------------------------------------------
  // Claim
  // -------------------------------------------------------------------------------------------

  /**
   * Claims up to `count` jobs: highest priority first, then earliest `run_at`, then enqueue order.
   * A running job whose lease has expired is a candidate too (lazy expiry): taking it consumes a
   * retry, and one with no retry left becomes dead instead of being returned.
   */
  async claim(queue: string, count: number): Promise<Job[]> {
    const info = await this.queueInfo(queue);
    if (!info) return [];
    const now = this.clock();
    let window = count * 2 + 8;
    const claimed: Job[] = [];
    const tried = new Set<string>();
    let fetched = await this.candidates(info, now, window);
    for (let round = 0; round < CLAIM_ROUNDS && claimed.length < count; round++) {
      let pool = fetched.filter((c) => !tried.has(c.key.pk));
      if (!pool.length) {
        // Read again only if the last read was full: there may be more past what was tried.
        if (fetched.length < window + (round ? tried.size : 0)) break;
        fetched = await this.candidates(info, now, window + tried.size);
        pool = fetched.filter((c) => !tried.has(c.key.pk));
        if (!pool.length) break;
      }
      const want = count - claimed.length;
      // First round in order: sequential claimers see exact order. After a lost race, a `priority`
      // queue spreads the retry over the pool so concurrent claimers stop colliding on the head.
      const picks = round === 0 || info.ordering === 'strict' ? pool.slice(0, want) : sample(pool, want);
      for (const pick of picks) tried.add(pick.key.pk);
      // The lease starts at the write, not at the call: a contended call may take many rounds, and
      // a lease dated from its start could end before the worker even hears of its job.
      const claimedAt = this.clock();
      const results = await Promise.all(picks.map((c) => this.claimOne(c, claimedAt)));
      let lost = 0;
      for (const job of results) {
        if (job) claimed.push(job);
        else lost++;
      }
      if (lost && info.ordering !== 'strict' && claimed.length < count) {
        // Others are claiming the same heads. The pool read before this round is going stale as
        // they win, so read a fresh one, wider each time, and spread the next picks over it: a
        // failed conditional write costs a write unit, a wider read far less.
        window = Math.min(window * 2, MAX_CLAIM_WINDOW);
        fetched = await this.candidates(info, now, window + tried.size);
      }
    }
    return claimed.sort((a, b) => orderOf(a).localeCompare(orderOf(b)));
  }

  /** The first `limit` claimable jobs of a queue, merged over its shards in claim order. */
  private async candidates(info: QueueInfo, now: number, limit: number): Promise<Candidate[]> {
    const perShard = await Promise.all(
      range(info.shards).flatMap((shard) => {
        const pk = shardPk(shard, info.queue);
        return [this.readyHeads(pk, now, limit), this.expiredHeads(pk, now, limit)];
      }),
    );
    return perShard
      .flat()
      .sort((a, b) => a.order.localeCompare(b.order))
      .slice(0, limit);
  }

  /**
   * Due waiting jobs of one shard in order. Jobs not yet due sort after the due ones of their
   * priority band, so on meeting one the query skips to the next band instead of reading them all.
   */
  private async readyHeads(pk: string, now: number, limit: number): Promise<Candidate[]> {
    const due: Candidate[] = [];
    let from: string | undefined;
    let startKey: Record<string, unknown> | undefined;
    for (let query = 0; query < 8 && due.length < limit; query++) {
      const out = await this.send(() =>
        this.db.send(
          new QueryCommand({
            ...indexQuery(this.table, 'ready', pk),
            ...(from && !startKey
              ? {
                  KeyConditionExpression: '#ipk = :ipk AND #isk >= :from',
                  ExpressionAttributeNames: { '#ipk': INDEX.ready.pk, '#isk': INDEX.ready.sk },
                  ExpressionAttributeValues: { ':ipk': pk, ':from': from },
                }
              : {}),
            ExclusiveStartKey: startKey,
            Limit: limit,
          }),
        ),
      );
      let skipped = false;
      for (const item of out.Items ?? []) {
        const order = String(item.ready_sk);
        if (runAtOf(order) > now) {
          from = nextBand(order);
          skipped = true;
          break;
        }
        due.push({
          key: keyOf(item),
          order,
          kind: 'ready',
          shardKey: pk,
          readySk: order,
          timeoutMs: Number(item.timeout_ms),
        });
        if (due.length === limit) break;
      }
      if (skipped) {
        startKey = undefined;
        continue;
      }
      if (!out.LastEvaluatedKey) break;
      startKey = out.LastEvaluatedKey;
    }
    return due;
  }

  /** Running jobs of one shard whose lease index entry says the lease has passed. */
  private async expiredHeads(pk: string, now: number, limit: number): Promise<Candidate[]> {
    const out = await this.send(() =>
      this.db.send(new QueryCommand({ ...expiredQuery(this.table, pk, now), Limit: limit })),
    );
    return (out.Items ?? []).map((item) => ({
      key: keyOf(item),
      order: String(item.order_key),
      kind: 'expired' as const,
      shardKey: pk,
      runId: runIdOfLeaseKey(String(item.lease_sk)),
    }));
  }

  private async claimOne(candidate: Candidate, now: number): Promise<Job | undefined> {
    if (candidate.kind === 'expired')
      return this.expireRun(candidate.key, candidate.runId as string, now, true);
    const timeoutMs = candidate.timeoutMs as number;
    try {
      const { before, after } = await this.begin(
        candidate.key,
        and(stillWaitingAs(candidate.readySk as string, timeoutMs), pullJob),
        this.startRun(now, timeoutMs, candidate.shardKey),
      );
      this.recordClaimed(before, after, now);
      return toJob(after);
    } catch (error) {
      if (isConditionFailure(error)) return undefined; // another claimer won, or the job changed
      throw error;
    }
  }

  /**
   * Writes the start of a run and returns the job both before and after it: `QueueWait` needs the
   * `updated_at` (when the job started waiting) that the start overwrites.
   */
  private async begin(key: ItemKey, when: Condition, change: Change): Promise<{ before: Item; after: Item }> {
    const out = await this.send(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          ...buildUpdate(when, change),
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    const before = out.Attributes as Item;
    return { before, after: applied(before, change) };
  }

  /** The change that starts a new run: fresh run id, counted attempt, lease from now. */
  private startRun(now: number, timeoutMs: number, shardKey: string, extra: Change['set'] = {}): Change {
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
        ...extra,
      },
      add: { attempts: 1 },
      // A new run has no Fargate task yet: the last run's is no longer this job's to stop.
      remove: [...READY_ATTRS, 'task_arn'],
    };
  }

  /**
   * Ends a run whose lease has passed: back to waiting (keeping `run_at`, so it returns to the head
   * of its priority band) or dead when no retry is left (enqueuing its `on_failure` job). With
   * `reclaim`, a pull job with a retry left is claimed again in the same write instead (lazy expiry
   * by a claimer); a managed one goes back to waiting for a dispatch, as the sweep would do.
   */
  private async expireRun(
    key: ItemKey,
    runId: string,
    now: number,
    reclaim: boolean,
  ): Promise<Job | undefined> {
    const item = await this.read(key);
    if (item?.status !== 'running' || item.run_id !== runId) return undefined; // index lag
    if (Number(item.lease_expires_at) > now) return undefined; // heartbeated since the index entry
    const retriesLeft = item.retries_remaining === null || Number(item.retries_remaining) > 0;
    const fence = and(currentRun(runId), leaseExpired(now));
    const lastError = 'lease expired';
    // As far as Relay can tell the run ended when its lease did: how late the sweep or a claimer
    // noticed is not run time.
    const endedAt = Number(item.lease_expires_at);
    try {
      if (!retriesLeft) {
        const { job } = await this.endRun(
          item,
          fence,
          this.toDead(item, now, 'lease_expired', lastError),
          runId,
          now,
          'failure',
        );
        this.recordRunEnd(item, 'dead', endedAt);
        return reclaim ? undefined : job;
      }
      const retries = spendRetry(item.retries_remaining);
      if (reclaim && !isManaged(item)) {
        const out = await this.update(
          key,
          and(fence, pullJob),
          this.startRun(now, Number(item.timeout_ms), String(item.created_pk), {
            retries_remaining: retries,
            last_error: lastError,
          }),
        );
        this.recordRunEnd(item, 'retried', endedAt);
        this.recordClaimed(item, out, now);
        return toJob(out);
      }
      const waiting = this.toWaiting(item, now, 'pending', String(item.order_key), retries, lastError);
      await this.update(key, fence, owedDispatch(item, waiting));
      this.recordRunEnd(item, 'retried', endedAt);
      return reclaim ? undefined : toJob({ ...item, status: 'pending' });
    } catch (error) {
      // A concurrent sweep or claim expired it first (`endRun` reports a failed fence as these).
      const lost = error instanceof JobNotFoundError || error instanceof LeaseLostError;
      if (isConditionFailure(error) || lost) return undefined;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Managed jobs: claim by id, lost-dispatch repair
  // -------------------------------------------------------------------------------------------

  /**
   * Makes a live job dead because its dispatch failed for good: its SQS message `messageId` was
   * dead-lettered (poison message, repeated dispatcher crashes). The job keeps that id as
   * `dead_message_id`, also once revived, so the dead-letter reconciler can tell the message it
   * died of from a new one. Idempotent: a job that is already dead or terminal, or that this very
   * message made dead before (it was revived since), is left alone and `undefined` returned. A
   * running job's runner then loses its lease.
   */
  async markDead(queue: string, id: string, reason: string, messageId?: string): Promise<Job | undefined> {
    const key = jobKey(queue, id);
    const item = await this.read(key);
    if (!item || !LIVE.includes(item.status as StoredStatus) || this.expired(item)) return undefined;
    if (messageId !== undefined && item.dead_message_id === messageId) return undefined;
    const now = this.clock();
    try {
      /** Still the live job that was read: a job that finished or changed meanwhile keeps its outcome. */
      const unchanged = and(
        statusIn(LIVE),
        condition('#updated_at = :seen_updated', ['updated_at'], { ':seen_updated': item.updated_at }),
      );
      const toDead = this.toDead(item, now, 'dispatch_failed', reason);
      const change =
        messageId === undefined ? toDead : { ...toDead, set: { ...toDead.set, dead_message_id: messageId } };
      const dead = await this.update(key, unchanged, change);
      // A waiting job has no run to end: it only becomes dead.
      if (item.status === 'running') this.recordRunEnd(item, 'dead', now);
      else this.record(queue, { [JobMetric.DEAD]: 1 }, { job_id: id });
      return toJob(dead);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Gives back a run that never started (its runner could not be launched, e.g. Fargate capacity):
   * the job waits again where it was, without spending a retry or counting the attempt. Fenced by
   * the run id; `undefined` when the run is no longer current.
   */
  async releaseRun(queue: string, id: string, runId: string, reason: string): Promise<Job | undefined> {
    const key = jobKey(queue, id);
    const item = await this.read(key);
    if (item?.status !== 'running' || item.run_id !== runId) return undefined;
    const waiting = this.toWaiting(
      item,
      this.clock(),
      'pending',
      String(item.order_key),
      item.retries_remaining as number | null,
      reason,
    );
    try {
      const released = owedDispatch(item, { ...waiting, add: { attempts: -1 } });
      return toJob(await this.update(key, currentRun(runId), released));
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Starts a run of a managed job named by a dispatch message, if it is waiting and due: the same
   * change as a pull claim, fenced by `dispatchable`. Returns `undefined` when it is not claimable
   * (running, ended, not due, unknown, or a pull job): the message was a duplicate or stale, and the
   * dispatcher drops it.
   *
   * It reads the job first: the lease index key holds the deadline, built from the job's timeout,
   * and a stale message then costs a read instead of a failed write. The write is conditioned on the
   * timeout it read, so it cannot start a run with the wrong deadline.
   */
  async claimById(queue: string, id: string): Promise<Job | undefined> {
    const now = this.clock();
    const key = jobKey(queue, id);
    const item = await this.read(key);
    const waiting = WAITING.includes(item?.status as StoredStatus);
    if (!item || !isManaged(item) || !waiting || Number(item.run_at) > now) return undefined;
    const timeoutMs = Number(item.timeout_ms);
    try {
      const { before, after } = await this.begin(
        key,
        and(dispatchable(now), timeoutAsRead(timeoutMs)),
        this.startRun(now, timeoutMs, String(item.created_pk)),
      );
      this.recordClaimed(before, after, now);
      return toJob(after);
    } catch (error) {
      if (isConditionFailure(error)) return undefined; // another dispatcher won, or the job changed
      throw error;
    }
  }

  /**
   * Managed jobs, in every queue, that are waiting and due, and whose dispatch time (`run_at`, or
   * the last `markRedispatched`) is more than `graceMs` before `now`: their dispatch message may
   * have been lost. One range query per managed `ready` shard finds them (no scan), so the cost is
   * the overdue backlog, not the table. Oldest dispatch time first within a queue.
   */
  async dueUndispatched(now: number, graceMs: number, limit: number): Promise<Job[]> {
    const before = dispatchDueBefore(now - graceMs);
    const found: Job[] = [];
    for (const info of await this.listQueues()) {
      const want = limit - found.length;
      if (want <= 0) break;
      const perShard = await Promise.all(
        range(info.shards).map((shard) =>
          this.send(() =>
            this.db.send(
              new QueryCommand({
                ...indexQuery(this.table, 'ready', managedShardPk(shard, info.queue)),
                KeyConditionExpression: '#ipk = :ipk AND #isk < :before',
                ExpressionAttributeNames: { '#ipk': INDEX.ready.pk, '#isk': INDEX.ready.sk },
                ExpressionAttributeValues: { ':ipk': managedShardPk(shard, info.queue), ':before': before },
                Limit: want,
              }),
            ),
          ),
        ),
      );
      const entries = perShard
        .flatMap((out) => out.Items ?? [])
        .sort((a, b) => String(a.ready_sk).localeCompare(String(b.ready_sk)))
        .slice(0, want);
      const items = await this.batchGet(entries.map(keyOf));
      for (const entry of entries) {
        const item = items.get(String(entry.pk));
        // The index lags the table: keep only jobs still waiting under this very entry.
        const unchanged = item?.ready_pk === entry.ready_pk && item?.ready_sk === entry.ready_sk;
        if (item && unchanged) found.push(toJob(item));
      }
    }
    return found;
  }

  /**
   * Records that a dispatch message was sent again at `now`, so the job leaves `dueUndispatched`
   * until `graceMs` has passed once more: a backlog is re-sent once per grace, not every sweep.
   * False when the job is no longer a waiting, due managed job (claimed or changed meanwhile).
   */
  async markRedispatched(queue: string, id: string, now: number): Promise<boolean> {
    const key = jobKey(queue, id);
    try {
      await this.send(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: key,
            ...buildUpdate(dispatchable(now), { set: { ready_sk: dispatchKey(now, key.pk) } }),
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Run transitions (heartbeat, complete, fail, reschedule)
  // -------------------------------------------------------------------------------------------

  /**
   * Extends the lease of a running job by its timeout and replaces its state (`undefined` clears it).
   * Without `runId` any run of the job may heartbeat (relay-rs v1); with it only that run.
   *
   * Only the item changes: the lease index entry keeps the earlier deadline and the sweep moves it
   * forward when it finds the job alive, which keeps heartbeats to one write without index updates.
   */
  async heartbeat(
    queue: string,
    id: string,
    state: unknown,
    runId?: string,
    kind: JobKind = 'pull',
  ): Promise<Job> {
    const now = this.clock();
    const fence = and(runId === undefined ? inFlight : currentRun(runId), ofKind(kind));
    const stateBytes = utf8Bytes(JSON.stringify(state ?? null));
    try {
      return toJob(
        await this.update(jobKey(queue, id), and(fence, fitsBeside(stateBytes)), {
          set: {
            state: state === undefined || state === null ? undefined : JSON.stringify(state),
            updated_at: now,
          },
          // The new deadline comes from the item's own timeout, so the heartbeat needs no read first.
          plus: { lease_expires_at: ['timeout_ms', now] },
        }),
      );
    } catch (error) {
      // The old item passes the run fence, so the size check is the condition that failed.
      const old = conditionFailureItem(error);
      const fenceHeld =
        old?.status === 'running' &&
        !this.expired(old) &&
        kindOf(old) === kind &&
        (runId === undefined || old.run_id === runId);
      if (fenceHeld) {
        throw new PayloadTooLargeError(utf8Bytes(String(old.payload)) + stateBytes, LIMITS.payloadStateBytes);
      }
      throw this.runError(error, queue, id, runId);
    }
  }

  /**
   * Marks the run completed. Without `runId` any run completes (relay-rs v1). It records no result
   * and enqueues no `on_success` job: managed runs end through `completeRun`.
   */
  async complete(queue: string, id: string, runId?: string): Promise<Job> {
    const now = this.clock();
    const fence = and(runId === undefined ? inFlight : currentRun(runId), pullJob);
    try {
      const done = await this.update(jobKey(queue, id), fence, this.toCompleted(now));
      this.recordRunEnd(done, 'completed', now);
      return toJob(done);
    } catch (error) {
      throw this.runError(error, queue, id, runId);
    }
  }

  /**
   * Completes a run with its result. A job with `on_success` enqueues that job in the same
   * transaction, with an id derived from the run, so a repeated or concurrent completion (a lost
   * response, a retry) fails the `currentRun` fence and creates no second child.
   */
  async completeRun(
    queue: string,
    id: string,
    runId: string,
    result: { exit_code: number; duration_ms: number },
  ): Promise<RunOutcome> {
    const now = this.clock();
    const item = this.runningAs(await this.read(jobKey(queue, id)), queue, id, runId);
    const change = this.toCompleted(now);
    const recorded = { ...change, set: { ...change.set, result: runResult(result) } };
    const outcome = await this.endRun(item, currentRun(runId), recorded, runId, now, 'success');
    this.recordRunEnd(item, 'completed', now);
    return outcome;
  }

  /**
   * Fails the current run. With a retry left (and `retry` not false) the job waits for its backoff
   * as `failed`; otherwise it is dead, and its `on_failure` job (if any) is enqueued in the same
   * transaction. Without `runId` the job's current run fails.
   */
  async fail(
    queue: string,
    id: string,
    opts: { error: string; runId?: string; retry?: boolean },
  ): Promise<Job> {
    return (await this.failCurrent(queue, id, opts.runId, opts, 'pull')).job;
  }

  /** `fail` for a managed run: also records how the command ended. */
  async failRun(
    queue: string,
    id: string,
    runId: string,
    opts: { error: string; exit_code?: number | null; duration_ms?: number | null; retry?: boolean },
  ): Promise<RunOutcome> {
    return this.failCurrent(
      queue,
      id,
      runId,
      { error: opts.error, retry: opts.retry, result: runResult(opts) },
      'managed',
    );
  }

  private async failCurrent(
    queue: string,
    id: string,
    givenRunId: string | undefined,
    opts: { error: string; retry?: boolean; result?: RunResult },
    kind: JobKind,
  ): Promise<RunOutcome> {
    const now = this.clock();
    const item = this.runningAs(await this.read(jobKey(queue, id)), queue, id, givenRunId);
    // The write is fenced by the run id, which a replace would change: the kind read here holds.
    if (kindOf(item) !== kind) throw new JobNotFoundError(queue, id);
    const runId = String(item.run_id);
    const recorded = opts.result === undefined ? {} : { result: opts.result };
    const retriesLeft = item.retries_remaining === null || Number(item.retries_remaining) > 0;
    if (opts.retry === false || !retriesLeft) {
      const reason = opts.retry === false ? 'failed_permanently' : 'retries_exhausted';
      const change = this.toDead(item, now, reason, opts.error);
      const dead = { ...change, set: { ...change.set, ...recorded } };
      const outcome = await this.endRun(item, currentRun(runId), dead, runId, now, 'failure');
      this.recordRunEnd(item, 'dead', now);
      return outcome;
    }
    const retries = spendRetry(item.retries_remaining);
    const backoff = (item.backoff as Job['backoff']) ?? DEFAULT_BACKOFF;
    const retryNumber = Number(item.attempts);
    const delay = backoffSeconds(backoff, retryNumber, (item.last_backoff_seconds as number | null) ?? null);
    const runAt = now + Math.round(delay * 1000);
    const order = orderKey(Number(item.priority), runAt, String(item.seq));
    const change = this.toWaiting(item, now, 'failed', order, retries, opts.error);
    const failed = {
      ...change,
      set: { ...change.set, run_at: runAt, last_backoff_seconds: delay, ...recorded },
    };
    const outcome = await this.endRun(item, currentRun(runId), failed, runId, now);
    this.recordRunEnd(item, 'retried', now);
    return outcome;
  }

  /**
   * The job read for a run transition, if it is running `runId` (or any run when omitted): the same
   * errors a failed fence gives, before any write.
   */
  private runningAs(item: Item | undefined, queue: string, id: string, runId: string | undefined): Item {
    if (item?.status !== 'running') throw new JobNotFoundError(queue, id);
    if (runId !== undefined && item.run_id !== runId) throw new LeaseLostError(queue, id, runId);
    return item;
  }

  /**
   * Ends a run with one write fenced by `fence`. When the outcome has a chained job (`on_success`,
   * `on_failure`) the write is a transaction that also puts the child (`childNotCreated`) and records
   * its id in the parent's `children`. A failed fence becomes `JobNotFoundError` / `LeaseLostError`.
   */
  private async endRun(
    item: Item,
    fence: Condition,
    change: Change,
    runId: string,
    now: number,
    outcome?: 'success' | 'failure',
  ): Promise<RunOutcome> {
    const queue = String(item.queue);
    const id = String(item.id);
    const spec = outcome === undefined ? undefined : item[`on_${outcome}`];
    if (spec === undefined) {
      try {
        return { job: toJob(await this.update(keyOf(item), fence, change)), child: null };
      } catch (error) {
        throw this.runError(error, queue, id, runId);
      }
    }
    const child = await this.newItem(
      childJob(item, JSON.parse(String(spec)) as ChildJobSpec, runId, outcome as 'success' | 'failure'),
      now,
    );
    const ended: Change = { ...change, append: { children: [child.id] } };
    try {
      await this.send(() =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.table,
                  Key: keyOf(item),
                  ...buildUpdate(fence, ended),
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              { Put: { TableName: this.table, Item: child, ...build(childNotCreated) } },
            ],
          }),
        ),
      );
      this.recordEnqueued([refOf(child)]);
      return { job: toJob(applied(item, ended)), child: toJob(child) };
    } catch (error) {
      const reasons = cancellationItems(error);
      if (!reasons) throw error;
      const [parent] = reasons;
      if (parent) throw this.fenceError(parent, queue, id, runId);
      // The fence held, so this run never ended before: only a job enqueued by hand can hold the id.
      throw new JobExistsError(String(child.queue), String(child.id));
    }
  }

  /**
   * Replaces a running job with new content and takes it out of flight (relay-rs reschedule):
   * payload, state, timeout, max_retries and run_at are overwritten and the retry budget resets.
   */
  async reschedule(job: NewJob, runId?: string): Promise<Job> {
    const now = this.clock();
    // Only a running job can be rescheduled, so its queue is registered: a miss must not register one.
    if (!(await this.queueInfo(job.queue))) throw new JobNotFoundError(job.queue, job.id);
    // The run's start is read only for its `RunDuration`: the upsert clears `claimed_at`.
    const [run, item] = await Promise.all([this.read(jobKey(job.queue, job.id)), this.newItem(job, now)]);
    const fence = and(runId === undefined ? inFlight : currentRun(runId), pullJob);
    try {
      const out = await this.send(() =>
        this.db.send(
          new UpdateCommand({
            ...this.upsert(item, fence),
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      if (run?.status === 'running' && (runId === undefined || run.run_id === runId)) {
        this.recordRunEnd(run, 'completed', now);
      }
      this.recordEnqueued([refOf(item)]);
      return toJob(out.Attributes as Item);
    } catch (error) {
      throw this.runError(error, job.queue, job.id, runId);
    }
  }

  /**
   * Atomically ends the current run and enqueues `jobs` (relay-rs v2 PUT with run id). A job with
   * the running job's own id replaces it in place as a fresh job. Returns false, changing nothing,
   * when `runId` is no longer the current run.
   */
  async replaceRun(
    queue: string,
    id: string,
    runId: string,
    jobs: readonly NewJob[],
    mode: EnqueueMode,
  ): Promise<boolean> {
    const now = this.clock();
    const own = jobKey(queue, id);
    // The run is read only for its `RunDuration`: the transaction returns nothing.
    const [run, items] = await Promise.all([
      this.read(own),
      Promise.all(dedupe(jobs, mode === 'unique' ? 'ignore' : mode).map((j) => this.newItem(j, now))),
    ]);
    if (mode === 'unique' && items.length < jobs.length) {
      throw new JobExistsError(queue, String(items.find((i) => i.pk === own.pk)?.id ?? id));
    }
    const selfAt = items.findIndex((i) => i.pk === own.pk);
    const ownRun = and(currentRun(runId), pullJob);
    const fence = build(ownRun);
    const writes: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    if (selfAt === -1) {
      writes.push({
        Update: {
          TableName: this.table,
          Key: own,
          ...buildUpdate(ownRun, this.toCompleted(now)),
        },
      });
    }
    for (const item of items) {
      if (item.pk === own.pk) writes.push({ Put: { TableName: this.table, Item: item, ...fence } });
      else if (mode === 'replace') writes.push({ Update: this.upsert(item, replaceable(seconds(now))) });
      else writes.push({ Put: this.insert(item, now) });
    }
    if (writes.length > 100) {
      throw new InvalidArgumentError('jobs', 'a run can be replaced by at most 99 jobs');
    }
    const fenceAt = selfAt === -1 ? 0 : selfAt;
    const itemAt = (write: number) => (selfAt === -1 ? write - 1 : write);
    try {
      await this.send(() => this.db.send(new TransactWriteCommand({ TransactItems: writes })));
      // The fence held, so the run read after its claim is this very run.
      if (run?.run_id === runId) this.recordRunEnd(run, 'completed', now);
      this.recordEnqueued(items.map(refOf));
      return true;
    } catch (error) {
      const reasons = cancellationItems(error);
      if (!reasons) throw error;
      if (reasons[fenceAt]) return false;
      const conflicts = reasons.flatMap((r, i) => (r ? [items[itemAt(i)] as Item] : []));
      if (mode === 'ignore') {
        // Conflicts are not errors in `ignore` mode: try again without the jobs that exist.
        const skip = new Set(conflicts.map((c) => c.pk));
        return this.replaceRun(
          queue,
          id,
          runId,
          jobs.filter((j) => !skip.has(jobKey(j.queue, j.id).pk)),
          mode,
        );
      }
      const first = conflicts[0] as Item;
      throw new JobExistsError(String(first.queue), String(first.id));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Operator transitions (delete, cancel, retry, dead letters)
  // -------------------------------------------------------------------------------------------

  /**
   * relay-rs's DELETE: a running job completes; a waiting job is deleted. False when no live job
   * has the id (terminal jobs are invisible to relay-rs routes).
   */
  async remove(queue: string, id: string): Promise<boolean> {
    const key = jobKey(queue, id);
    try {
      await this.complete(queue, id);
      return true;
    } catch (error) {
      if (!(error instanceof JobNotFoundError)) throw error;
    }
    try {
      await this.send(() =>
        this.db.send(new DeleteCommand({ TableName: this.table, Key: key, ...build(statusIn(WAITING)) })),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Cancels a live job. A cancelled run's heartbeat and complete then fail. */
  async cancel(queue: string, id: string): Promise<Job> {
    const now = this.clock();
    try {
      const cancelled = await this.update(jobKey(queue, id), and(exists, statusIn(LIVE)), {
        set: { status: 'cancelled', updated_at: now, expires_at: this.retainUntil(now), run_id: undefined },
        remove: [...READY_ATTRS, ...LEASE_ATTRS, 'lease_expires_at'],
      });
      this.record(queue, { [JobMetric.CANCELLED]: 1 }, { job_id: id });
      return toJob(cancelled);
    } catch (error) {
      throw this.transitionError(error, queue, id, 'cancel');
    }
  }

  /**
   * Runs a dead, cancelled or failed job of `kind` again now, with a fresh retry budget. A job of
   * the other kind is refused (`JobKindError`): retrying a managed job runs its command.
   */
  async retry(queue: string, id: string, kind: JobKind = 'pull'): Promise<Job> {
    return this.revive(queue, id, ['dead', 'cancelled', 'failed'], 'retry', kind);
  }

  /** Puts a dead job of `kind` back in its queue with a fresh retry budget. */
  async requeueDead(queue: string, id: string, kind: JobKind = 'pull'): Promise<Job> {
    return this.revive(queue, id, ['dead'], 'requeue', kind);
  }

  /**
   * Requeues up to `limit` dead jobs of `kind` (all when omitted). Dead jobs of the other kind are
   * left where they are and counted in `skipped`.
   */
  async requeueAllDead(
    queue: string,
    opts: { limit?: number; kind?: JobKind; onRequeued?: (job: Job) => Promise<void> } = {},
  ): Promise<{ requeued: number; skipped: number }> {
    const { limit, kind = 'pull', onRequeued } = opts;
    let requeued = 0;
    let skipped = 0;
    let cursor: string | undefined;
    do {
      const page = await this.deadLetters(
        queue,
        Math.min(100, limit === undefined ? 100 : limit - requeued),
        cursor,
      );
      const results = await mapLimit(page.items, 16, async (job) => {
        if (kindOf(job) !== kind) {
          skipped++;
          return 0;
        }
        let requeuedJob: Job;
        try {
          requeuedJob = await this.requeueDead(queue, job.id, kind);
        } catch (error) {
          if (
            error instanceof JobNotFoundError ||
            error instanceof InvalidTransitionError ||
            error instanceof JobKindError
          ) {
            return 0;
          }
          throw error;
        }
        await onRequeued?.(requeuedJob);
        return 1;
      });
      requeued += results.reduce((a: number, b: number) => a + b, 0);
      cursor = page.cursor ?? undefined;
    } while (cursor && (limit === undefined || requeued < limit));
    return { requeued, skipped };
  }

  /** Deletes a dead job for good. */
  async deleteDead(queue: string, id: string): Promise<void> {
    try {
      await this.send(() =>
        this.db.send(
          new DeleteCommand({
            TableName: this.table,
            Key: jobKey(queue, id),
            ...build(and(exists, statusIn(['dead']))),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
    } catch (error) {
      throw this.transitionError(error, queue, id, 'delete from the dead-letter queue');
    }
  }

  /** Deletes a job whatever its status (relay-rs v2 DELETE). Idempotent. */
  async delete(queue: string, id: string): Promise<void> {
    await this.send(() => this.db.send(new DeleteCommand({ TableName: this.table, Key: jobKey(queue, id) })));
  }

  private async revive(
    queue: string,
    id: string,
    from: StoredStatus[],
    action: string,
    kind: JobKind,
  ): Promise<Job> {
    const now = this.clock();
    const key = jobKey(queue, id);
    const item = await this.read(key);
    if (!item || this.expired(item)) throw new JobNotFoundError(queue, id);
    // The write below requires `updated_at` unchanged, so the kind read here holds when it lands.
    if (kindOf(item) !== kind) throw new JobKindError(queue, id, kindOf(item), action);
    if (!from.includes(item.status as StoredStatus))
      throw new InvalidTransitionError(action, String(item.status));
    const order = orderKey(Number(item.priority), now, this.ctx.nextSeq(now));
    const change = this.toWaiting(
      item,
      now,
      'pending',
      order,
      item.max_retries as number | null,
      item.last_error,
    );
    try {
      return toJob(
        await this.update(
          key,
          and(
            statusIn(from),
            condition('#updated_at = :seen_updated', ['updated_at'], {
              ':seen_updated': item.updated_at,
            }),
          ),
          {
            ...change,
            set: { ...change.set, run_at: now, expires_at: undefined, last_backoff_seconds: undefined },
            remove: [...(change.remove ?? []), ...DEAD_ATTRS, 'dead_reason'],
          },
        ),
      );
    } catch (error) {
      throw this.transitionError(error, queue, id, action);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Run logs
  // -------------------------------------------------------------------------------------------

  /** Stores a run's output entries, bounded per run. */
  appendLogs(
    queue: string,
    id: string,
    runId: string,
    attempt: number,
    entries: readonly LogEntryInput[],
  ): Promise<AppendLogsResult> {
    return logs.appendLogs(this.ctx, queue, id, runId, attempt, entries);
  }

  /** Makes a run's stored log its last `LIMITS.runLogBytes`. */
  keepLogTail(
    queue: string,
    id: string,
    runId: string,
    attempt: number,
    tail: { readonly droppedBytes: number; readonly entries: readonly LogEntryInput[] },
  ): Promise<void> {
    return logs.keepLogTail(this.ctx, queue, id, runId, attempt, tail);
  }

  /** A job's log entries in order, one run's or every run's. */
  readLogs(
    queue: string,
    id: string,
    opts: { runId?: string; after?: string; limit: number },
  ): Promise<Page<LogEntry>> {
    return logs.readLogs(this.ctx, queue, id, opts);
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance
  // -------------------------------------------------------------------------------------------

  /**
   * Ends every run whose lease has passed, in every queue. Safe to run concurrently with itself and
   * with claimers: each expiry is a write conditioned on the run id and the lease deadline.
   */
  async sweep(): Promise<SweepResult> {
    const counts = { requeued: 0, dead: 0, refreshed: 0 };
    const orphanedTasks: string[] = [];
    const now = this.clock();
    for (const info of await this.listQueues()) {
      for (const shard of range(info.shards)) {
        const entries = await this.queryAll(expiredQuery(this.table, shardPk(shard, info.queue), now));
        await mapLimit(entries, 16, async (entry) => {
          const outcome = await this.sweepOne(keyOf(entry), runIdOfLeaseKey(String(entry.lease_sk)), now);
          if (!outcome) return;
          counts[outcome.kind]++;
          if (outcome.task) orphanedTasks.push(outcome.task);
        });
      }
    }
    return { ...counts, orphanedTasks };
  }

  private async sweepOne(
    key: ItemKey,
    runId: string,
    now: number,
  ): Promise<{ kind: 'requeued' | 'dead' | 'refreshed'; task?: string } | undefined> {
    const item = await this.read(key);
    if (item?.status !== 'running' || item.run_id !== runId) return undefined;
    if (Number(item.lease_expires_at) > now) {
      // Alive: the job heartbeated. Move its index entry to the real deadline.
      try {
        await this.update(
          key,
          and(
            currentRun(runId),
            condition('#lease_expires_at = :seen_lease', ['lease_expires_at'], {
              ':seen_lease': item.lease_expires_at,
            }),
          ),
          {
            set: { lease_sk: leaseSortKey(Number(item.lease_expires_at), runId) },
          },
        );
        return { kind: 'refreshed' };
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    }
    const deadBefore = item.retries_remaining !== null && Number(item.retries_remaining) <= 0;
    const job = await this.expireRun(key, runId, now, false);
    if (!job) return undefined;
    const task = typeof item.task_arn === 'string' ? item.task_arn : undefined;
    return { kind: deadBefore ? 'dead' : 'requeued', task };
  }

  /**
   * Records the Fargate task running a run, so a cancel or an expired lease can stop it. Fenced by
   * the run id: a late record for an older run changes nothing.
   */
  async recordTask(queue: string, id: string, runId: string, taskArn: string): Promise<boolean> {
    try {
      await this.update(jobKey(queue, id), currentRun(runId), { set: { task_arn: taskArn } });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Building blocks
  // -------------------------------------------------------------------------------------------

  private get table(): string {
    return this.config.tableName;
  }

  /** Hands a written transition's metrics to the sink. A failing sink is logged: the write stands. */
  private record(queue: string, values: MetricValues, context?: MetricContext): void {
    try {
      this.metrics.record(queue, values, context);
    } catch (error) {
      log('warn', 'job metrics were not recorded', { queue, ...context, ...describeError(error) });
    }
  }

  /** `Enqueued` per queue; a record that counts one job names it. */
  private recordEnqueued(jobs: readonly JobRef[]): void {
    const byQueue = new Map<string, JobRef[]>();
    for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    for (const [queue, written] of byQueue) {
      const only = written.length === 1 ? written[0] : undefined;
      this.record(queue, { [JobMetric.ENQUEUED]: written.length }, only && { job_id: only.id });
    }
  }

  /** `Claimed` and `QueueWait` of a run started at `now`; `before` is the job as the claim found it. */
  private recordClaimed(before: Item, started: Item, now: number): void {
    this.record(
      String(started.queue),
      { [JobMetric.CLAIMED]: 1, [JobMetric.QUEUE_WAIT]: Math.max(0, now - claimableSince(before)) },
      runContext(started),
    );
  }

  /** The end of the run `item` holds, at `endedAt`; `RunDuration` counts from its claim. */
  private recordRunEnd(item: Item, end: RunEnd, endedAt: number): void {
    const claimedAt = item.claimed_at;
    const duration = typeof claimedAt === 'number' ? Math.max(0, endedAt - claimedAt) : undefined;
    this.record(
      String(item.queue),
      { ...RUN_ENDS[end], [JobMetric.RUN_DURATION]: duration },
      runContext(item),
    );
  }

  private retainUntil(now: number): number {
    return seconds(now) + this.config.retentionSeconds;
  }

  /** Items past retention still exist until DynamoDB's TTL removes them; reads must ignore them. */
  private expired(item: Item): boolean {
    return typeof item.expires_at === 'number' && item.expires_at <= seconds(this.clock());
  }

  private toWaiting(
    item: Item,
    now: number,
    status: 'pending' | 'failed',
    order: string,
    retries: number | null,
    lastError: unknown,
  ): Change {
    return {
      set: {
        status,
        order_key: order,
        ...readyEntry(item, order),
        retries_remaining: retries,
        last_error: lastError ?? undefined,
        updated_at: now,
        run_id: undefined,
        lease_expires_at: undefined,
      },
      remove: [...LEASE_ATTRS],
    };
  }

  private toCompleted(now: number): Change {
    return {
      set: { status: 'completed', completed_at: now, updated_at: now, expires_at: this.retainUntil(now) },
      remove: [...LEASE_ATTRS],
    };
  }

  private toDead(item: Item, now: number, reason: DeadReason, lastError: string): Change {
    return {
      set: {
        status: 'dead',
        dead_reason: reason,
        last_error: lastError,
        updated_at: now,
        dead_at: now,
        dead_pk: item.created_pk,
        dead_sk: deadSortKey(now, String(item.seq)),
        expires_at: this.retainUntil(now),
        retries_remaining: item.retries_remaining === null ? null : 0,
        lease_expires_at: undefined,
      },
      remove: [...LEASE_ATTRS, ...READY_ATTRS],
    };
  }

  private async read(key: ItemKey): Promise<Item | undefined> {
    const out = await this.send(() =>
      this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true })),
    );
    return out.Item;
  }

  private async update(key: ItemKey, when: Condition, change: Change): Promise<Item> {
    const out = await this.send(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          ...buildUpdate(when, change),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return out.Attributes as Item;
  }

  /** Turns a failed fence into the precise error: unknown or not running → 404, other run → lease lost. */
  private runError(error: unknown, queue: string, id: string, runId?: string): unknown {
    if (!isConditionFailure(error)) return error;
    return this.fenceError(conditionFailureItem(error), queue, id, runId);
  }

  /** `runError` from the item a failed fence saw (empty or absent: there was no item). */
  private fenceError(old: Item | undefined, queue: string, id: string, runId?: string): Error {
    if (old?.status !== 'running' || this.expired(old)) return new JobNotFoundError(queue, id);
    if (runId !== undefined && old.run_id !== runId) return new LeaseLostError(queue, id, runId);
    return new JobNotFoundError(queue, id);
  }

  private transitionError(error: unknown, queue: string, id: string, action: string): unknown {
    if (!isConditionFailure(error)) return error;
    const old = conditionFailureItem(error);
    if (!old || this.expired(old)) return new JobNotFoundError(queue, id);
    return new InvalidTransitionError(action, String(old.status));
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.send(() =>
        this.db.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey })),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** Runs a DynamoDB call, turning throttling and transient faults into `StoreBusyError`. */
  private async send<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isBusy(error)) throw new StoreBusyError(1, { cause: error });
      throw error;
    }
  }
}

function indexQuery(table: string, index: IndexName, pk: string): QueryCommandInput {
  const spec = INDEX[index];
  return {
    TableName: table,
    IndexName: spec.name,
    KeyConditionExpression: '#ipk = :ipk',
    ExpressionAttributeNames: { '#ipk': spec.pk },
    ExpressionAttributeValues: { ':ipk': pk },
  };
}

function expiredQuery(table: string, pk: string, now: number): QueryCommandInput {
  return {
    ...indexQuery(table, 'leases', pk),
    KeyConditionExpression: '#ipk = :ipk AND #isk <= :expired',
    ExpressionAttributeNames: { '#ipk': INDEX.leases.pk, '#isk': INDEX.leases.sk },
    ExpressionAttributeValues: { ':ipk': pk, ':expired': leaseExpiredBefore(now) },
  };
}

export function toJob(item: Item): Job {
  return {
    task_arn: typeof item.task_arn === 'string' ? item.task_arn : null,
    dead_message_id: typeof item.dead_message_id === 'string' ? item.dead_message_id : null,
    dead_reason: (item.dead_reason as DeadReason | undefined) ?? null,
    queue: String(item.queue),
    id: String(item.id),
    payload: item.payload === undefined ? null : JSON.parse(String(item.payload)),
    state: item.state === undefined ? null : JSON.parse(String(item.state)),
    timeout: Number(item.timeout),
    max_retries: (item.max_retries as number | null | undefined) ?? null,
    retries_remaining: (item.retries_remaining as number | null | undefined) ?? null,
    attempts: Number(item.attempts ?? 0),
    priority: Number(item.priority ?? 0),
    run_at: Number(item.run_at),
    created_at: Number(item.created_at),
    updated_at: Number(item.updated_at),
    status: item.status as StoredStatus,
    run_id: (item.run_id as string | undefined) ?? null,
    lease_expires_at: (item.lease_expires_at as number | undefined) ?? null,
    last_error: (item.last_error as string | undefined) ?? null,
    idempotency_key: (item.idempotency_key as string | undefined) ?? null,
    backoff: (item.backoff as Job['backoff'] | undefined) ?? null,
    last_backoff_seconds: (item.last_backoff_seconds as number | undefined) ?? null,
    type: isManaged(item) ? 'SHELL' : null,
    parent: (item.parent as Job['parent'] | undefined) ?? null,
    children: (item.children as string[] | undefined) ?? [],
    result: (item.result as RunResult | undefined) ?? null,
  };
}

const isManaged = (item: Item): boolean => item.type === 'SHELL';

const refOf = (item: Item): JobRef => ({ queue: String(item.queue), id: String(item.id) });

/** The correlation keys of a metric record about the run `item` holds. */
const runContext = (item: Item): MetricContext => ({
  job_id: String(item.id),
  run_id: typeof item.run_id === 'string' ? item.run_id : undefined,
  attempt: Number(item.attempts ?? 0),
});

/**
 * When a job became claimable: its `run_at`, unless it went back to waiting later with its `run_at`
 * kept (an expired run the sweep requeued keeps its place in line) or was enqueued with a past
 * `run_at` — a waiting job's `updated_at` is when it started waiting. A running job being reclaimed
 * became claimable when its lease expired.
 */
function claimableSince(item: Item): number {
  if (item.status === 'running') return Number(item.lease_expires_at);
  return Math.max(Number(item.run_at), Number(item.updated_at));
}

/**
 * Where a waiting job's `ready` entry goes. A pull job waits in its shard in claim order; a managed
 * job waits in the shard's managed partition, keyed by when it is due for a dispatch (`run_at`).
 */
function readyEntry(item: Item, order: string): { ready_pk: string; ready_sk: string } {
  if (!isManaged(item)) return { ready_pk: String(item.created_pk), ready_sk: order };
  return {
    ready_pk: managedShardPk(Number(item.shard), String(item.queue)),
    ready_sk: dispatchKey(runAtOf(order), String(item.pk)),
  };
}

/**
 * A managed run that ended without an outcome (expired, or given back) has no dispatch hint in
 * flight: its dispatch key says it is owed one since forever, so the sweep's repair re-sends it at
 * once, whatever its grace. A hint that is in flight after all (SQS redelivering) only duplicates it.
 */
function owedDispatch(item: Item, waiting: Change): Change {
  if (!isManaged(item)) return waiting;
  return { ...waiting, set: { ...waiting.set, ready_sk: dispatchKey(0, String(item.pk)) } };
}

const runResult = (r: { exit_code?: number | null; duration_ms?: number | null }): RunResult => ({
  exit_code: r.exit_code ?? null,
  duration_ms: r.duration_ms ?? null,
});

/** The job a run's outcome enqueues: the parent's spec, with defaults, a derived id and its parent. */
function childJob(item: Item, spec: ChildJobSpec, runId: string, outcome: 'success' | 'failure'): NewJob {
  const queue = String(item.queue);
  const id = String(item.id);
  return {
    queue: spec.queue ?? queue,
    id: childId(id, runId, outcome),
    payload: spec.payload,
    timeout: spec.timeout ?? DEFAULTS.timeoutSeconds,
    max_retries: normalizeMaxRetries(spec.max_retries, DEFAULTS.maxRetries),
    priority: spec.priority,
    backoff: spec.backoff,
    type: spec.type,
    on_success: spec.on_success,
    on_failure: spec.on_failure,
    parent: { queue, id, run_id: runId },
  };
}

/** The item after `change`, as a transaction (which returns no values) wrote it. */
function applied(item: Item, change: Change): Item {
  const out: Item = { ...item };
  for (const name of change.remove ?? []) delete out[name];
  for (const [name, value] of Object.entries(change.set ?? {})) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  for (const [name, amount] of Object.entries(change.add ?? {}))
    out[name] = Number(out[name] ?? 0) + (amount ?? 0);
  for (const [name, list] of Object.entries(change.append ?? {})) {
    out[name] = [...((out[name] as unknown[] | undefined) ?? []), ...(list ?? [])];
  }
  return out;
}

/**
 * Every attribute a job item may carry besides its keys: an upsert removes those the new job lacks.
 * Not `dead_message_id`: a job replaced after its dispatch was dead-lettered keeps it, so that
 * message counts as dealt with rather than as a failure of the new job.
 */
const JOB_ATTRIBUTES = [
  'task_arn',
  'state',
  'idempotency_key',
  'backoff',
  'run_id',
  'lease_expires_at',
  'lease_pk',
  'lease_sk',
  'claimed_at',
  'completed_at',
  'dead_at',
  'dead_reason',
  'dead_pk',
  'dead_sk',
  'expires_at',
  'last_error',
  'last_backoff_seconds',
  'type',
  'on_success',
  'on_failure',
  'parent',
  'children',
  'result',
];

/** Duplicate ids within one batch: `ignore` keeps the first, `replace` the last. */
function dedupe(jobs: readonly NewJob[], mode: 'ignore' | 'replace'): NewJob[] {
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

const orderOf = (job: Job) => `${String(2_147_483_647 - job.priority).padStart(10, '0')}#${job.run_at}`;

const spendRetry = (remaining: unknown): number | null => (remaining === null ? null : Number(remaining) - 1);

const seconds = (ms: number) => Math.floor(ms / 1000);

const keyOf = (item: Record<string, unknown>): ItemKey => ({ pk: String(item.pk), sk: String(item.sk) });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Splits puts into transactions DynamoDB accepts: at most 100 items and 4 MB in all (kept at
 * 3.5 MB to leave room for attribute names and overhead).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 */
function transactionChunks(items: readonly Item[]): Item[][] {
  const out: Item[][] = [];
  let current: Item[] = [];
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

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rounds of claim writes one `claim` call makes before it answers with what it has. */
const CLAIM_ROUNDS = 12;
/** The widest candidate read a contended claim grows to (per shard, before merging). */
const MAX_CLAIM_WINDOW = 256;

function sample<T>(items: readonly T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */

export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

function isBusy(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (!e || typeof e !== 'object') return false;
  if (e.name && THROTTLING.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/** The item a failed condition saw (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), if any. */
function conditionFailureItem(error: unknown): Item | undefined {
  if (!isConditionFailure(error)) return undefined;
  const raw = (error as { Item?: Record<string, never> }).Item;
  return raw ? unmarshall(raw) : undefined;
}

interface CancellationReason {
  Code?: string;
  Item?: Record<string, never>;
}

function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if ((error as { name?: string })?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
  // Only conditional failures mean "conflict"; any other reason (throttling, conflicts with another
  // transaction) is a transient fault for the caller to retry.
  if (!reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
    throw new StoreBusyError(1, { cause: error });
  }
  return reasons;
}

/** Per-write items of a transaction that failed on conditions: the old item where its condition failed. */
function cancellationItems(error: unknown): (Item | undefined)[] | undefined {
  const reasons = cancellationReasons(error);
  return reasons?.map((r) =>
    r.Code === 'ConditionalCheckFailed' ? (r.Item ? unmarshall(r.Item) : {}) : undefined,
  );
}
