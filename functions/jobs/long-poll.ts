/**
 * Long-poll claims: a claim that finds nothing waits up to `waitMs` for a job and answers as soon
 * as it claimed one.
 *
 * While it waits it does not hammer DynamoDB: an enqueue in the same process wakes it at once and
 * hands it the jobs it wrote, which it claims without reading the index (`arrivals.ts`). Otherwise
 * it claims again after 1 s and then every 2 s, so a job enqueued through another process (on AWS,
 * always: a Lambda instance serves one request at a time) is found within 2 s. An idle wait of 20 s
 * therefore makes 12 claim attempts (docs/design.md, "Long-poll claims").
 */
import { type ArrivedJob, nextArrival } from './arrivals.ts';
import { type Claimed, claim } from './claim.ts';
import type { StoreContext } from './context.ts';

/** The longest wait a claim may ask for: well under API Gateway's 30 s integration timeout. */
export const MAX_WAIT_SECONDS = 20;
/** The first re-query of an idle long poll, and the longest gap between two (doubling up to it). */
export const FIRST_RECHECK_MS = 1_000;
export const MAX_RECHECK_MS = 2_000;

/**
 * Claims up to `wanted` jobs (for `worker`, if named), waiting up to `waitMs` (wall time) for one
 * to become claimable. A claim refused by the queue's rate or concurrency limit waits out the
 * limit's wait when it ends within `waitMs`, and otherwise answers with it.
 */
export async function claimWaiting(
  ctx: StoreContext,
  queue: string,
  wanted: number,
  waitMs: number,
  worker?: string,
): Promise<Claimed> {
  const deadline = performance.now() + waitMs;
  let recheckMs = FIRST_RECHECK_MS;
  let arrived: readonly ArrivedJob[] = [];
  for (;;) {
    // Registered before the claim reads, so an enqueue between that read and the wait still wakes it.
    const arrival = nextArrival(ctx.config.tableName, queue, wanted);
    let got = await claim(ctx, queue, wanted, worker, arrived);
    // The jobs it was handed went to another claimer: the queue may hold others, so read it.
    if (arrived.length && !got.jobs.length && got.retryAfterMs === undefined) {
      got = await claim(ctx, queue, wanted, worker);
    }
    arrived = [];
    const left = deadline - performance.now();
    if (got.jobs.length || left <= 0 || (got.retryAfterMs ?? 0) >= left) {
      arrival.cancel(got.jobs.map((job) => job.id));
      return got;
    }
    if (got.retryAfterMs !== undefined) {
      arrival.cancel();
      await sleep(got.retryAfterMs);
      continue;
    }
    arrived = await arrival.until(Math.min(recheckMs, left));
    recheckMs = Math.min(recheckMs * 2, MAX_RECHECK_MS);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
