/**
 * Write, then hint: the one place that knows a managed job owes a dispatch hint after a write that
 * makes it waiting (submitted, retried, requeued, failed with a retry left, chained as a child).
 * The API, the runner and the maintenance pass call it; they do not decide when a hint is due.
 *
 * The write is the truth; the hint only hastens the dispatch. A hint that cannot be sent is logged
 * and left to the maintenance pass's lost-dispatch repair, never surfaced as a failure of the write.
 */
import { mapLimit } from '../core/concurrency.ts';
import { describeError, log } from '../core/log.ts';
import type { BulkReport, BulkRequest } from './bulk.ts';
import type { Job, JobKind, NewJob } from './model.ts';
import type { FireReport, JobStore, QueueState, RunOutcome } from './store.ts';

/** Where hints go: the SQS dispatch queue (functions/dispatch/queue.ts) in production. */
export interface HintSender {
  dispatch(job: Pick<Job, 'queue' | 'id' | 'run_at'>, now?: number): Promise<void>;
}

/**
 * Hints a resume sends at once, 16 at a time, so the request stays well within API Gateway's 30 s.
 * More due managed jobs than this are overdue for the lost-dispatch repair after its grace, which
 * re-sends as many per maintenance pass.
 */
const RESUME_HINTS = 100;

export class JobService {
  constructor(
    readonly store: JobStore,
    /** Absent where managed jobs are not enabled: nothing is hinted then. */
    readonly hints?: HintSender,
    private readonly now: () => number = Date.now,
  ) {}

  /** Enqueues a managed job (its id must be free), then hints it. */
  async submitManaged(job: NewJob): Promise<Job> {
    const { job: written } = await this.store.enqueue(job, 'unique');
    await this.hint(written);
    return written;
  }

  /** Runs a dead, cancelled or failed job of `kind` again now; a managed one is hinted. */
  async retry(queue: string, id: string, kind: JobKind): Promise<Job> {
    return this.hinted(await this.store.retry(queue, id, kind));
  }

  /** Puts a dead job of `kind` back in its queue; a managed one is hinted. */
  async requeueDead(queue: string, id: string, kind: JobKind): Promise<Job> {
    return this.hinted(await this.store.requeueDead(queue, id, kind));
  }

  /** Requeues up to `limit` dead jobs of `kind`, hinting each managed one as it is requeued. */
  requeueAllDead(queue: string, opts: { limit?: number; kind: JobKind }) {
    return this.store.requeueAllDead(queue, { ...opts, onRequeued: (job) => this.hint(job) });
  }

  /** A bulk action's page; each managed job it retries is hinted as it is retried. */
  bulk(request: BulkRequest): Promise<BulkReport> {
    if (request.action !== 'retry') return this.store.bulk(request);
    const onChanged = async (job: Job) => {
      await request.onChanged?.(job);
      await this.hint(job);
    };
    return this.store.bulk({ ...request, onChanged });
  }

  /** Triggers a schedule of `kind` now; a managed job is hinted. */
  async triggerSchedule(name: string, kind: JobKind): Promise<Job> {
    return this.hinted(await this.store.triggerSchedule(name, kind));
  }

  /** Fires the schedules due at `now`, then hints each managed job fired. */
  async fireDueSchedules(now: number): Promise<FireReport> {
    const report = await this.store.fireDueSchedules(now);
    for (const job of report.fired) await this.hint(job);
    return report;
  }

  /**
   * Resumes a paused queue, then re-sends the hints of its due managed jobs: a hint that came
   * while it was paused was dropped by the dispatcher. Each is marked first, as the repair does,
   * so a send that fails is retried by the repair after its grace.
   */
  async resumeQueue(queue: string): Promise<QueueState> {
    const resumed = await this.store.resumeQueue(queue);
    if (!this.hints) return resumed;
    const now = this.now();
    const owed = await this.store.dueUndispatched(now, 0, RESUME_HINTS, queue);
    await mapLimit(owed, 16, async (job) => {
      if (await this.store.markRedispatched(job.queue, job.id, now)) await this.hint(job);
    });
    return resumed;
  }

  /**
   * After a run's end is durable: a retry waits for its backoff (the hint is delayed until then),
   * and a managed child waits for its first run. A dead job needs no hint: DynamoDB says it is dead.
   */
  async afterRunEnd(outcome: RunOutcome): Promise<void> {
    if (outcome.job.status === 'failed') await this.hint(outcome.job);
    if (outcome.child) await this.hint(outcome.child);
  }

  private async hinted(job: Job): Promise<Job> {
    await this.hint(job);
    return job;
  }

  /** Sends a managed job's hint; a pull job has none to send. */
  private async hint(job: Job): Promise<void> {
    if (job.type !== 'SHELL' || !this.hints) return;
    try {
      await this.hints.dispatch(job, this.now());
    } catch (error) {
      log('warn', 'could not send a dispatch hint after a write; the maintenance pass repairs it', {
        queue: job.queue,
        job_id: job.id,
        ...describeError(error),
      });
    }
  }
}
