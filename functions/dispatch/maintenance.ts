/**
 * The maintenance pass, run on a schedule (EventBridge every minute on AWS, a 1 s timer locally): it
 * fires the cron schedules that are due (each fire time once, a managed job then hinted), ends runs whose lease has passed (stopping their Fargate task, if any), re-sends the dispatch hint
 * of managed jobs whose message was lost, reconciles the SQS dead-letter queue with the dead jobs in
 * DynamoDB, and reports how many jobs are dead in each queue (the `DeadJobs` gauge).
 */
import { describeError, log } from '../core/log.ts';
import { JobMetric } from '../core/metric-names.ts';
import { type JobMetrics, noMetrics } from '../core/metrics.ts';
import { JobService } from '../jobs/service.ts';
import type { FireReport, JobStore, SweepResult } from '../jobs/store.ts';
import { reconcileDeadLetters } from './dead-letters.ts';
import type { TaskStopper } from './executors.ts';
import type { DispatchQueue } from './queue.ts';
import { redispatchLost } from './repair.ts';

export interface MaintenanceDeps {
  readonly store: JobStore;
  readonly dispatch?: DispatchQueue;
  readonly stopTask?: TaskStopper;
  /** Where the `DeadJobs` gauge goes. @default nowhere */
  readonly metrics?: JobMetrics;
  readonly now?: () => number;
}

export type MaintenanceResult = SweepResult & {
  /** Jobs enqueued by due schedules. */
  fired: number;
  /** Due fires skipped: `overlap: skip` with the previous job live. */
  fireSkipped: number;
  redispatched: number;
  /** Jobs made dead because SQS dead-lettered their dispatch hint. */
  deadLettered: number;
  /** Dead-letter messages removed because their job was dealt with. */
  deadLettersCleared: number;
  /** Dead jobs in every queue after this pass, as the `DeadJobs` gauge reports them. */
  deadJobs: number;
  stopped: number;
};

export async function maintain(deps: MaintenanceDeps): Promise<MaintenanceResult> {
  const { store, dispatch, stopTask } = deps;
  const clock = deps.now ?? Date.now;
  // First, so a fire is as close to its time as the pass's period allows; a fault is reported
  // after the rest of the pass, which must not stop because of it.
  let fires: FireReport = { fired: [], skipped: 0, lost: 0, failed: 0 };
  let scheduleFault: unknown;
  try {
    fires = await new JobService(store, dispatch, clock).fireDueSchedules(clock());
  } catch (error) {
    scheduleFault = error;
  }
  const result = await store.sweep();
  // A run whose lease expired may be hung with its command still going: stop its task.
  let stopped = 0;
  for (const task of result.orphanedTasks) {
    if (!stopTask) break;
    try {
      await stopTask(task, 'the run’s lease expired');
      stopped++;
    } catch (error) {
      log('warn', 'could not stop the task of an expired run', { task, ...describeError(error) });
    }
  }
  // Runs the sweep just put back are owed a hint at once (their dispatch key says so).
  const now = clock();
  const redispatched = dispatch ? await redispatchLost(store, dispatch, now) : 0;
  let deadLettered = 0;
  let deadLettersCleared = 0;
  let deadLetterFault: unknown;
  try {
    if (dispatch) {
      const scan = await reconcileDeadLetters(store, dispatch.client, dispatch.deadLetterUrl);
      deadLettered = scan.marked;
      deadLettersCleared = scan.deleted;
    }
  } catch (error) {
    deadLetterFault = error; // reported after the gauge, which must not go stale because of it
  }
  const deadJobs = await reportDeadJobs(store, deps.metrics ?? noMetrics);
  if (scheduleFault) throw scheduleFault;
  if (deadLetterFault) throw deadLetterFault;
  const fired = fires.fired.length;
  const fireSkipped = fires.skipped;
  const counts = { ...result, fired, fireSkipped, redispatched, deadLettered, deadLettersCleared, stopped };
  const changed = [result.requeued, result.dead, fired, fireSkipped, redispatched, deadLettered];
  if (changed.some(Boolean) || deadLettersCleared || stopped) {
    log('info', 'sweep', { ...counts, deadJobs });
  }
  return { ...counts, deadJobs };
}

/**
 * Records the `DeadJobs` gauge of every queue, zeros included (so it returns to 0 once the last
 * dead job is requeued or deleted), counted from DynamoDB. Returns the total.
 */
async function reportDeadJobs(store: JobStore, metrics: JobMetrics): Promise<number> {
  let total = 0;
  for (const { queue } of await store.listQueues()) {
    const dead = await store.countDead(queue);
    metrics.record(queue, { [JobMetric.DEAD_JOBS]: dead });
    total += dead;
  }
  return total;
}
