/**
 * A worker loop over relay's v2 routes: claim, run a handler, heartbeat while it runs, then
 * complete or fail the run.
 *
 * Every call names the run id it was given, so a run whose lease was lost (expired and claimed by
 * another worker, or cancelled) cannot complete or fail the job's newer run.
 */
import { retryDelayMs } from '../core/backoff.ts';
import { type ClaimedJob, LeaseLostError, RelayApiError, type RelayClient } from './client.ts';

export interface JobContext {
  /** Aborted when the run's lease is lost, or when `stop()`'s grace period ends. */
  readonly signal: AbortSignal;
  /**
   * Extends the lease now, storing `state` when given (`null` clears it); the worker also
   * heartbeats on its own. Throws `LeaseLostError` once the run is no longer current.
   */
  heartbeat(state?: unknown): Promise<void>;
}

/** Runs one job. Resolving completes it; throwing fails it (see `PermanentError`). */
export type JobHandler = (job: ClaimedJob, context: JobContext) => Promise<void>;

/** Where the worker reports what it did; `console` will do. */
export interface WorkerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface WorkerOptions {
  readonly client: RelayClient;
  readonly queue: string;
  readonly handler: JobHandler;
  /** Jobs run at once. @default 1 */
  readonly concurrency?: number;
  /**
   * Seconds each claim waits for a job when none is ready (a long poll, 0–20): an idle worker
   * hears of a new job at once on the local stack and within 2 s on AWS, instead of at its next
   * poll. `stop()` waits for a long poll in
   * flight, so at most this long; 0 polls without waiting. @default 20
   */
  readonly longPollSeconds?: number;
  /** Wait after an empty claim that did not long-poll, or an error; doubles on each one in a row. @default 250 */
  readonly pollIntervalMs?: number;
  /** Longest wait between claims. @default 5000 */
  readonly maxPollIntervalMs?: number;
  /** How long `stop()` lets running handlers finish before aborting their signals. @default 30000 */
  readonly gracePeriodMs?: number;
  /** Silent when omitted. */
  readonly logger?: WorkerLogger;
  /** Names this worker in the history of every run it claims (`X-Relay-Worker`). */
  readonly name?: string;
}

/** Thrown by a handler, fails the job without a retry: it goes to the dead-letter queue at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  readonly retry = false;
}

/** The reason a handler's signal is aborted when the worker stops before the handler finished. */
export class WorkerStoppedError extends Error {
  override readonly name = 'WorkerStoppedError';
  constructor() {
    super('the worker stopped before the job finished');
  }
}

/** Heartbeats are sent this often relative to the lease, so one lost request does not lose it. */
const HEARTBEATS_PER_LEASE = 3;
const MIN_HEARTBEAT_MS = 100;
/** The fail route stores at most this many characters of error. */
const MAX_ERROR_LENGTH = 64 * 1024;

export class Worker {
  private readonly client: RelayClient;
  private readonly queue: string;
  private readonly handler: JobHandler;
  private readonly concurrency: number;
  private readonly longPollSeconds: number;
  private readonly pollIntervalMs: number;
  private readonly maxPollIntervalMs: number;
  private readonly gracePeriodMs: number;
  private readonly logger: WorkerLogger | undefined;
  private readonly name: string | undefined;

  /** Running jobs: each one's abort controller and the promise of its whole run. */
  private readonly active = new Map<AbortController, Promise<void>>();
  private readonly stopping = new AbortController();
  /** Resolves when `stop()` is called: one promise, so waiting on it adds no listener per loop. */
  private readonly stopRequested = new Promise<void>((resolve) =>
    this.stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    this.client = options.client;
    this.queue = options.queue;
    this.handler = options.handler;
    this.concurrency = options.concurrency ?? 1;
    this.longPollSeconds = options.longPollSeconds ?? 20;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.maxPollIntervalMs = options.maxPollIntervalMs ?? 5_000;
    this.gracePeriodMs = options.gracePeriodMs ?? 30_000;
    this.logger = options.logger;
    this.name = options.name;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer; got ${this.concurrency}`);
    }
    if (!Number.isInteger(this.longPollSeconds) || this.longPollSeconds < 0 || this.longPollSeconds > 20) {
      throw new RangeError(`longPollSeconds must be an integer from 0 to 20; got ${this.longPollSeconds}`);
    }
  }

  /** Starts claiming and running jobs in the background. */
  start(): void {
    if (this.loop) throw new Error('this worker was already started; create a new one');
    this.loop = this.poll();
  }

  /**
   * Stops claiming, waits for running handlers, and aborts their signals if they are still running
   * after the grace period. Resolves once every run has completed or failed.
   */
  stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  private async drain(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    if (!this.active.size) return;
    const timer = setTimeout(() => {
      for (const controller of this.active.keys()) controller.abort(new WorkerStoppedError());
    }, this.gracePeriodMs);
    await Promise.all(this.active.values());
    clearTimeout(timer);
  }

  /**
   * Claims while there is room, long-polling when idle. An empty answer that came before the long
   * poll's end (a rate-limited queue, or a server without long polls) or an error backs off
   * (exponential, equal jitter).
   */
  private async poll(): Promise<void> {
    let idle = 0;
    while (!this.stopping.signal.aborted) {
      const room = this.concurrency - this.active.size;
      if (room === 0) {
        await Promise.race([...this.active.values(), this.stopRequested]);
        continue;
      }
      let jobs: ClaimedJob[] = [];
      const wait = this.longPollSeconds || undefined;
      const asked = performance.now();
      let waited = false;
      try {
        jobs = await this.client.claim(this.queue, Math.min(room, 100), {
          worker: this.name,
          waitSeconds: wait,
        });
        waited = wait !== undefined && performance.now() - asked >= wait * 900;
      } catch (error) {
        this.logger?.warn('claim failed', { queue: this.queue, error: messageOf(error) });
      }
      // Jobs claimed while stop() was called still run: they are ours until their lease ends.
      for (const job of jobs) this.run(job);
      if (jobs.length || waited) {
        idle = 0;
        continue;
      }
      const backoff = retryDelayMs(idle++, {
        baseMs: this.pollIntervalMs,
        maxMs: this.maxPollIntervalMs,
        jitter: 'equal',
      });
      await pause(backoff, this.stopping.signal);
    }
  }

  private run(job: ClaimedJob): void {
    const controller = new AbortController();
    const done = this.process(job, controller).finally(() => this.active.delete(controller));
    this.active.set(controller, done);
  }

  /** One run: the handler with heartbeats, then complete or fail. Never rejects. */
  private async process(job: ClaimedJob, controller: AbortController): Promise<void> {
    const fields = { queue: job.queue, job_id: job.id, run_id: job.run_id };
    // Heartbeats replace the stored state, so each one resends the latest state the handler gave.
    let state = job.state;
    let lost = false;
    const heartbeat = async (next?: unknown) => {
      if (next !== undefined) state = next;
      try {
        await this.client.heartbeat(job.queue, job.id, job.run_id, state);
      } catch (error) {
        if (error instanceof LeaseLostError && !lost) {
          lost = true;
          this.logger?.warn('lease lost; abandoning the run', fields);
          controller.abort(error);
        }
        throw error;
      }
    };

    const finished = new AbortController();
    const beating = this.keepAlive(job, heartbeat, finished.signal);
    let failure: { error: unknown } | undefined;
    try {
      this.logger?.info('job started', fields);
      await this.handler(job, { signal: controller.signal, heartbeat });
    } catch (error) {
      failure = { error };
    } finally {
      finished.abort();
      await beating;
    }

    // A lost run must not touch the job: it belongs to another run now, or was cancelled.
    if (lost) return;
    try {
      if (!failure) {
        await this.client.complete(job.queue, job.id, job.run_id);
        this.logger?.info('job completed', fields);
        return;
      }
      const retry = (failure.error as { retry?: unknown } | null)?.retry !== false;
      await this.client.fail(job.queue, job.id, {
        error: messageOf(failure.error).slice(0, MAX_ERROR_LENGTH),
        runId: job.run_id,
        retry,
      });
      this.logger?.warn('job failed', { ...fields, retry, error: messageOf(failure.error) });
    } catch (error) {
      // 404/409: the run ended meanwhile (cancelled, or its lease expired and it was claimed again).
      const level = error instanceof RelayApiError && error.status < 500 ? 'warn' : 'error';
      this.logger?.[level]('could not record the outcome of the run', { ...fields, error: messageOf(error) });
    }
  }

  /** Heartbeats every third of the job's timeout until the handler finishes or the lease is lost. */
  private async keepAlive(
    job: ClaimedJob,
    heartbeat: () => Promise<void>,
    finished: AbortSignal,
  ): Promise<void> {
    const every = Math.max(MIN_HEARTBEAT_MS, (job.timeout * 1000) / HEARTBEATS_PER_LEASE);
    for (;;) {
      await pause(every, finished);
      if (finished.aborted) return;
      try {
        await heartbeat();
      } catch (error) {
        if (error instanceof LeaseLostError) return;
        // A busy or unreachable API: the lease may still hold, so keep trying.
        this.logger?.warn('heartbeat failed', {
          queue: job.queue,
          job_id: job.id,
          run_id: job.run_id,
          error: messageOf(error),
        });
      }
    }
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Waits `ms`, or less if `signal` aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
