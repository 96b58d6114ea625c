/**
 * Lost-dispatch repair, run by the maintenance sweep: managed jobs that are due but still waiting
 * a grace period after their dispatch should have run them get their hint sent again. DynamoDB is
 * the truth, so a dropped SQS message costs latency, never the job; a duplicate is harmless.
 */
import { describeError, log } from '../core/log.ts';
import type { JobStore } from '../jobs/store.ts';
import type { DispatchQueue } from './queue.ts';

/** How long a due managed job may wait for its dispatch before the hint is sent again. */
export const DISPATCH_GRACE_MS = 30_000;

export async function redispatchLost(
  store: JobStore,
  dispatch: DispatchQueue,
  now: number,
  graceMs: number = DISPATCH_GRACE_MS,
): Promise<number> {
  const lost = await store.dueUndispatched(now, graceMs, 100);
  let sent = 0;
  for (const job of lost) {
    // Record first: if the send then fails, the next sweep after the grace tries again.
    if (!(await store.markRedispatched(job.queue, job.id, now))) continue;
    try {
      await dispatch.dispatch(job, now);
      sent++;
    } catch (error) {
      log('warn', 'could not re-send a dispatch hint; the next sweep retries', {
        queue: job.queue,
        job_id: job.id,
        ...describeError(error),
      });
    }
  }
  return sent;
}
