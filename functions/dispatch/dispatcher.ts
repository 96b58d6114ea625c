/**
 * The dispatcher: the SQS handler (Lambda event source with `ReportBatchItemFailures`, or the local
 * poller) that turns dispatch hints into runs.
 *
 * For each message it claims the job by id with the store's conditional write. A message whose
 * job is not claimable (already running, finished, unknown) is a stale or duplicate hint: it is
 * acknowledged and dropped; so is the hint of a job whose queue is paused, which resuming the queue
 * sends again. One that came before its job is due is sent on; so is one whose queue is over its
 * rate limit, delayed until a token is free. A hint an operator
 * redrove from the dead-letter queue (`StartMessageMoveTask` or the console) runs its job again
 * with a fresh retry budget when the job is dead because its dispatch was dead-lettered
 * (`dead_reason: 'dispatch_failed'`). A hint for a job dead for another reason (its runs failed) is only late, and
 * is dropped. Infrastructure errors (throttling) fail only that message, which SQS redelivers.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError, log } from '../core/log.ts';
import { type JobMetrics, noMetrics } from '../core/metrics.ts';
import { InvalidTransitionError, JobNotFoundError } from '../jobs/errors.ts';
import { JobMetricsRecorder } from '../jobs/job-metrics.ts';
import type { Job } from '../jobs/model.ts';
import type { JobStore } from '../jobs/store.ts';
import { type DispatchQueue, dispatchMessage } from './queue.ts';

/** Starts a claimed run somewhere: inline, as a child process, or as a Fargate task. */
export type Executor = (job: Job) => Promise<void>;

export interface DispatcherDeps {
  readonly store: JobStore;
  readonly execute: Executor;
  /** Re-sends the hint of a job that is not due yet (SQS delays at most 15 minutes). */
  readonly dispatch?: DispatchQueue;
  readonly now?: () => number;
  /** Where `DispatchLag` goes: the store's sink. @default noMetrics */
  readonly metrics?: JobMetrics;
}

export type DispatchOutcome = 'started' | 'stale' | 'requeued' | 'not-due' | 'limited';

/** Handles one dispatch message; throws only for faults worth a redelivery. */
export async function dispatchOne(record: SQSRecord, deps: DispatcherDeps): Promise<DispatchOutcome> {
  const pickedUp = (deps.now ?? Date.now)();
  const ref = dispatchMessage.parse(JSON.parse(record.body));
  const first = await deps.store.claimByIdLimited(ref.queue, ref.id);
  const now = (deps.now ?? Date.now)();
  if (first.retryAfterMs !== undefined) {
    // Over the queue's rate limit: the job stays pending and its hint comes back when a token is
    // free. Without a queue to send it on, the lost-dispatch repair sends it.
    await deps.dispatch?.dispatch({ queue: ref.queue, id: ref.id, run_at: now + first.retryAfterMs }, now);
    return 'limited';
  }
  let job = first.job;
  let outcome: DispatchOutcome = 'started';
  if (!job) {
    const current = await deps.store.get(ref.queue, ref.id);
    if (current && (current.status === 'pending' || current.status === 'failed') && current.run_at > now) {
      // Due later than SQS could delay the hint: send it on for the rest of the wait.
      await deps.dispatch?.dispatch(current, now);
      return 'not-due';
    }
    // Only a job dead because SQS gave up on its dispatch is revived: this is that hint, redriven.
    if (current?.status !== 'dead' || current.type !== 'SHELL' || current.dead_reason !== 'dispatch_failed') {
      return 'stale';
    }
    try {
      await deps.store.requeueDead(ref.queue, ref.id, 'managed');
    } catch (error) {
      // Another copy of the redriven message got there first.
      if (error instanceof InvalidTransitionError || error instanceof JobNotFoundError) return 'stale';
      throw error;
    }
    job = await deps.store.claimById(ref.queue, ref.id);
    if (!job) return 'requeued'; // not due yet, or a concurrent claim won: it will run either way
    outcome = 'requeued';
  }
  const sentAt = Number(record.attributes.SentTimestamp);
  if (Number.isFinite(sentAt))
    new JobMetricsRecorder(deps.metrics ?? noMetrics).dispatched(job, sentAt, pickedUp);
  try {
    await deps.execute(job);
  } catch (error) {
    // The run never got going: give it back (no retry spent) so the redelivered message claims it
    // again, instead of finding it running and leaving it to its lease.
    await deps.store.releaseRun(job.queue, job.id, String(job.run_id), 'could not start the run');
    throw error;
  }
  return outcome;
}

/** The SQS handler: every message on its own, failures reported per message. */
export function createDispatcher(deps: DispatcherDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const results = await Promise.allSettled(event.Records.map((record) => dispatchOne(record, deps)));
    const batchItemFailures = results.flatMap((result, i) => {
      if (result.status === 'fulfilled') return [];
      const record = event.Records[i] as SQSRecord;
      log('warn', 'dispatch failed; SQS will redeliver the message', {
        message_id: record.messageId,
        receive_count: record.attributes.ApproximateReceiveCount,
        ...describeError(result.reason),
      });
      return [{ itemIdentifier: record.messageId }];
    });
    return { batchItemFailures };
  };
}
