/**
 * The table's key layout. `docs/design.md` explains each piece; this module is its only encoder.
 *
 * Every item lives under `pk`/`sk`. A job's `pk` is a hash of (queue, id), so job writes spread over
 * the whole key space; a job's run logs share its `pk`. Per-queue indexes are sharded: their
 * partition keys are `<shard>#<queue>`, and readers merge the shards by sort key. Managed jobs wait
 * in `ready` partitions of their own (`m#<shard>#<queue>`, see `managedShardPk`).
 */
import { createHash } from 'node:crypto';
import { LIMITS } from './model.ts';

export const INDEX = {
  /** Waiting jobs (pending/failed) by priority, then `run_at`, then enqueue order. */
  ready: { name: 'ready', pk: 'ready_pk', sk: 'ready_sk' },
  /** Running jobs by lease deadline: expired leases sort first. */
  leases: { name: 'leases', pk: 'lease_pk', sk: 'lease_sk' },
  /** Every job by enqueue order, for newest-first listing. */
  created: { name: 'created', pk: 'created_pk', sk: 'created_sk' },
  /** Dead jobs by the time they died, for the dead-letter listing. */
  dead: { name: 'dead', pk: 'dead_pk', sk: 'dead_sk' },
} as const;

export type IndexName = keyof typeof INDEX;

/** Attributes copied into the `ready` and `leases` indexes beside their keys. */
export const READY_PROJECTION = ['status', 'timeout_ms'] as const;
export const LEASE_PROJECTION = ['order_key'] as const;

export const JOB_SK = 'job';
export const QUEUES_PK = 'queues';
export const IDEMPOTENCY_SK = 'idempotency';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);
}

export const jobKey = (queue: string, id: string): ItemKey => ({
  pk: `job#${digest(queue, id)}`,
  sk: JOB_SK,
});
export const queueKey = (queue: string): ItemKey => ({ pk: QUEUES_PK, sk: queue });
export const idempotencyKey = (queue: string, key: string): ItemKey => ({
  pk: `idem#${digest(queue, key)}`,
  sk: IDEMPOTENCY_SK,
});

/** The index shard a job belongs to: stable for its (queue, id) so every write lands in the same one. */
export function shardOf(queue: string, id: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash('sha256').update(`${queue}\u0000${id}`).digest().readUInt32BE(0) % shards;
}

/** Partition key of one shard of a per-queue index. The shard number comes first, so `#` in names is safe. */
export const shardPk = (shard: number, queue: string): string => `${shard}#${queue}`;

/**
 * `ready` partition key of one shard of a queue's waiting **managed** jobs.
 *
 * Pull claims query only `shardPk` partitions, so a managed job waits where no pull claimer ever
 * looks: it is started only by `claimById` on a dispatch message. The `m#` prefix cannot collide
 * with `shardPk`, whose keys start with a digit. Stats and the lost-dispatch repair read these
 * partitions too. A managed job's other index entries (`leases`, `created`, `dead`) stay in the
 * queue's `shardPk` partitions, so the sweep, listings and the dead-letter API treat it like any job.
 */
export const managedShardPk = (shard: number, queue: string): string => `m#${shard}#${queue}`;

const pad = (n: number, width: number): string => Math.max(0, Math.trunc(n)).toString().padStart(width, '0');
const TIME_WIDTH = 15;

/**
 * Claim order key: priority descending, then `run_at`, then enqueue order (`seq`, a ULID).
 * Priority is inverted so an ascending query returns the highest priority first.
 *
 * With aging (`agingMs`, the queue's `aging_seconds_per_level` in ms) the key leads with an
 * effective time instead, `run_at − priority × agingMs`: one level more is worth a head start of
 * `agingMs`, so a job that has waited `Δpriority × agingMs` longer sorts before a higher one
 * enqueued later, and nothing waits forever behind a flood. Aged keys start with `a`, after every
 * digit, so a queue whose setting changed claims its older, strictly ordered jobs first.
 */
export function orderKey(priority: number, runAt: number, seq: string, agingMs?: number): string {
  if (agingMs) return `${AGED}${effectiveTime(priority, runAt, agingMs)}#${pad(runAt, TIME_WIDTH)}#${seq}`;
  return `${priorityBand(priority)}#${pad(runAt, TIME_WIDTH)}#${seq}`;
}

/** Prefix of an aged order key. */
const AGED = 'a#';
/**
 * `run_at − priority × agingMs`, shifted to stay positive, in fixed width. |priority| < 2³¹ and
 * agingMs ≤ 86,400,000, so the head start is below 1.9 × 10¹⁷ ms: BigInt, 18 digits, offset 2 × 10¹⁷.
 */
const EFFECTIVE_WIDTH = 18;
const EFFECTIVE_OFFSET = 2n * 10n ** 17n;
const effectiveTime = (priority: number, runAt: number, agingMs: number): string =>
  (BigInt(runAt) - BigInt(priority) * BigInt(agingMs) + EFFECTIVE_OFFSET)
    .toString()
    .padStart(EFFECTIVE_WIDTH, '0');

/** Whether an order key is aged: not-yet-due jobs are then spread among due ones, not at a band's end. */
export const isAged = (order: string): boolean => order.startsWith(AGED);

/** The leading part of an order key that all jobs of one priority share. */
export const priorityBand = (priority: number): string => pad(LIMITS.maxPriority - priority, 10);

/** The first order key of the next (lower) priority band: where a skip past not-yet-due jobs resumes. */
export function nextBand(order: string): string {
  return pad(Number(order.slice(0, 10)) + 1, 10);
}

/** `run_at` encoded in an order key. */
export const runAtOf = (order: string): number => {
  const at = isAged(order) ? AGED.length + EFFECTIVE_WIDTH + 1 : 11;
  return Number(order.slice(at, at + TIME_WIDTH));
};

export const leaseSortKey = (leaseExpiresAt: number, runId: string): string =>
  `${pad(leaseExpiresAt, TIME_WIDTH)}#${runId}`;

/** Upper bound for lease keys that have expired at `now`. */
export const leaseExpiredBefore = (now: number): string => `${pad(now, TIME_WIDTH)}#\uffff`;

export const runIdOfLeaseKey = (leaseSk: string): string => leaseSk.slice(TIME_WIDTH + 1);

/**
 * `ready` sort key of a waiting managed job: when it is next due for a dispatch message, then its
 * `pk`. That time is `run_at`, or the last re-dispatch (`markRedispatched`), so the lost-dispatch
 * repair finds overdue jobs with one range query per shard. Managed jobs are claimed by id, so their
 * `ready` entry needs no priority order. The `pk` part needs no read to build and keeps keys distinct.
 */
export const dispatchKey = (dueAt: number, jobPk: string): string => `${pad(dueAt, TIME_WIDTH)}#${jobPk}`;

/** Upper bound (exclusive) for dispatch keys due at or before `at`. */
export const dispatchDueBefore = (at: number): string => pad(at + 1, TIME_WIDTH);

/** The dispatch time encoded in a managed `ready` sort key. */
export const dispatchTimeOf = (readySk: string): number => Number(readySk.slice(0, TIME_WIDTH));

/** The partition of every schedule item: one query lists them all, in name order. */
export const SCHEDULES_PK = 'schedules';

export const scheduleKey = (name: string): ItemKey => ({ pk: SCHEDULES_PK, sk: name });

/**
 * `ready` partition of the schedules waiting for a fire. No claim, stat or dispatch repair reads
 * it: their partitions start with a shard number or `m#`.
 */
export const SCHEDULES_DUE_PK = 'sched#due';

/** `ready` sort key of a schedule: its next fire time, then its name (distinct keys). */
export const scheduleDueKey = (fireAt: number, name: string): string => `${pad(fireAt, TIME_WIDTH)}#${name}`;

export const deadSortKey = (deadAt: number, seq: string): string => `${pad(deadAt, TIME_WIDTH)}#${seq}`;

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Truncates to at most `bytes` bytes of UTF-8 without splitting a character. */
export function truncateUtf8(s: string, bytes: number): string {
  if (utf8Bytes(s) <= bytes) return s;
  let out = '';
  let used = 0;
  for (const char of s) {
    const size = utf8Bytes(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/**
 * Id of the job a run's outcome enqueues: `<id>~<run_id>~<success|failure>`. One run ends once, so
 * the id makes a repeated or concurrent end write the same child (and fail its `attribute_not_exists`).
 * An id too long for the 1,024-byte limit keeps a prefix and adds a hash of the whole id.
 */
export function childId(id: string, runId: string, outcome: 'success' | 'failure'): string {
  const plain = `${id}~${runId}~${outcome}`;
  if (utf8Bytes(plain) <= LIMITS.nameBytes) return plain;
  const tail = `~${digest(id)}~${runId}~${outcome}`;
  return `${truncateUtf8(id, LIMITS.nameBytes - utf8Bytes(tail))}${tail}`;
}

const SEQ_WIDTH = 10;
/** Sort-key prefix of log entries; a run's entries sort by `seq`. */
export const LOG_PREFIX = 'log#';
/** Sort-key prefix of per-run log meta items (bytes stored so far, truncation, run order). */
export const LOG_RUN_PREFIX = 'logrun#';

/** A run log entry: in the job's partition, so one query reads a run's output in order. */
export const logKey = (queue: string, id: string, runId: string, seq: number): ItemKey => ({
  pk: jobKey(queue, id).pk,
  sk: `${LOG_PREFIX}${runId}#${pad(seq, SEQ_WIDTH)}`,
});

/** The last possible log sort key of a run. */
export const logRunEnd = (runId: string): string => `${LOG_PREFIX}${runId}#${'9'.repeat(SEQ_WIDTH)}`;

export const logRunKey = (queue: string, id: string, runId: string): ItemKey => ({
  pk: jobKey(queue, id).pk,
  sk: `${LOG_RUN_PREFIX}${runId}`,
});

/** Largest log sequence number a key can hold. */
export const MAX_LOG_SEQ = 10 ** SEQ_WIDTH - 1;

/** One shard of a queue's token bucket (`limits.ts`): a partition of its own, so shards spread the writes. */
export const bucketKey = (queue: string, shard: number): ItemKey => ({
  pk: `bucket#${digest(queue, String(shard))}`,
  sk: 'bucket',
});

/** The partition of a queue's run slots (`running.ts`): one query reads them all. */
export const slotsPk = (queue: string): string => `slots#${digest(queue)}`;

/** Slot `index` of a queue's `max_running` slots. */
export const slotKey = (queue: string, index: number): ItemKey => ({ pk: slotsPk(queue), sk: pad(index, 5) });
