/**
 * The maintenance pass, run on a schedule (EventBridge every minute on AWS, a 1 s timer locally): it
 * fires the cron schedules that are due (each fire time once, a managed job then hinted), ends runs whose lease has passed (stopping their Fargate task, if any), re-sends the dispatch hint
 * of managed jobs whose message was lost, reconciles the SQS dead-letter queue with the dead jobs in
 * DynamoDB, and reports each queue's backlog: the `PendingJobs`, `OldestPendingAge`, `RunningJobs`
 * and `DeadJobs` gauges. Gauges, not counters of events, so "every worker died" reads as a rising
 * backlog rather than as no data.
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
  /** Where the backlog gauges go. @default nowhere */
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
  /** Jobs due and waiting in every queue, as the `PendingJobs` gauge reports them; absent unmeasured. */
  pendingJobs?: number;
  /** The largest `OldestPendingAge` of any queue, ms; absent unmeasured. */
  oldestPendingMs?: number;
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
  const gauges = await reportBacklog(store, deps.metrics ?? noMetrics);
  if (scheduleFault) throw scheduleFault;
  if (deadLetterFault) throw deadLetterFault;
  const fired = fires.fired.length;
  const fireSkipped = fires.skipped;
  const counts = { ...result, fired, fireSkipped, redispatched, deadLettered, deadLettersCleared, stopped };
  const changed = [result.requeued, result.dead, fired, fireSkipped, redispatched, deadLettered];
  if (changed.some(Boolean) || deadLettersCleared || stopped) {
    log('info', 'sweep', { ...counts, ...gauges });
  }
  return { ...counts, ...gauges };
}

/**
 * Records the backlog gauges of every queue, zeros included (so `DeadJobs` returns to 0 once the
 * last dead job is requeued or deleted), counted from DynamoDB with bounded reads (`backlog.ts`).
 * A paused queue holds its jobs on purpose: its `OldestPendingAge` is 0, so it trips no alarm.
 *
 * With metrics going nowhere (`noMetrics`: the local stack's passes but one a minute, as it runs
 * every second) only the dead jobs are counted, for the result: the backlog read of a deep queue
 * takes about a second on DynamoDB Local.
 */
async function reportBacklog(
  store: JobStore,
  metrics: JobMetrics,
): Promise<Pick<MaintenanceResult, 'deadJobs' | 'pendingJobs' | 'oldestPendingMs'>> {
  const queues = await store.listQueues();
  if (metrics === noMetrics) {
    const dead = await Promise.all(queues.map(({ queue }) => store.countDead(queue)));
    return { deadJobs: dead.reduce((sum, n) => sum + n, 0) };
  }
  const totals = { deadJobs: 0, pendingJobs: 0, oldestPendingMs: 0 };
  for (const { queue, paused } of queues) {
    const backlog = await store.backlog(queue);
    const oldestPendingMs = paused ? 0 : backlog.oldestPendingMs;
    metrics.record(queue, {
      [JobMetric.PENDING_JOBS]: backlog.pending,
      [JobMetric.OLDEST_PENDING_AGE]: oldestPendingMs,
      [JobMetric.RUNNING_JOBS]: backlog.running,
      [JobMetric.DEAD_JOBS]: backlog.dead,
    });
    if (!backlog.complete) log('info', 'backlog gauges read the head of the queue only', { queue });
    totals.deadJobs += backlog.dead;
    totals.pendingJobs += backlog.pending;
    totals.oldestPendingMs = Math.max(totals.oldestPendingMs, oldestPendingMs);
  }
  return totals;
}
