/**
 * The job store: every job transition as one conditional DynamoDB write.
 *
 * DynamoDB is the only source of truth. Each transition changes a job with a single
 * `PutItem`/`UpdateItem`/`DeleteItem` (or one `TransactWriteItems`) whose condition names the prior
 * state it expects, and for running jobs the run's fencing token (`run_id`). Where a transition
 * reads first (lazy lease expiry, explicit failure), the write is still conditioned on what was
 * read, so a concurrent change makes it fail instead of being overwritten.
 *
 * `JobStore` is a facade: each method hands its call to the module that owns that part of the
 * lifecycle (docs/design.md, "Job store modules"), over one shared context. It stays so that every
 * caller gets the whole store as one dependency (`storeFromEnv`, tests, the bench), and a caller
 * needs no change when a module is split or moved.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoreConfig } from '../core/config.ts';
import { type JobMetrics, noMetrics } from '../core/metrics.ts';
import * as bulks from './bulk.ts';
import * as claims from './claim.ts';
import { type StoreContext, storeContext } from './context.ts';
import * as dispatchRepair from './dispatch-repair.ts';
import type { EnqueueMode, EnqueueResult } from './enqueue.ts';
import * as enqueues from './enqueue.ts';
import * as history from './history.ts';
import type { AppendLogsResult } from './logs.ts';
import * as logs from './logs.ts';
import type { Job, JobKind, LogEntry, NewJob, RunRecord } from './model.ts';
import * as operator from './operator.ts';
import type { QueueInfo, QueueState, RateLimitChange } from './queues.ts';
import type { Page, QueueStats } from './reads.ts';
import * as reads from './reads.ts';
import * as relayCompat from './relay-compat.ts';
import type { SweepResult } from './rescuer.ts';
import * as rescuer from './rescuer.ts';
import type { RunOutcome } from './runs.ts';
import * as runs from './runs.ts';
import type { NewSchedule, Schedule } from './schedule-model.ts';
import type { FireReport } from './schedules.ts';
import * as schedules from './schedules.ts';

export type { ById, Claimed } from './claim.ts';
export type { EnqueueMode, EnqueueResult } from './enqueue.ts';
export type { RunOutcomeName, RunRecord } from './history.ts';
export type { AppendLogsResult } from './logs.ts';
export type { QueueInfo, QueueSettings, QueueState, RateLimitChange } from './queues.ts';
export type { Page, QueueStats } from './reads.ts';
export type { SweepResult } from './rescuer.ts';
export type { RunOutcome } from './runs.ts';
export type { NewSchedule, Schedule } from './schedule-model.ts';
export type { FireReport } from './schedules.ts';

/**
 * What a facade method takes: its module function's parameters after the store context. Methods
 * that pass their arguments on unchanged use it rather than restate a long parameter list.
 */
type Args<F> = F extends (ctx: StoreContext, ...args: infer A) => unknown ? A : never;

export class JobStore {
  private readonly ctx: StoreContext;

  constructor(
    db: DynamoDBDocumentClient,
    config: StoreConfig,
    clock: () => number = Date.now,
    metrics: JobMetrics = noMetrics,
  ) {
    this.ctx = storeContext(db, config, clock, metrics);
  }

  // Queues (queues.ts)

  /** The queue's layout, registering the queue on first use when `create` is set. */
  queueInfo(queue: string, create = false): Promise<QueueInfo | undefined> {
    return this.ctx.queues.info(queue, create);
  }

  /** Every registered queue with its settings. */
  listQueues(): Promise<QueueState[]> {
    return this.ctx.queues.list();
  }

  /** A queue with its settings as stored; `undefined` for a queue never used. */
  queueState(queue: string): Promise<QueueState | undefined> {
    return this.ctx.queues.state(queue);
  }

  /** Pauses a queue: claims answer as if it were empty until it is resumed. Idempotent. */
  pauseQueue(queue: string): Promise<QueueState> {
    return this.ctx.queues.setPaused(queue, true);
  }

  /** Resumes a paused queue. Idempotent. Managed jobs owe hints: see `JobService.resumeQueue`. */
  resumeQueue(queue: string): Promise<QueueState> {
    return this.ctx.queues.setPaused(queue, false);
  }

  /** Sets the queue's priority aging rate; `null` keeps strict priority bands. */
  setQueueAging(queue: string, agingSecondsPerLevel: number | null): Promise<QueueState> {
    return this.ctx.queues.setAging(queue, agingSecondsPerLevel);
  }

  /** Sets or clears the queue's rate limit (`null` clears a field; one left out is kept). */
  setQueueLimits(queue: string, limit: RateLimitChange): Promise<QueueState> {
    return this.ctx.queues.setRateLimit(queue, limit);
  }

  // Enqueue (enqueue.ts)

  /** Enqueues one job; `mode` says what a live job holding the id means. */
  enqueue(job: NewJob, mode: EnqueueMode = 'unique'): Promise<EnqueueResult> {
    return enqueues.enqueue(this.ctx, job, mode);
  }

  /** Enqueues many jobs; `unique` is all-or-nothing. */
  enqueueMany(jobs: readonly NewJob[], mode: EnqueueMode): Promise<void> {
    return enqueues.enqueueMany(this.ctx, jobs, mode);
  }

  // Reads (reads.ts)

  /** The job, or `undefined` when unknown or past retention. */
  get(queue: string, id: string): Promise<Job | undefined> {
    return reads.get(this.ctx, queue, id);
  }

  /** The job if it is live (pending, failed or running): what relay-rs's routes can see. */
  getLive(queue: string, id: string): Promise<Job | undefined> {
    return reads.getLive(this.ctx, queue, id);
  }

  /** Jobs newest first, optionally filtered by view status. */
  list(...args: Args<typeof reads.list>): Promise<Page<Job>> {
    return reads.list(this.ctx, ...args);
  }

  /** Dead jobs of a queue, most recently dead first. */
  deadLetters(queue: string, limit: number, cursor?: string): Promise<Page<Job>> {
    return reads.deadLetters(this.ctx, queue, limit, cursor);
  }

  /** Counts per status from the sparse indexes. */
  stats(queue: string): Promise<QueueStats> {
    return reads.stats(this.ctx, queue);
  }

  /** Dead jobs of `queue` that are still retained. */
  countDead(queue: string): Promise<number> {
    return reads.countDead(this.ctx, queue);
  }

  // Claims (claim.ts)

  /** Claims up to `count` waiting (or expired) pull jobs, in claim order, for `worker` if named. */
  async claim(queue: string, count: number, worker?: string): Promise<Job[]> {
    return (await claims.claim(this.ctx, queue, count, worker)).jobs;
  }

  /** `claim`, with the wait a claimer is told when the queue is over its rate limit. */
  claimLimited(queue: string, count: number, worker?: string): Promise<claims.Claimed> {
    return claims.claim(this.ctx, queue, count, worker);
  }

  /** Starts a run of a waiting, due managed job named by a dispatch message. */
  async claimById(queue: string, id: string): Promise<Job | undefined> {
    return (await claims.claimById(this.ctx, queue, id)).job;
  }

  /** `claimById`, with the wait when the queue is over its rate limit (the job stays pending). */
  claimByIdLimited(queue: string, id: string): Promise<claims.ById> {
    return claims.claimById(this.ctx, queue, id);
  }

  // Managed dispatch repair (dispatch-repair.ts)

  /** Makes a live job dead because its dispatch message was dead-lettered. */
  markDead(...args: Args<typeof dispatchRepair.markDead>): Promise<Job | undefined> {
    return dispatchRepair.markDead(this.ctx, ...args);
  }

  /** Waiting, due managed jobs whose dispatch may have been lost. */
  dueUndispatched(...args: Args<typeof dispatchRepair.dueUndispatched>): Promise<Job[]> {
    return dispatchRepair.dueUndispatched(this.ctx, ...args);
  }

  /** Records a re-sent dispatch message, so the job waits a grace before the next. */
  markRedispatched(queue: string, id: string, now: number): Promise<boolean> {
    return dispatchRepair.markRedispatched(this.ctx, queue, id, now);
  }

  // Runs (runs.ts)

  /** Extends the lease of a running job by its timeout and replaces its state. */
  heartbeat(queue: string, id: string, state: unknown, runId?: string, kind: JobKind = 'pull'): Promise<Job> {
    return runs.heartbeat(this.ctx, queue, id, state, runId, kind);
  }

  /** Marks a pull job's run completed (any run without `runId`, relay-rs v1). */
  complete(queue: string, id: string, runId?: string): Promise<Job> {
    return runs.complete(this.ctx, queue, id, runId);
  }

  /** Completes a managed run with its result, enqueuing its `on_success` job. */
  completeRun(...args: Args<typeof runs.completeRun>): Promise<RunOutcome> {
    return runs.completeRun(this.ctx, ...args);
  }

  /** Fails the current run of a pull job: a retry after its backoff, or dead. */
  async fail(
    queue: string,
    id: string,
    opts: { error: string; runId?: string; retry?: boolean },
  ): Promise<Job> {
    return (await runs.fail(this.ctx, queue, id, opts.runId, opts, 'pull')).job;
  }

  /** `fail` for a managed run: also records how the command ended. */
  failRun(
    queue: string,
    id: string,
    runId: string,
    opts: { error: string; exit_code?: number | null; duration_ms?: number | null; retry?: boolean },
  ): Promise<RunOutcome> {
    const failure = { error: opts.error, retry: opts.retry, result: runs.runResult(opts) };
    return runs.fail(this.ctx, queue, id, runId, failure, 'managed');
  }

  /** Gives back a run that never started: no retry spent, the attempt not counted. */
  releaseRun(...args: Args<typeof runs.releaseRun>): Promise<Job | undefined> {
    return runs.releaseRun(this.ctx, ...args);
  }

  /** Records the Fargate task running a run, fenced by the run id. */
  recordTask(...args: Args<typeof runs.recordTask>): Promise<boolean> {
    return runs.recordTask(this.ctx, ...args);
  }

  // relay-rs transitions (relay-compat.ts)

  /** Replaces a running job with new content and takes it out of flight (relay-rs reschedule). */
  reschedule(job: NewJob, runId?: string): Promise<Job> {
    return relayCompat.reschedule(this.ctx, job, runId);
  }

  /** Ends the current run and enqueues `jobs` in one transaction; false when the run is stale. */
  replaceRun(...args: Args<typeof relayCompat.replaceRun>): Promise<boolean> {
    return relayCompat.replaceRun(this.ctx, ...args);
  }

  /** relay-rs's DELETE: a running job completes, a waiting job is deleted. */
  remove(queue: string, id: string): Promise<boolean> {
    return relayCompat.remove(this.ctx, queue, id);
  }

  // Operator transitions (operator.ts)

  /** Cancels a live job. */
  cancel(queue: string, id: string): Promise<Job> {
    return operator.cancel(this.ctx, queue, id);
  }

  /** Runs a dead, cancelled or failed job of `kind` again now, with a fresh retry budget. */
  retry(queue: string, id: string, kind: JobKind = 'pull'): Promise<Job> {
    return operator.retry(this.ctx, queue, id, kind);
  }

  /** Puts a dead job of `kind` back in its queue with a fresh retry budget. */
  requeueDead(queue: string, id: string, kind: JobKind = 'pull'): Promise<Job> {
    return operator.requeueDead(this.ctx, queue, id, kind);
  }

  /** Requeues up to `limit` dead jobs of `kind`; those of the other kind are `skipped`. */
  requeueAllDead(
    queue: string,
    opts: { limit?: number; kind?: JobKind; onRequeued?: (job: Job) => Promise<void> } = {},
  ): Promise<{ requeued: number; skipped: number }> {
    return operator.requeueAllDead(this.ctx, queue, opts);
  }

  /** Lists a page of the jobs a filter selects and, unless a dry run, retries, cancels or deletes each. */
  bulk(...args: Args<typeof bulks.bulk>): Promise<bulks.BulkReport> {
    return bulks.bulk(this.ctx, ...args);
  }

  /** Deletes a dead job for good. */
  deleteDead(queue: string, id: string): Promise<void> {
    return operator.deleteDead(this.ctx, queue, id);
  }

  /** Deletes a job whatever its status (relay-rs v2 DELETE). Idempotent. */
  delete(queue: string, id: string): Promise<void> {
    return operator.deleteJob(this.ctx, queue, id);
  }

  // Run logs (logs.ts)

  /** Stores a run's output entries, bounded per run. */
  appendLogs(...args: Args<typeof logs.appendLogs>): Promise<AppendLogsResult> {
    return logs.appendLogs(this.ctx, ...args);
  }

  /** Makes a run's stored log its last `LIMITS.runLogBytes`. */
  keepLogTail(...args: Args<typeof logs.keepLogTail>): Promise<void> {
    return logs.keepLogTail(this.ctx, ...args);
  }

  /** A job's log entries in order, one run's or every run's, from a cursor. */
  readLogs(...args: Args<typeof logs.readLogs>): Promise<Page<LogEntry>> {
    return logs.readLogs(this.ctx, ...args);
  }

  // Run history (history.ts)

  /** Every run of a job, oldest first (`JobNotFoundError` for no job). */
  runs(queue: string, id: string): Promise<RunRecord[]> {
    return history.readRuns(this.ctx, queue, id);
  }

  // Schedules (schedules.ts)

  /** Creates a schedule whose name is free. */
  createSchedule(schedule: NewSchedule): Promise<Schedule> {
    return schedules.createSchedule(this.ctx, schedule);
  }

  /** Creates or redefines a schedule, as a route of `route`'s kind may. */
  putSchedule(schedule: NewSchedule, route: JobKind): Promise<Schedule> {
    return schedules.putSchedule(this.ctx, schedule, route);
  }

  getSchedule(name: string): Promise<Schedule | undefined> {
    return schedules.getSchedule(this.ctx, name);
  }

  listSchedules(): Promise<Schedule[]> {
    return schedules.listSchedules(this.ctx);
  }

  deleteSchedule(name: string): Promise<void> {
    return schedules.deleteSchedule(this.ctx, name);
  }

  pauseSchedule(name: string): Promise<Schedule> {
    return schedules.pauseSchedule(this.ctx, name);
  }

  resumeSchedule(name: string, route: JobKind): Promise<Schedule> {
    return schedules.resumeSchedule(this.ctx, name, route);
  }

  /** Enqueues a schedule's job now, outside its fire times. */
  triggerSchedule(name: string, route: JobKind): Promise<Job> {
    return schedules.triggerSchedule(this.ctx, name, route);
  }

  /** Fires the schedules due at `now`, each fire time once. */
  fireDueSchedules(now: number): Promise<FireReport> {
    return schedules.fireDueSchedules(this.ctx, now);
  }

  // Maintenance (rescuer.ts)

  /** Ends every run whose lease has passed, in every queue. */
  sweep(): Promise<SweepResult> {
    return rescuer.sweep(this.ctx);
  }
}
