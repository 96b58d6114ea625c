/**
 * Names of Relay's CloudWatch metrics, shared by the functions that emit them (as Embedded Metric
 * Format log lines) and the dashboard and alarms that read them (`lib/`).
 *
 * Every metric carries the `relay` dimension (which Relay: `<stack name>/<construct path>`, from
 * `RELAY_NAME`), so two Relays in one account never mix their series or trip each other's alarms;
 * the queues in `RELAY_METRIC_QUEUES` also get a `queue` dimension (see `functions/core/metrics.ts`).
 */
export const METRIC_NAMESPACE = 'Relay';
export const QUEUE_DIMENSION = 'queue';
export const RELAY_DIMENSION = 'relay';

export const JobMetric = {
  /** A job was written (enqueue, batch enqueue, chained child). Count. */
  ENQUEUED: 'Enqueued',
  /** A run started: a worker or the dispatcher claimed the job. Count. */
  CLAIMED: 'Claimed',
  /** A run completed. Count. */
  COMPLETED: 'Completed',
  /** A run failed or its lease expired, whatever happens next. Count. */
  FAILED: 'Failed',
  /** A failed run left retries: the job waits for its next run. Count. */
  RETRIED: 'Retried',
  /** A job exhausted its retries (or was failed permanently) and is dead. Count. */
  DEAD: 'Dead',
  /** A job was cancelled. Count. */
  CANCELLED: 'Cancelled',
  /** From the moment a job became runnable (`run_at`) to its claim. Milliseconds. */
  QUEUE_WAIT: 'QueueWait',
  /** From claim to the run's end (complete or fail). Milliseconds. */
  RUN_DURATION: 'RunDuration',
  /**
   * Jobs that are dead now, counted from DynamoDB by every maintenance pass, per queue and across
   * queues. A gauge (read its Maximum): it returns to 0 once every dead job was requeued or deleted.
   */
  DEAD_JOBS: 'DeadJobs',
  /**
   * Claim writes that lost their condition: another worker or dispatcher started the job first, or
   * it changed between the read and the write. Count. A few are the price of concurrent claimers;
   * many say the claimers of a queue collide on its head.
   */
  CLAIM_CONFLICTS: 'ClaimConflicts',
  /**
   * From a dispatch hint being sent (or its job being due, if later) to the dispatcher starting
   * the run. Milliseconds. Managed jobs only.
   */
  DISPATCH_LAG: 'DispatchLag',
  /**
   * Gauge of every maintenance pass: jobs of the queue due now and waiting for a claim (as `relay
   * stats` counts `pending`), read from at most `BACKLOG_SCAN_LIMIT` index entries per partition.
   */
  PENDING_JOBS: 'PendingJobs',
  /**
   * Gauge of every maintenance pass: how long the longest-waiting due job of the queue has waited
   * since it became due. 0 for a paused queue, which holds its jobs on purpose. Milliseconds.
   */
  OLDEST_PENDING_AGE: 'OldestPendingAge',
  /** Gauge of every maintenance pass: runs of the queue holding a lease, expired or not. */
  RUNNING_JOBS: 'RunningJobs',
  /** A runner's Fargate task stopped before its run ended (out of memory, image pull, killed). Count. */
  TASK_FAILED: 'TaskFailed',
} as const;

export type JobMetricName = (typeof JobMetric)[keyof typeof JobMetric];
