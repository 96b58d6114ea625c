/**
 * Per-queue rate limits: a token bucket in DynamoDB, shared by every claimer and dispatcher.
 *
 * The bucket is kept as GCRA (the generic cell rate algorithm, a token bucket written as one
 * number): `tat`, the time at which the bucket would be full again. With an emission interval
 * `I = 1000 / rate` ms and a capacity of `burst · I` ms, taking n tokens at `now` is allowed when
 * `max(tat, now) + n·I − now ≤ capacity`, and moves `tat` to `max(tat, now) + n·I`. DynamoDB has
 * no `max` in an update, so the write names the case it expects (`bucketFull` or `bucketHasRoom`);
 * a refusal returns the item, which says whether the queue is over its rate or the case was the
 * other one. So one conditional write takes n tokens, and a take makes at most `MAX_TAKE_WRITES`.
 *
 * A bucket with a rate above `SHARD_RATE` is split into shards, each with an equal part of the
 * rate and burst, one item each; a take picks one at random (docs/design.md, "Rate limits").
 */
import { bucketFull, bucketHasRoom } from './conditions.ts';
import type { StoreContext } from './context.ts';
import { seconds } from './item.ts';
import { bucketKey, type ItemKey } from './keys.ts';
import type { QueueSettings } from './queues.ts';

/** The highest rate an operator may set. */
export const MAX_RATE_PER_SECOND = 10_000;
/** The largest burst an operator may set. */
export const MAX_BURST = 100_000;
/**
 * The rate one bucket item takes. Each take is one write, and a refused one costs a write too:
 * 400/s leaves room under a partition's 1,000 WCU/s for refusals and the other case's retries.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
 */
export const SHARD_RATE = 400;
/** Writes one take makes at most: a wrong guess of the case, then a smaller take. */
export const MAX_TAKE_WRITES = 3;
/** An idle bucket item is removed by TTL a day after its last take. */
const BUCKET_TTL_SECONDS = 86_400;

/** The burst a rate has when the operator sets none: one second of it. */
export const defaultBurst = (rate: number): number => Math.max(1, Math.ceil(rate));

/** What a take got: `granted` tokens, or none and how long until one is free. */
export interface Taken {
  readonly granted: number;
  readonly retryAfterMs: number;
}

interface Bucket {
  readonly shards: number;
  /** Milliseconds per token in one shard. */
  readonly intervalMs: number;
  /** Tokens one shard holds. */
  readonly burst: number;
}

type BucketItem = ItemKey & { readonly tat?: number; readonly expires_at?: number };

/** The bucket a queue's settings describe; `undefined` when it has no rate limit. */
export function bucketOf(settings: QueueSettings): Bucket | undefined {
  const rate = settings.rate_per_second;
  if (!rate) return undefined;
  const shards = Math.ceil(rate / SHARD_RATE);
  return {
    shards,
    intervalMs: (1000 * shards) / rate,
    burst: Math.max(1, Math.floor((settings.burst ?? defaultBurst(rate)) / shards)),
  };
}

/** The `tat` this process last saw per bucket shard: only a guess of which case to write. */
const lastSeen = new Map<string, number>();

/**
 * Takes up to `want` tokens from the queue's bucket. Grants fewer when fewer are there, and none
 * (with the wait until one is) when the queue is over its rate. A queue without a rate grants all.
 */
export async function takeTokens(
  ctx: StoreContext,
  queue: string,
  settings: QueueSettings,
  want: number,
): Promise<Taken> {
  const bucket = bucketOf(settings);
  if (!bucket || want < 1) return { granted: want, retryAfterMs: 0 };
  const key = bucketKey(queue, Math.floor(Math.random() * bucket.shards));
  const capacity = bucket.burst * bucket.intervalMs;
  let n = Math.min(want, bucket.burst);
  for (let write = 0; write < MAX_TAKE_WRITES; write++) {
    const now = ctx.clock();
    const cost = n * bucket.intervalMs;
    const guess = lastSeen.get(key.pk);
    const expires_at = seconds(now) + BUCKET_TTL_SECONDS;
    const written =
      guess === undefined || guess <= now
        ? await ctx.db.update<BucketItem>(key, bucketFull(now), { set: { tat: now + cost, expires_at } })
        : await ctx.db.update<BucketItem>(key, bucketHasRoom(now, now + capacity - cost), {
            add: { tat: cost },
            set: { expires_at },
          });
    if (written.ok) {
      lastSeen.set(key.pk, written.item.tat ?? now + cost);
      return { granted: n, retryAfterMs: 0 };
    }
    const tat = written.old?.tat ?? now;
    lastSeen.set(key.pk, tat);
    if (tat <= now) continue; // the bucket is full: the other case
    const room = Math.floor((now + capacity - tat) / bucket.intervalMs);
    // Over the rate: one token is free when `tat + I − capacity` has passed.
    if (room < 1) return { granted: 0, retryAfterMs: Math.ceil(tat + bucket.intervalMs - capacity - now) };
    n = Math.min(n, room);
  }
  // Lost every write to other claimers: the bucket is contended, so it is near its rate.
  return { granted: 0, retryAfterMs: Math.ceil(bucket.intervalMs) };
}
