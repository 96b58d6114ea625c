/**
 * Per-queue concurrency limits (`max_running`): a queue with `max_running = M` has M slot items,
 * and a run starts only by taking one, in the same transaction as its claim.
 *
 * A slot names the run holding it (`run_id`, and its job's key). Nothing gives it back when the run
 * ends: complete, fail, expiry, cancel and release stay single writes of the job. A slot is free
 * when it was never held, or when the run it names is over, which a claimer sees from the job
 * and the takeover transaction checks (`runOver`) atomically with taking it (`slotHeldBy`). So a
 * slot is held exactly while its run lives, and a crash anywhere leaves nothing to repair: there is
 * no counter to drift, and no decrement to lose or repeat (docs/design.md, "Concurrency limits").
 */

import { runOver, slotHeldBy, slotUnheld } from './conditions.ts';
import type { StoreContext } from './context.ts';
import { checkOf, putOf, type TransactWrite } from './dynamo.ts';
import type { JobItem } from './item.ts';
import { type ItemKey, slotKey, slotsPk } from './keys.ts';

/** The most concurrent runs an operator may allow a queue: one query reads the slots. */
export const MAX_RUNNING = 1_000;

/** How long a claim refused for want of a slot is told to wait: runs end at their own pace. */
export const SLOT_RETRY_MS = 1_000;

type SlotItem = ItemKey & {
  readonly run_id?: string;
  readonly job_pk?: string;
  readonly job_sk?: string;
  readonly held_at?: number;
};

/** A slot a claim may take: a free one, or one held by a run that is over. */
export interface OpenSlot {
  readonly key: ItemKey;
  /** The ended run that still holds it, and its job. */
  readonly stale?: { readonly runId: string; readonly job: ItemKey };
}

/**
 * The open slots among a queue's first `max`: free ones first, then those whose run has ended
 * (read from the jobs, eventually consistent: the takeover's `runOver` has the last word). Slots of
 * `busyJob` are left out: a transaction may not check the job it claims.
 */
export async function openSlots(
  ctx: StoreContext,
  queue: string,
  max: number,
  busyJob?: string,
): Promise<OpenSlot[]> {
  const held = new Map<string, SlotItem>();
  for (const item of await ctx.db.queryAll<SlotItem>({ partition: slotsPk(queue) })) {
    if (item.run_id) held.set(item.sk, item);
  }
  const keys = Array.from({ length: max }, (_, i) => slotKey(queue, i));
  const free: OpenSlot[] = keys.filter((key) => !held.has(key.sk)).map((key) => ({ key }));
  const holders = keys.flatMap((key) => {
    const slot = held.get(key.sk);
    return slot?.run_id && slot.job_pk && slot.job_sk && slot.job_pk !== busyJob
      ? [{ key, runId: slot.run_id, job: { pk: slot.job_pk, sk: slot.job_sk } }]
      : [];
  });
  if (!holders.length) return free;
  const jobs = await ctx.db.batchGet<JobItem>(holders.map((h) => h.job));
  const ended = holders.filter(({ job, runId }) => {
    const found = jobs.get(job.pk);
    return !found || found.run_id !== runId || found.status !== 'running';
  });
  return [...free, ...ended.map(({ key, runId, job }) => ({ key, stale: { runId, job } }))];
}

/** The writes that take `slot` for the run `runId` of `job`, beside the claim's own write. */
export function takeSlot(slot: OpenSlot, runId: string, job: ItemKey, now: number): TransactWrite[] {
  const item: SlotItem = { ...slot.key, run_id: runId, job_pk: job.pk, job_sk: job.sk, held_at: now };
  if (!slot.stale) return [putOf(item, slotUnheld)];
  return [putOf(item, slotHeldBy(slot.stale.runId)), checkOf(slot.stale.job, runOver(slot.stale.runId))];
}
