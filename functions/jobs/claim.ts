/**
 * Claims: a worker takes the next waiting pull jobs of a queue, and the dispatcher starts a managed
 * job by id. Both start a run with the same change (`startRun`), each fenced by its own condition.
 */
import type { ArrivedJob } from './arrivals.ts';
import { applied, type JobChange, startRun } from './changes.ts';
import { dispatchable, pullJob, stillWaitingAs, timeoutAsRead } from './conditions.ts';
import type { StoreContext } from './context.ts';
import { type Stored, updateOf } from './dynamo.ts';
import { and, type Condition } from './expressions.ts';
import { isManaged, type JobItem, keyOf, type LeaseEntry, type ReadyEntry, toJob } from './item.ts';
import { type ItemKey, isAged, jobKey, nextBand, runAtOf, runIdOfLeaseKey, shardPk } from './keys.ts';
import { takeTokens } from './limits.ts';
import { type Job, WAITING } from './model.ts';
import { type QueueInfo, shardsOf } from './queues.ts';
import { expiredLeases, expireRun } from './rescuer.ts';
import { type OpenSlot, openSlots, SLOT_RETRY_MS, takeSlot } from './running.ts';

/**
 * What a claim got: its jobs, and when it got none because the queue is over its rate limit, how
 * long until a token is free (a claim answers as an empty queue with `Retry-After`).
 */
export interface Claimed {
  readonly jobs: Job[];
  readonly retryAfterMs?: number;
}

/** Rounds of claim writes one `claim` call makes before it answers with what it has. */
const CLAIM_ROUNDS = 12;
/** The widest candidate read a contended claim grows to (per shard, before merging). */
const MAX_CLAIM_WINDOW = 256;

/** A job a claim may take: a waiting one, or a running one whose lease has passed. */
type Candidate =
  | {
      readonly kind: 'ready';
      readonly key: ItemKey;
      readonly order: string;
      /** `<shard>#<queue>`: the partition key the job's index entries share. */
      readonly shardKey: string;
      readonly readySk: string;
      readonly timeoutMs: number;
    }
  | { readonly kind: 'expired'; readonly key: ItemKey; readonly order: string; readonly runId: string };

/**
 * Claims up to `count` jobs: highest priority first, then earliest `run_at`, then enqueue order.
 * A running job whose lease has expired is a candidate too (lazy expiry): taking it consumes a
 * retry, and one with no retry left becomes dead instead of being returned. `worker`, the
 * claimer's identity if it sent one, is kept with each run for its record (`history.ts`).
 *
 * `arrived` are jobs an enqueue in this process just wrote, handed to a long poll it woke: the
 * claim tries those that are due without reading the index first (not on a `strict` queue, which
 * always reads). It gets nothing when another claimer took them first; the caller then claims again
 * without them.
 */
export async function claim(
  ctx: StoreContext,
  queue: string,
  wanted: number,
  worker?: string,
  arrived: readonly ArrivedJob[] = [],
): Promise<Claimed> {
  const info = await ctx.queues.find(queue);
  const settings = await ctx.queues.settings(queue);
  // A paused queue answers as an empty one. The flag is at most `SETTINGS_MAX_AGE_MS` old.
  if (!info || settings.paused) return { jobs: [] };
  const now = ctx.clock();
  // A store that has been losing races reads a wider window of one shard, picked at random, and
  // spreads its first attempt over it: concurrent claimers then meet less often, and each reads
  // one shard instead of all. It reads every shard when that one has too few jobs.
  const spread = info.ordering === 'strict' ? 1 : ctx.claims.spread(queue);
  let window = Math.min(Math.ceil((wanted * 2 + 8) * spread), MAX_CLAIM_WINDOW);
  const all = shardsOf(info);
  const handed = info.ordering === 'strict' ? [] : dueArrivals(arrived, now);
  let shards =
    spread > 1 && all.length > 1 && !handed.length ? [Math.floor(Math.random() * all.length)] : all;
  const claimed: JobItem[] = [];
  const tried = new Set<string>();
  let anyLost = false;
  let fetched = handed.length ? handed : await firstCandidates(ctx, info, now, window, wanted, shards);
  if (fetched.length < wanted && shards !== all) {
    const others = all.filter((shard) => !shards.includes(shard));
    shards = all;
    fetched = merged([fetched, await candidates(ctx, info, now, window, others)], window);
  }
  // With `max_running`, a run starts only in a slot; an expired run is left to the sweep, which
  // frees its slot by sending the job back to waiting.
  const slots =
    settings.max_running && fetched.length ? await openSlots(ctx, queue, settings.max_running) : undefined;
  if (slots && !slots.length) return { jobs: [], retryAfterMs: SLOT_RETRY_MS };
  const open = (c: Candidate) => !tried.has(c.key.pk) && (!slots || c.kind === 'ready');
  // Tokens only for jobs there are: an empty queue spends none. A token of a lost race is spent.
  const taken = await takeTokens(
    ctx,
    queue,
    settings,
    Math.min(wanted, fetched.length, slots?.length ?? wanted),
  );
  if (!taken.granted)
    return { jobs: [], ...(taken.retryAfterMs ? { retryAfterMs: taken.retryAfterMs } : {}) };
  const count = taken.granted;
  for (let round = 0; round < CLAIM_ROUNDS && claimed.length < count; round++) {
    let pool = fetched.filter(open);
    if (!pool.length) {
      // Read again only if the last read was full: there may be more past what was tried.
      if (fetched.length < window + (round ? tried.size : 0) && shards === all) break;
      if (fetched.length < window + (round ? tried.size : 0)) shards = all; // that shard ran dry
      fetched = await candidates(ctx, info, now, window + tried.size, shards);
      pool = fetched.filter(open);
      if (!pool.length) break;
    }
    const want = Math.min(count - claimed.length, slots?.length ?? count);
    if (want < 1) break;
    // First round in order, unless this store has been losing races: sequential claimers see exact
    // order. After a lost race, a `priority` queue spreads the retry over the pool so concurrent
    // claimers stop colliding on the head.
    const inOrder = info.ordering === 'strict' || (round === 0 && spread === 1);
    const picks = inOrder ? pool.slice(0, want) : sample(pool, want);
    for (const pick of picks) tried.add(pick.key.pk);
    // The lease starts at the write, not at the call: a contended call may take many rounds, and
    // a lease dated from its start could end before the worker even hears of its job.
    const claimedAt = ctx.clock();
    const results = await Promise.all(
      picks.map((c) => {
        const slot = slots && slotFor(slots, c);
        // No slot fits this candidate: it is tried again another time, never claimed without one.
        return slots && !slot ? Promise.resolve<Started>({}) : claimOne(ctx, c, claimedAt, slot, worker);
      }),
    );
    let lost = 0;
    for (const { item, keepSlot } of results) {
      if (item) claimed.push(item);
      else lost++;
      if (keepSlot) slots?.push(keepSlot);
    }
    const conflicts = results.filter((r) => r.conflict).length;
    if (conflicts) ctx.metrics.claimConflicts(queue, conflicts);
    if (lost) anyLost = true;
    if (lost && info.ordering !== 'strict' && claimed.length < count) {
      // Others are claiming the same heads. The pool read before this round is going stale as
      // they win, so read a fresh one, wider each time, and spread the next picks over it: a
      // failed conditional write costs a write unit, a wider read far less.
      window = Math.min(window * 2, MAX_CLAIM_WINDOW);
      fetched = await candidates(ctx, info, now, window + tried.size, shards);
    }
  }
  ctx.claims.raced(queue, anyLost);
  return { jobs: claimed.sort((a, b) => a.order_key.localeCompare(b.order_key)).map(toJob) };
}

/**
 * Starts a run of a managed job named by a dispatch message, if it is waiting and due: the same
 * change as a pull claim, fenced by `dispatchable`. Returns no job when it is not claimable
 * (running, ended, not due, unknown, or a pull job): the message was a duplicate or stale, and the
 * dispatcher drops it. A queue over its rate limit returns the wait instead: the dispatcher sends
 * the hint again with that delay, and the job stays pending.
 *
 * It reads the job first: the lease index key holds the deadline, built from the job's timeout,
 * and a stale message then costs a read instead of a failed write. The write is conditioned on the
 * timeout it read, so it cannot start a run with the wrong deadline.
 */
export async function claimById(ctx: StoreContext, queue: string, id: string): Promise<ById> {
  const now = ctx.clock();
  const key = jobKey(queue, id);
  const item = await ctx.db.get<JobItem>(key);
  if (!item || !isManaged(item) || !WAITING.includes(item.status) || item.run_at > now) return {};
  if (await pausedNow(ctx, queue)) return {}; // resume re-sends the hint (JobService.resumeQueue)
  const settings = await ctx.queues.settings(queue);
  const slot = settings.max_running
    ? (await openSlots(ctx, queue, settings.max_running, key.pk))[0]
    : undefined;
  if (settings.max_running && !slot) return { retryAfterMs: SLOT_RETRY_MS };
  const taken = await takeTokens(ctx, queue, settings, 1);
  if (!taken.granted) return { retryAfterMs: taken.retryAfterMs };
  const when = and(dispatchable(now), timeoutAsRead(item.timeout_ms));
  const change = startRun(now, item.timeout_ms, item.created_pk);
  const { item: started, conflict } = slot
    ? await beginInSlot(ctx, key, item, when, change, slot, now)
    : await begin(ctx, key, when, change, now);
  if (conflict) ctx.metrics.claimConflicts(queue, 1);
  return started ? { job: toJob(started) } : {}; // none: another dispatcher won, or the job changed
}

/** What a claim by id got: the run it started, or none, and when over the rate limit, the wait. */
export interface ById {
  readonly job?: Job;
  readonly retryAfterMs?: number;
}

/**
 * Whether a queue is paused, for a dispatch hint. A cached "paused" is confirmed by a fresh read:
 * a hint dropped on a stale pause would wait for the repair, while a hint that meets a real pause
 * is rare (resume re-sends every one it owes), so the read costs little.
 */
async function pausedNow(ctx: StoreContext, queue: string): Promise<boolean> {
  return (await ctx.queues.settings(queue)).paused && (await ctx.queues.settings(queue, 0)).paused;
}

/** Handed jobs that are due, as candidates in claim order. */
const dueArrivals = (arrived: readonly ArrivedJob[], now: number): Candidate[] =>
  arrived
    .filter((job) => runAtOf(job.readySk) <= now)
    .map((job) => ({
      kind: 'ready' as const,
      key: job.key,
      order: job.readySk,
      shardKey: job.readyPk,
      readySk: job.readySk,
      timeoutMs: job.timeoutMs,
    }));

/**
 * A claim's first read. Expired leases are not read on every claim: the sweep expires them, so a
 * claim looks only now and then (`LEASE_LOOK_MS`), or when the waiting jobs do not fill it
 * (`SHORT_LEASE_LOOK_MS`): an idle claimer still takes an expired run as soon as it sees it.
 */
async function firstCandidates(
  ctx: StoreContext,
  info: QueueInfo,
  now: number,
  limit: number,
  wanted: number,
  shards: readonly number[],
): Promise<Candidate[]> {
  const periodic = ctx.claims.looksForLeases(info.queue, now, false);
  const found = await candidates(ctx, info, now, limit, shards, periodic);
  if (periodic || found.length >= wanted || !ctx.claims.looksForLeases(info.queue, now, true)) return found;
  return merged([found, await expiredCandidates(ctx, info, now, limit)], limit);
}

/** The first `limit` claimable jobs of a queue in `shards`, merged in claim order. */
async function candidates(
  ctx: StoreContext,
  info: QueueInfo,
  now: number,
  limit: number,
  shards: readonly number[],
  withLeases = false,
): Promise<Candidate[]> {
  // Both reads at once, awaited together: a failure of one must not leave the other's unhandled.
  const [ready, expired] = await Promise.all([
    Promise.all(shards.map((shard) => readyHeads(ctx, shardPk(shard, info.queue), now, limit))),
    withLeases ? expiredCandidates(ctx, info, now, limit) : [],
  ]);
  return merged([...ready, expired], limit);
}

/** Runs of a queue whose lease index entry says the lease has passed, over every shard. */
async function expiredCandidates(ctx: StoreContext, info: QueueInfo, now: number, limit: number) {
  const perShard = await Promise.all(
    shardsOf(info).map((shard) => expiredHeads(ctx, shardPk(shard, info.queue), now, limit)),
  );
  return perShard.flat();
}

const merged = (lists: readonly Candidate[][], limit: number): Candidate[] =>
  lists
    .flat()
    .sort((a, b) => a.order.localeCompare(b.order))
    .slice(0, limit);

/**
 * Due waiting jobs of one shard in order. Jobs not yet due sort after the due ones of their
 * priority band, so on meeting one the query skips to the next band instead of reading them all.
 * Aged keys have no bands: a job due soon with a head start sorts among due ones, and is passed
 * over (only jobs due within `priority × aging` of now can sort there).
 */
async function readyHeads(ctx: StoreContext, pk: string, now: number, limit: number): Promise<Candidate[]> {
  const due: Candidate[] = [];
  let from: string | undefined;
  let startKey: Stored | undefined;
  for (let query = 0; query < 8 && due.length < limit; query++) {
    const page = await ctx.db.query<ReadyEntry>({
      index: 'ready',
      partition: pk,
      range: from !== undefined && !startKey ? { atLeast: from } : undefined,
      startKey,
      limit,
    });
    let skipped = false;
    for (const entry of page.items) {
      const order = entry.ready_sk;
      if (runAtOf(order) > now && isAged(order)) continue;
      if (runAtOf(order) > now) {
        from = nextBand(order);
        skipped = true;
        break;
      }
      due.push({
        kind: 'ready',
        key: keyOf(entry),
        order,
        shardKey: pk,
        readySk: order,
        timeoutMs: entry.timeout_ms,
      });
      if (due.length === limit) break;
    }
    if (skipped) {
      startKey = undefined;
      continue;
    }
    if (!page.lastKey) break;
    startKey = page.lastKey;
  }
  return due;
}

/** Running jobs of one shard whose lease index entry says the lease has passed. */
async function expiredHeads(ctx: StoreContext, pk: string, now: number, limit: number): Promise<Candidate[]> {
  const page = await ctx.db.query<LeaseEntry>({ ...expiredLeases(pk, now), limit });
  return page.items.map((entry) => ({
    kind: 'expired' as const,
    key: keyOf(entry),
    order: entry.order_key,
    runId: runIdOfLeaseKey(entry.lease_sk),
  }));
}

/**
 * What one claim write got: the run it started, a slot it did not use that is still open, and
 * whether its write lost its condition (`ClaimConflicts`).
 */
interface Started {
  readonly item?: JobItem;
  readonly keepSlot?: OpenSlot;
  readonly conflict?: boolean;
}

/** The run a candidate started; none when another claimer won or the job changed. */
async function claimOne(
  ctx: StoreContext,
  candidate: Candidate,
  now: number,
  slot: OpenSlot | undefined,
  worker: string | undefined,
): Promise<Started> {
  if (candidate.kind === 'expired')
    return { item: await expireRun(ctx, candidate.key, candidate.runId, now, true, worker) };
  const when = and(stillWaitingAs(candidate.readySk, candidate.timeoutMs), pullJob);
  const change = startRun(now, candidate.timeoutMs, candidate.shardKey, { worker });
  if (!slot) return begin(ctx, candidate.key, when, change, now);
  const before = await ctx.db.get<JobItem>(candidate.key);
  if (!before) return { keepSlot: slot };
  return beginInSlot(ctx, candidate.key, before, when, change, slot, now);
}

/**
 * Takes an open slot for a candidate, out of `slots`. A slot still held by an ended run of the
 * candidate itself is not for it (one transaction cannot both claim and check the job).
 */
function slotFor(slots: OpenSlot[], candidate: Candidate): OpenSlot | undefined {
  const i = slots.findIndex((slot) => slot.stale?.job.pk !== candidate.key.pk);
  return i < 0 ? undefined : slots.splice(i, 1)[0];
}

/**
 * Starts a run in a slot: the claim's write and the slot's in one transaction, so the run holds
 * the slot from its first instant. `before` is the job as the claim's condition requires it to be
 * (a consistent read): the metrics need the time it started waiting.
 */
async function beginInSlot(
  ctx: StoreContext,
  key: ItemKey,
  before: JobItem,
  when: Condition,
  change: JobChange,
  slot: OpenSlot,
  now: number,
): Promise<Started> {
  const runId = change.set?.run_id;
  if (typeof runId !== 'string') throw new Error('a run start names its run');
  const done = await ctx.db.transact([updateOf(key, when, change), ...takeSlot(slot, runId, key, now)]);
  if (done.ok) {
    const started = applied(before, change);
    ctx.metrics.claimed(before, started, now);
    return { item: started };
  }
  // Only the job's condition failed: another claimer won the job, and the slot is still open.
  const [job, ...slotParts] = done.refusals;
  return job && !slotParts.some(Boolean) ? { keepSlot: slot, conflict: true } : { conflict: true };
}

/**
 * Writes the start of a run and records its claim. The write returns the job as it was:
 * `QueueWait` needs the `updated_at` (when the job started waiting) that the start overwrites.
 */
async function begin(
  ctx: StoreContext,
  key: ItemKey,
  when: Condition,
  change: JobChange,
  now: number,
): Promise<Started> {
  const written = await ctx.db.update<JobItem>(key, when, change, 'old');
  if (!written.ok) return { conflict: true };
  const started = applied(written.item, change);
  ctx.metrics.claimed(written.item, started, now);
  return { item: started };
}

function sample<T>(items: readonly T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}
