/**
 * The table's key layout. `docs/design.md` explains each piece; this module is its only encoder.
 *
 * Every item lives under `pk`/`sk`. A job's `pk` is a hash of (queue, id), so job writes spread over
 * the whole key space. Per-queue indexes are sharded: their partition keys are `<shard>#<queue>`,
 * and readers merge the shards by sort key.
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

const pad = (n: number, width: number): string => Math.max(0, Math.trunc(n)).toString().padStart(width, '0');
const TIME_WIDTH = 15;

/**
 * Claim order key: priority descending, then `run_at`, then enqueue order (`seq`, a ULID).
 * Priority is inverted so an ascending query returns the highest priority first.
 */
export function orderKey(priority: number, runAt: number, seq: string): string {
  return `${priorityBand(priority)}#${pad(runAt, TIME_WIDTH)}#${seq}`;
}

/** The leading part of an order key that all jobs of one priority share. */
export const priorityBand = (priority: number): string => pad(LIMITS.maxPriority - priority, 10);

/** The first order key of the next (lower) priority band: where a skip past not-yet-due jobs resumes. */
export function nextBand(order: string): string {
  return pad(Number(order.slice(0, 10)) + 1, 10);
}

/** `run_at` encoded in an order key. */
export const runAtOf = (order: string): number => Number(order.slice(11, 11 + TIME_WIDTH));

export const leaseSortKey = (leaseExpiresAt: number, runId: string): string =>
  `${pad(leaseExpiresAt, TIME_WIDTH)}#${runId}`;

/** Upper bound for lease keys that have expired at `now`. */
export const leaseExpiredBefore = (now: number): string => `${pad(now, TIME_WIDTH)}#\uffff`;

export const runIdOfLeaseKey = (leaseSk: string): string => leaseSk.slice(TIME_WIDTH + 1);

export const deadSortKey = (deadAt: number, seq: string): string => `${pad(deadAt, TIME_WIDTH)}#${seq}`;

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
