/**
 * The metrics of each job transition, recorded by the store after its write succeeded.
 *
 * Being the one place every handler, the dispatcher, the runner and the sweep go through, the store
 * records metrics itself, and only after the write succeeded: a failed condition, a stale run id or
 * a duplicate enqueue records nothing. What each transition counts:
 * - `Enqueued`: every job written — enqueue (also `replace` of a live job), batches (one record per
 *   queue), `reschedule`, the jobs of `replaceRun`, and the `on_success` / `on_failure` child of a
 *   run's end. An operator's retry or requeue of a dead job is not an enqueue, nor a `Retried` (which
 *   counts automatic retries of failed runs, so `Failed` = `Retried` + `Dead` of runs): it counts
 *   nothing, and its next claim counts as usual.
 * - `Claimed` + `QueueWait`: every run started, by a pull claim (also reclaiming an expired lease)
 *   or a dispatch (`claimById`).
 * - `Completed` + `RunDuration`: a run ended without failure — `complete`, `completeRun`, and a run
 *   that `reschedule` or `replaceRun` ended.
 * - `Failed` + `Retried` or `Dead` + `RunDuration`: a run failed (`fail`, `failRun`), its lease
 *   expired (sweep or a claimer), or `markDead` ended it. `markDead` of a waiting job has no run:
 *   `Dead` only.
 * - `Cancelled`: `cancel`. A cancelled run records no end of its own.
 * - `ClaimConflicts`: claim writes (pull claims, claims by id, reclaims of expired leases) whose
 *   condition failed because another claimer started the job first or it changed meanwhile; one
 *   record per round of writes. This one counts a write that did not happen.
 * - `DispatchLag`: recorded by the dispatcher (not the store) for each run it starts from a hint.
 * A released run (`releaseRun`: it never started) and deletes count nothing.
 */
import { describeError, log } from '../core/log.ts';
import { recordInBatch } from '../core/metric-batch.ts';
import { JobMetric } from '../core/metric-names.ts';
import type { JobMetrics, MetricContext, MetricValues } from '../core/metrics.ts';
import type { JobItem, JobRef } from './item.ts';
import type { Job } from './model.ts';

/** What the end of a run counts, by how it ended. */
const RUN_ENDS = {
  completed: { [JobMetric.COMPLETED]: 1 },
  retried: { [JobMetric.FAILED]: 1, [JobMetric.RETRIED]: 1 },
  dead: { [JobMetric.FAILED]: 1, [JobMetric.DEAD]: 1 },
} satisfies Record<string, MetricValues>;

export type RunEnd = keyof typeof RUN_ENDS;

export class JobMetricsRecorder {
  constructor(
    private readonly sink: JobMetrics,
    /** Told of each queue's enqueued jobs too (items, where the enqueue has them): it wakes the claims waiting on the queue. */
    private readonly onEnqueued: (queue: string, written: readonly JobRef[]) => void = () => {},
  ) {}

  /** `Enqueued` per queue; a record that counts one job names it. */
  enqueued(jobs: readonly JobRef[]): void {
    const byQueue = new Map<string, JobRef[]>();
    for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    for (const [queue, written] of byQueue) {
      this.onEnqueued(queue, written);
      const only = written.length === 1 ? written[0] : undefined;
      this.record(queue, { [JobMetric.ENQUEUED]: written.length }, only && { job_id: only.id });
    }
  }

  /** `Claimed` and `QueueWait` of a run started at `now`; `before` is the job as the claim found it. */
  claimed(before: JobItem, started: JobItem, now: number): void {
    this.record(
      started.queue,
      { [JobMetric.CLAIMED]: 1, [JobMetric.QUEUE_WAIT]: Math.max(0, now - claimableSince(before)) },
      runContext(started),
    );
  }

  /** The end of the run `item` holds, at `endedAt`; `RunDuration` counts from its claim. */
  runEnded(item: JobItem, end: RunEnd, endedAt: number): void {
    const duration = item.claimed_at === undefined ? undefined : Math.max(0, endedAt - item.claimed_at);
    this.record(item.queue, { ...RUN_ENDS[end], [JobMetric.RUN_DURATION]: duration }, runContext(item));
  }

  /** `Dead` of a job that had no run to end. */
  died(job: JobRef): void {
    this.record(job.queue, { [JobMetric.DEAD]: 1 }, { job_id: job.id });
  }

  /** `ClaimConflicts`: claim writes of `queue` that lost their condition to another claimer. */
  claimConflicts(queue: string, count: number): void {
    this.record(queue, { [JobMetric.CLAIM_CONFLICTS]: count });
  }

  /**
   * `DispatchLag` of a run the dispatcher started at `pickedUp`, from a hint sent at `sentAt`:
   * measured from the later of the send and the job's `run_at` (a hint for a later job is sent
   * delayed, and is not late while it waits for its job to be due).
   */
  dispatched(job: Job, sentAt: number, pickedUp: number): void {
    const lag = Math.max(0, pickedUp - Math.max(sentAt, job.run_at));
    this.record(
      job.queue,
      { [JobMetric.DISPATCH_LAG]: lag },
      { job_id: job.id, run_id: job.run_id ?? undefined },
    );
  }

  cancelled(job: JobRef): void {
    this.record(job.queue, { [JobMetric.CANCELLED]: 1 }, { job_id: job.id });
  }

  /**
   * Hands a written transition's metrics to the sink, at once or at the end of the invocation's
   * batch (`withMetricBatch`). A failing sink is logged: the write stands.
   */
  private record(queue: string, values: MetricValues, context?: MetricContext): void {
    try {
      recordInBatch(this.sink, queue, values, context);
    } catch (error) {
      log('warn', 'job metrics were not recorded', { queue, ...context, ...describeError(error) });
    }
  }
}

/** The correlation keys of a metric record about the run `item` holds. */
const runContext = (item: JobItem): MetricContext => ({
  job_id: item.id,
  run_id: item.run_id,
  attempt: item.attempts,
});

/**
 * When a job became claimable: its `run_at`, unless it went back to waiting later with its `run_at`
 * kept (an expired run the sweep requeued keeps its place in line) or was enqueued with a past
 * `run_at` — a waiting job's `updated_at` is when it started waiting. A running job being reclaimed
 * became claimable when its lease expired.
 */
function claimableSince(item: JobItem): number {
  if (item.status === 'running') return item.lease_expires_at ?? item.updated_at;
  return Math.max(item.run_at, item.updated_at);
}
