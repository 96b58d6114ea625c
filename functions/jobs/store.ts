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
import { monotonicFactory } from 'ulid';
import type { StoreConfig } from '../core/config.ts';
import { backoffSeconds } from './backoff.ts';
import {
  DuplicateIdempotencyKeyError,
  InvalidTransitionError,
  JobExistsError,
  JobNotFoundError,
  LeaseLostError,
  PayloadTooLargeError,
  StoreBusyError,
} from './errors.ts';
import { and, build, buildUpdate, type Change, type Condition, condition, or } from './expressions.ts';
import {
  deadSortKey,
  INDEX,
  type IndexName,
  type ItemKey,
  idempotencyKey,
  jobKey,
  leaseExpiredBefore,
  leaseSortKey,
  nextBand,
  orderKey,
  QUEUES_PK,
  queueKey,
  runAtOf,
  runIdOfLeaseKey,
  shardOf,
  shardPk,
  utf8Bytes,
} from './keys.ts';
import {
  DEFAULT_BACKOFF,
  type Job,
  LIMITS,
  LIVE,
  type NewJob,
  type StoredStatus,
  type ViewStatus,
  viewStatus,
  WAITING,
} from './model.ts';

type Item = Record<string, unknown>;

/** How a queue's indexes are laid out; fixed when the queue is first used. */
export interface QueueInfo {
  readonly queue: string;
  readonly shards: number;
  /** `strict`: one shard, claimers always take the earliest job. `priority`: sharded, see design.md. */
  readonly ordering: 'strict' | 'priority';
  readonly created_at: number;
}

/** What to do when an enqueued id is already held by a live job. */
export type EnqueueMode = 'unique' | 'ignore' | 'replace';

export interface EnqueueResult {
  readonly job: Job;
  /** False when `ignore` mode kept an existing job. */
  readonly created: boolean;
}

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

export interface SweepResult {
  /** Expired runs put back to wait for a retry. */
  readonly requeued: number;
  /** Expired runs that had no retry left. */
  readonly dead: number;
  /** Lease index entries moved forward because their job had heartbeated. */
  readonly refreshed: number;
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

export class JobStore {
  private readonly queues = new Map<string, QueueInfo>();
  private readonly nextSeq = monotonicFactory();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly config: StoreConfig,
    private readonly clock: () => number = Date.now,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Queues
  // -------------------------------------------------------------------------------------------

  /**
   * The queue's layout, registering the queue on first use when `create` is set. Layouts never
   * change after creation (a job's shard is part of its index keys), so they are cached forever.
   */
  async queueInfo(queue: string, create = false): Promise<QueueInfo | undefined> {
    const cached = this.queues.get(queue);
    if (cached) return cached;
    const found = await this.send(() =>
      this.db.send(new GetCommand({ TableName: this.table, Key: queueKey(queue), ConsistentRead: true })),
    );
    let info = found.Item as QueueInfo | undefined;
    if (!info && create) {
      const strict = this.config.strictQueues.has(queue) || this.config.defaultShards === 1;
      const fresh: QueueInfo = {
        queue,
        shards: strict ? 1 : this.config.defaultShards,
        ordering: strict ? 'strict' : 'priority',
        created_at: this.clock(),
      };
      try {
        // First writer wins; everyone else reads the layout it chose.
        await this.send(() =>
          this.db.send(
            new PutCommand({
              TableName: this.table,
              Item: { ...queueKey(queue), ...fresh },
              ...build(condition('attribute_not_exists(#pk)', ['pk'])),
            }),
          ),
        );
        info = fresh;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return this.queueInfo(queue, false);
      }
    }
    if (info) this.queues.set(queue, info);
    return info;
  }

  async listQueues(): Promise<QueueInfo[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'pk' },
      ExpressionAttributeValues: { ':pk': QUEUES_PK },
    });
    return items.map((i) => i as unknown as QueueInfo).sort((a, b) => a.queue.localeCompare(b.queue));
  }

  // -------------------------------------------------------------------------------------------
  // Enqueue
  // -------------------------------------------------------------------------------------------

  /**
   * Enqueues one job. A live job with the same id makes `unique` throw `JobExistsError`, `ignore`
   * return the existing job, and `replace` overwrite it (a running job's run is fenced out).
   */
  async enqueue(job: NewJob, mode: EnqueueMode = 'unique'): Promise<EnqueueResult> {
    const now = this.clock();
    const item = await this.newItem(job, now);
    if (job.idempotency_key !== undefined) return this.enqueueIdempotent(job, item, mode, now);
    try {
      if (mode === 'replace') {
        const out = await this.send(() =>
          this.db.send(new UpdateCommand({ ...this.upsert(item), ReturnValues: 'ALL_NEW' })),
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
    await mapLimit(dedupe(jobs, mode), 16, (job) => this.enqueue(job, mode));
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
              mode === 'replace' ? { Update: this.upsert(item) } : { Put: this.insert(item, now) },
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
    const seq = this.nextSeq(now);
    const info = (await this.queueInfo(job.queue, true)) as QueueInfo;
    const shard = shardOf(job.queue, job.id, info.shards);
    const runAt = Math.max(0, Math.trunc(job.run_at ?? now));
    const order = orderKey(job.priority ?? 0, runAt, seq);
    const pk = shardPk(shard, job.queue);
    return {
      ...jobKey(job.queue, job.id),
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
      seq,
      shard,
      order_key: order,
      ready_pk: pk,
      ready_sk: order,
      created_pk: pk,
      created_sk: seq,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** The job, or `undefined` when unknown or past retention. */
  async get(queue: string, id: string): Promise<Job | undefined> {
    const out = await this.send(() =>
      this.db.send(new GetCommand({ TableName: this.table, Key: jobKey(queue, id), ConsistentRead: true })),
    );
    const item = out.Item;
    if (!item || this.expired(item)) return undefined;
    return toJob(item);
  }

  /** The job if it is live (pending, failed or running): what relay-rs's routes can see. */
  async getLive(queue: string, id: string): Promise<Job | undefined> {
    const job = await this.get(queue, id);
    return job && LIVE.includes(job.status) ? job : undefined;
  }

  /**
   * Jobs newest first, optionally filtered by view status. Pages may hold fewer than `limit` jobs
   * when a status filter skips many; `cursor` is null once there is nothing older.
   */
  async list(opts: {
    queue?: string;
    status?: ViewStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Job>> {
    const queues = opts.queue
      ? [await this.queueInfo(opts.queue)].filter((q): q is QueueInfo => q !== undefined)
      : await this.listQueues();
    const now = this.clock();
    const matches = (job: Job) => !opts.status || viewStatus(job, now) === opts.status;
    if (opts.status === 'dead') return this.listByIndex('dead', queues, opts.limit, opts.cursor, matches);
    return this.listByIndex('created', queues, opts.limit, opts.cursor, matches);
  }

  /** Dead jobs of a queue, most recently dead first. */
  async deadLetters(queue: string, limit: number, cursor?: string): Promise<Page<Job>> {
    const info = await this.queueInfo(queue);
    return this.listByIndex('dead', info ? [info] : [], limit, cursor, (j) => j.status === 'dead');
  }

  /**
   * Walks a KEYS_ONLY index newest first over every shard of the given queues, merging by sort key.
   * The cursor is the last sort key returned: sort keys are unique, so one boundary serves all shards.
   */
  private async listByIndex(
    index: IndexName,
    queues: readonly QueueInfo[],
    limit: number,
    cursor: string | undefined,
    keep: (job: Job) => boolean,
  ): Promise<Page<Job>> {
    const spec = INDEX[index];
    let boundary = cursor;
    const found: Job[] = [];
    // Bounded: a status filter over a long history returns a short page and a cursor rather than
    // reading the whole index in one request.
    for (let round = 0; round < 10 && found.length < limit; round++) {
      const perShard = await Promise.all(
        queues.flatMap((q) =>
          range(q.shards).map((shard) =>
            this.send(() =>
              this.db.send(
                new QueryCommand({
                  TableName: this.table,
                  IndexName: spec.name,
                  KeyConditionExpression: boundary ? '#ipk = :ipk AND #isk < :boundary' : '#ipk = :ipk',
                  ExpressionAttributeNames: { '#ipk': spec.pk, ...(boundary ? { '#isk': spec.sk } : {}) },
                  ExpressionAttributeValues: {
                    ':ipk': shardPk(shard, q.queue),
                    ...(boundary ? { ':boundary': boundary } : {}),
                  },
                  ScanIndexForward: false,
                  Limit: limit,
                }),
              ),
            ),
          ),
        ),
      );
      const keys = perShard
        .flatMap((out) => out.Items ?? [])
        .sort((a, b) => String(b[spec.sk]).localeCompare(String(a[spec.sk])))
        .slice(0, limit);
      if (!keys.length) return { items: found, cursor: null };
      const jobs = await this.batchGet(keys.map(keyOf));
      for (const key of keys) {
        const job = jobs.get(String(key.pk));
        // The index lags the table: skip entries whose item has moved on (or is past retention).
        if (job && job[spec.sk] === key[spec.sk] && !this.expired(job) && keep(toJob(job))) {
          found.push(toJob(job));
        }
        boundary = String(key[spec.sk]);
        if (found.length === limit) break;
      }
      if (keys.length < limit) {
        const exhausted = perShard.every((out) => !out.LastEvaluatedKey);
        if (exhausted && found.length < limit) return { items: found, cursor: null };
      }
    }
    return { items: found, cursor: boundary ?? null };
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

  /** Counts per status from the sparse indexes: reads only waiting, running and dead jobs. */
  async stats(queue: string): Promise<QueueStats> {
    const info = await this.queueInfo(queue);
    const now = this.clock();
    const perShard = await Promise.all(
      range(info?.shards ?? 0).map(async (shard) => {
        const pk = shardPk(shard, queue);
        const [waiting, running, dead] = await Promise.all([
          this.queryAll({
            ...indexQuery(this.table, 'ready', pk),
            ProjectionExpression: '#status, #isk',
            ExpressionAttributeNames: { '#ipk': INDEX.ready.pk, '#isk': INDEX.ready.sk, '#status': 'status' },
          }),
          this.countAll(indexQuery(this.table, 'leases', pk)),
          this.countAll(indexQuery(this.table, 'dead', pk)),
        ]);
        const failed = waiting.filter((w) => w.status === 'failed').length;
        const scheduled = waiting.filter(
          (w) => w.status !== 'failed' && runAtOf(String(w.ready_sk)) > now,
        ).length;
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
    const window = count * 2 + 8;
    const claimed: Job[] = [];
    const tried = new Set<string>();
    let fetched = await this.candidates(info, now, window);
    for (let round = 0; round < 8 && claimed.length < count; round++) {
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
      const results = await Promise.all(picks.map((c) => this.claimOne(c, now)));
      for (const job of results) if (job) claimed.push(job);
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
      const out = await this.update(
        candidate.key,
        stillWaitingAs(candidate.readySk as string, timeoutMs),
        this.startRun(now, timeoutMs, candidate.shardKey),
      );
      return toJob(out);
    } catch (error) {
      if (isConditionFailure(error)) return undefined; // another claimer won, or the job changed
      throw error;
    }
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
      remove: [...READY_ATTRS],
    };
  }

  /**
   * Ends a run whose lease has passed: back to waiting (keeping `run_at`, so it returns to the head
   * of its priority band) or dead when no retry is left. With `reclaim`, a job with a retry left is
   * claimed again in the same write instead (lazy expiry by a claimer).
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
    try {
      if (!retriesLeft) {
        await this.update(key, fence, this.toDead(item, now, lastError));
        return undefined;
      }
      const retries = spendRetry(item.retries_remaining);
      if (reclaim) {
        const out = await this.update(
          key,
          fence,
          this.startRun(now, Number(item.timeout_ms), String(item.created_pk), {
            retries_remaining: retries,
            last_error: lastError,
          }),
        );
        return toJob(out);
      }
      await this.update(
        key,
        fence,
        this.toWaiting(item, now, 'pending', String(item.order_key), retries, lastError),
      );
      return toJob({ ...item, status: 'pending' });
    } catch (error) {
      if (isConditionFailure(error)) return undefined; // a concurrent sweep or claim expired it first
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
  async heartbeat(queue: string, id: string, state: unknown, runId?: string): Promise<Job> {
    const now = this.clock();
    const fence = runId === undefined ? inFlight : currentRun(runId);
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
        old?.status === 'running' && !this.expired(old) && (runId === undefined || old.run_id === runId);
      if (fenceHeld) {
        throw new PayloadTooLargeError(utf8Bytes(String(old.payload)) + stateBytes, LIMITS.payloadStateBytes);
      }
      throw this.runError(error, queue, id, runId);
    }
  }

  /** Marks the run completed. Without `runId` any run completes (relay-rs v1). */
  async complete(queue: string, id: string, runId?: string): Promise<Job> {
    const now = this.clock();
    const fence = runId === undefined ? inFlight : currentRun(runId);
    try {
      return toJob(
        await this.update(jobKey(queue, id), fence, {
          set: { status: 'completed', completed_at: now, updated_at: now, expires_at: this.retainUntil(now) },
          remove: [...LEASE_ATTRS],
        }),
      );
    } catch (error) {
      throw this.runError(error, queue, id, runId);
    }
  }

  /**
   * Fails the current run. With a retry left (and `retry` not false) the job waits for its backoff
   * as `failed`; otherwise it is dead. Without `runId` the job's current run fails.
   */
  async fail(
    queue: string,
    id: string,
    opts: { error: string; runId?: string; retry?: boolean },
  ): Promise<Job> {
    const key = jobKey(queue, id);
    const now = this.clock();
    const item = await this.read(key);
    if (item?.status !== 'running') throw new JobNotFoundError(queue, id);
    const runId = opts.runId ?? String(item.run_id);
    if (item.run_id !== runId) throw new LeaseLostError(queue, id, runId);
    const retriesLeft = item.retries_remaining === null || Number(item.retries_remaining) > 0;
    try {
      if (opts.retry === false || !retriesLeft) {
        return toJob(await this.update(key, currentRun(runId), this.toDead(item, now, opts.error)));
      }
      const retries = spendRetry(item.retries_remaining);
      const backoff = (item.backoff as Job['backoff']) ?? DEFAULT_BACKOFF;
      const retryNumber = Number(item.attempts);
      const delay = backoffSeconds(
        backoff,
        retryNumber,
        (item.last_backoff_seconds as number | null) ?? null,
      );
      const runAt = now + Math.round(delay * 1000);
      const order = orderKey(Number(item.priority), runAt, String(item.seq));
      const change = this.toWaiting(item, now, 'failed', order, retries, opts.error);
      return toJob(
        await this.update(key, currentRun(runId), {
          ...change,
          set: { ...change.set, run_at: runAt, last_backoff_seconds: delay },
        }),
      );
    } catch (error) {
      throw this.runError(error, queue, id, runId);
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
    const item = await this.newItem(job, now);
    const fence = runId === undefined ? inFlight : currentRun(runId);
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
    const items = await Promise.all(
      dedupe(jobs, mode === 'unique' ? 'ignore' : mode).map((j) => this.newItem(j, now)),
    );
    if (mode === 'unique' && items.length < jobs.length) {
      throw new JobExistsError(queue, String(items.find((i) => i.pk === own.pk)?.id ?? id));
    }
    const selfAt = items.findIndex((i) => i.pk === own.pk);
    const fence = build(currentRun(runId));
    const writes: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    if (selfAt === -1) {
      writes.push({
        Update: {
          TableName: this.table,
          Key: own,
          ...buildUpdate(currentRun(runId), {
            set: {
              status: 'completed',
              completed_at: now,
              updated_at: now,
              expires_at: this.retainUntil(now),
            },
            remove: [...LEASE_ATTRS],
          }),
        },
      });
    }
    for (const item of items) {
      if (item.pk === own.pk) writes.push({ Put: { TableName: this.table, Item: item, ...fence } });
      else if (mode === 'replace') writes.push({ Update: this.upsert(item) });
      else writes.push({ Put: this.insert(item, now) });
    }
    if (writes.length > 100) throw new RangeError('a run can be replaced by at most 99 jobs');
    const fenceAt = selfAt === -1 ? 0 : selfAt;
    const itemAt = (write: number) => (selfAt === -1 ? write - 1 : write);
    try {
      await this.send(() => this.db.send(new TransactWriteCommand({ TransactItems: writes })));
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
      return toJob(
        await this.update(jobKey(queue, id), and(exists, statusIn(LIVE)), {
          set: { status: 'cancelled', updated_at: now, expires_at: this.retainUntil(now), run_id: undefined },
          remove: [...READY_ATTRS, ...LEASE_ATTRS, 'lease_expires_at'],
        }),
      );
    } catch (error) {
      throw this.transitionError(error, queue, id, 'cancel');
    }
  }

  /** Runs a dead, cancelled or failed job again now, with a fresh retry budget. */
  async retry(queue: string, id: string): Promise<Job> {
    return this.revive(queue, id, ['dead', 'cancelled', 'failed'], 'retry');
  }

  /** Puts a dead job back in its queue with a fresh retry budget. */
  async requeueDead(queue: string, id: string): Promise<Job> {
    return this.revive(queue, id, ['dead'], 'requeue');
  }

  /** Requeues up to `limit` dead jobs (all when omitted); returns how many were requeued. */
  async requeueAllDead(queue: string, limit?: number): Promise<number> {
    let requeued = 0;
    let cursor: string | undefined;
    do {
      const page = await this.deadLetters(
        queue,
        Math.min(100, limit === undefined ? 100 : limit - requeued),
        cursor,
      );
      const results = await mapLimit(page.items, 16, async (job) => {
        try {
          await this.requeueDead(queue, job.id);
          return 1;
        } catch (error) {
          if (error instanceof JobNotFoundError || error instanceof InvalidTransitionError) return 0;
          throw error;
        }
      });
      requeued += results.reduce((a: number, b: number) => a + b, 0);
      cursor = page.cursor ?? undefined;
    } while (cursor && (limit === undefined || requeued < limit));
    return requeued;
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

  private async revive(queue: string, id: string, from: StoredStatus[], action: string): Promise<Job> {
    const now = this.clock();
    const key = jobKey(queue, id);
    const item = await this.read(key);
    if (!item || this.expired(item)) throw new JobNotFoundError(queue, id);
    if (!from.includes(item.status as StoredStatus))
      throw new InvalidTransitionError(action, String(item.status));
    const order = orderKey(Number(item.priority), now, this.nextSeq(now));
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
            remove: [...(change.remove ?? []), ...DEAD_ATTRS],
          },
        ),
      );
    } catch (error) {
      throw this.transitionError(error, queue, id, action);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance
  // -------------------------------------------------------------------------------------------

  /**
   * Ends every run whose lease has passed, in every queue. Safe to run concurrently with itself and
   * with claimers: each expiry is a write conditioned on the run id and the lease deadline.
   */
  async sweep(): Promise<SweepResult> {
    const result = { requeued: 0, dead: 0, refreshed: 0 };
    const now = this.clock();
    for (const info of await this.listQueues()) {
      for (const shard of range(info.shards)) {
        const entries = await this.queryAll(expiredQuery(this.table, shardPk(shard, info.queue), now));
        await mapLimit(entries, 16, async (entry) => {
          const outcome = await this.sweepOne(keyOf(entry), runIdOfLeaseKey(String(entry.lease_sk)), now);
          if (outcome) result[outcome]++;
        });
      }
    }
    return result;
  }

  private async sweepOne(key: ItemKey, runId: string, now: number): Promise<keyof SweepResult | undefined> {
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
        return 'refreshed';
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    }
    const deadBefore = item.retries_remaining !== null && Number(item.retries_remaining) <= 0;
    const job = await this.expireRun(key, runId, now, false);
    if (!job) return undefined;
    return deadBefore ? 'dead' : 'requeued';
  }

  // -------------------------------------------------------------------------------------------
  // Building blocks
  // -------------------------------------------------------------------------------------------

  private get table(): string {
    return this.config.tableName;
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
        ready_pk: item.created_pk,
        ready_sk: order,
        retries_remaining: retries,
        last_error: lastError ?? undefined,
        updated_at: now,
        run_id: undefined,
        lease_expires_at: undefined,
      },
      remove: [...LEASE_ATTRS],
    };
  }

  private toDead(item: Item, now: number, lastError: string): Change {
    return {
      set: {
        status: 'dead',
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
    const old = conditionFailureItem(error);
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

  private async countAll(input: QueryCommandInput): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.send(() =>
        this.db.send(new QueryCommand({ ...input, Select: 'COUNT', ExclusiveStartKey: startKey })),
      );
      count += out.Count ?? 0;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return count;
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
  };
}

/** Every attribute a job item may carry besides its keys: an upsert removes those the new job lacks. */
const JOB_ATTRIBUTES = [
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
  'dead_pk',
  'dead_sk',
  'expires_at',
  'last_error',
  'last_backoff_seconds',
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

function sample<T>(items: readonly T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

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
