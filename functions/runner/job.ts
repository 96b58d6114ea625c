/**
 * Runs one claimed managed job to its end: the runner program's job mode, and the same code the
 * dispatcher runs inline on Lambda.
 *
 * It takes a job reference (queue, id, run id) rather than a payload, loads the job, runs its
 * command while heartbeating the lease (fenced by the run id), streams the output into the job's
 * log, and records the outcome with one fenced write: completed (enqueueing `on_success`) or failed
 * with backoff or dead (enqueueing `on_failure`, and recording the job on the SQS dead-letter
 * queue). If the lease is lost or the job is cancelled, heartbeats fail, the command's process
 * group is stopped, and nothing is recorded: the run is no longer this runner's to end.
 */
import { retryDelayMs } from '../core/backoff.ts';
import { sleep } from '../core/concurrency.ts';
import { describeError, log } from '../core/log.ts';
import { JobNotFoundError, LeaseLostError, StoreBusyError } from '../jobs/errors.ts';
import type { Job, LogEntryInput } from '../jobs/model.ts';
import { type HintSender, JobService } from '../jobs/service.ts';
import type { JobStore, RunOutcome as StoredOutcome } from '../jobs/store.ts';
import { commandSpecSchema } from './command.ts';
import { ANY_COMMAND, type CommandPolicy } from './policy.ts';
import { type CommandOutcome, type OutputEntry, runCommand } from './run.ts';
import { type Identity, SELF } from './sandbox.ts';

export interface RunRef {
  readonly queue: string;
  readonly id: string;
  readonly runId: string;
}

export interface RunJobDeps {
  readonly store: JobStore;
  /** Where managed children are dispatched and dead jobs recorded; absent in tests of the run alone. */
  readonly dispatch?: HintSender;
  /** Runs the command somewhere else (the executor Lambda), or replaces `runCommand` in tests. */
  readonly run?: typeof runCommand;
  /** Who the command runs as where this process starts it. @default this process's user */
  readonly identity?: Identity;
  /** The commands each queue may run. @default any */
  readonly policy?: CommandPolicy;
  /** Longest wait between heartbeats; a cancel is noticed within it. @default 5000 */
  readonly maxHeartbeatMs?: number;
  /** How often buffered output is written to the job's log. @default 1000 */
  readonly flushMs?: number;
  /**
   * Stops the command: the runner itself was asked to stop. The run then ends `stopped`, and its
   * caller gives it back (`releaseRun`) or leaves it to its lease.
   */
  readonly signal?: AbortSignal;
  /**
   * Also write the output as structured log lines (with queue, job and run ids) to this process's
   * stdout: on Lambda and Fargate that is CloudWatch Logs, which keeps more of a long run's stream
   * than the bounded copy stored with the job.
   */
  readonly echoOutput?: boolean;
  /** Bytes of one run's output echoed at most; a line says how much was left out. @default 1 MiB */
  readonly echoLimitBytes?: number;
}

/** What happened to the run, for the caller's exit code and logs. */
export type JobRunResult =
  | { readonly kind: 'stale' }
  | { readonly kind: 'ended'; readonly outcome: CommandOutcome; readonly stored: StoredOutcome }
  | { readonly kind: 'stopped'; readonly outcome: CommandOutcome };

/** Writes output to the job's log in order, in batches, never more than one write at a time. */
class LogWriter {
  private buffer: LogEntryInput[] = [];
  private seq = 0;
  private writing: Promise<void> = Promise.resolve();
  private full = false;

  constructor(
    private readonly store: JobStore,
    private readonly job: Job,
    private readonly runId: string,
  ) {}

  add(entry: OutputEntry): void {
    if (this.full) return;
    this.buffer.push({ seq: this.seq++, stream: entry.stream, text: entry.text, at: entry.at });
  }

  flush(): Promise<void> {
    const entries = this.buffer;
    this.buffer = [];
    if (!entries.length || this.full) return this.writing;
    this.writing = this.writing.then(async () => {
      try {
        const result = await this.store.appendLogs(
          this.job.queue,
          this.job.id,
          this.runId,
          this.job.attempts,
          entries,
        );
        if (result.truncated) this.full = true;
      } catch (error) {
        // Output is best effort: losing a log write must not fail the job. It stays in CloudWatch.
        this.warn('could not store run output', error);
      }
    });
    return this.writing;
  }

  /** Replaces what was stored while the run went on by its tail and a marker (best effort, as every write here). */
  async keepTail(outcome: Pick<CommandOutcome, 'droppedBytes' | 'tail'>): Promise<void> {
    await this.writing;
    try {
      await this.store.keepLogTail(this.job.queue, this.job.id, this.runId, this.job.attempts, {
        droppedBytes: outcome.droppedBytes,
        entries: outcome.tail,
      });
    } catch (error) {
      this.warn('could not keep the tail of the run output', error);
    }
  }

  private warn(message: string, error: unknown): void {
    log('warn', message, {
      queue: this.job.queue,
      job_id: this.job.id,
      run_id: this.runId,
      ...describeError(error),
    });
  }
}

/** What is echoed of one run's output by default: enough to read in a log, not a flood. */
const ECHO_LIMIT_BYTES = 1024 * 1024;

/** Echoes a run's output as log lines, up to a bound, then says how much it left out. */
class Echo {
  private left: number;
  private skipped = 0;

  constructor(
    private readonly fields: Record<string, unknown>,
    limitBytes: number,
  ) {
    this.left = limitBytes;
  }

  add(entry: OutputEntry): void {
    const bytes = Buffer.byteLength(entry.text);
    if (bytes > this.left) {
      this.left = 0;
      this.skipped += bytes;
      return;
    }
    this.left -= bytes;
    log('info', 'output', { ...this.fields, stream: entry.stream, text: entry.text });
  }

  end(): void {
    if (this.skipped) {
      log('info', 'output not echoed past the bound; the job log keeps its last 256 KiB', {
        ...this.fields,
        skipped_bytes: this.skipped,
      });
    }
  }
}

export async function runJob(ref: RunRef, deps: RunJobDeps): Promise<JobRunResult> {
  const { store } = deps;
  const job = await whileBusy(() => store.get(ref.queue, ref.id));
  if (job?.status !== 'running' || job.run_id !== ref.runId) return { kind: 'stale' };
  const fields = { queue: ref.queue, job_id: ref.id, run_id: ref.runId, attempt: job.attempts };

  const spec = commandSpecSchema.safeParse(job.payload);
  const refusal = spec.success
    ? (deps.policy ?? ANY_COMMAND).refusal(ref.queue, spec.data.command)
    : `invalid command: ${spec.error.issues[0]?.message ?? 'bad payload'}`;
  if (!spec.success || refusal) {
    // Checked at submit too; a job stored before the policy changed ends here, without a retry.
    const error = refusal ?? 'invalid command';
    const stored = await whileBusy(() =>
      store.failRun(ref.queue, ref.id, ref.runId, { error, retry: false }),
    );
    await new JobService(store, deps.dispatch).afterRunEnd(stored);
    return { kind: 'ended', outcome: invalidOutcome(error), stored };
  }

  // The lease began at the claim; start-up (a cold Fargate task, a loaded machine) may have used
  // much of it. Renew it before the command starts, fenced by the run id: if the run was already
  // taken over (expired and re-claimed, cancelled), the command must not start at all. A run that
  // starts right after its claim skips that write: the job just read is this run, and its lease
  // lasts past two heartbeat periods, so the first heartbeat renews it in time (and stops the
  // command if the job was cancelled in between).
  const heartbeatMs = Math.min((job.timeout * 1000) / 3, deps.maxHeartbeatMs ?? 5_000);
  if ((job.lease_expires_at ?? 0) - Date.now() < 2 * heartbeatMs) {
    try {
      await whileBusy(() => store.heartbeat(ref.queue, ref.id, job.state ?? undefined, ref.runId, 'managed'));
    } catch (error) {
      if (error instanceof JobNotFoundError || error instanceof LeaseLostError) return { kind: 'stale' };
      throw error;
    }
  }

  const logs = new LogWriter(store, job, ref.runId);
  const flushing = setInterval(() => void logs.flush(), deps.flushMs ?? 1_000);
  const echo = deps.echoOutput ? new Echo(fields, deps.echoLimitBytes ?? ECHO_LIMIT_BYTES) : undefined;
  let outcome: CommandOutcome;
  try {
    outcome = await (deps.run ?? runCommand)(
      spec.data,
      { identity: deps.identity ?? SELF },
      {
        signal: deps.signal,
        // A parent that started this runner with an IPC channel (the local executor) learns the
        // command's process group, so it can stop the command if the runner itself is killed.
        onStart: (pgid) => process.send?.({ type: 'command-started', pgid }),
        onOutput: (entry) => {
          logs.add(entry);
          echo?.add(entry);
        },
        heartbeatMs,
        // Keep the job's state: a heartbeat without a body would clear it.
        heartbeat: async () => {
          try {
            await store.heartbeat(ref.queue, ref.id, job.state ?? undefined, ref.runId, 'managed');
          } catch (error) {
            if (error instanceof JobNotFoundError) throw new LeaseLostError(ref.queue, ref.id, ref.runId);
            throw error;
          }
        },
      },
    );
  } finally {
    clearInterval(flushing);
    await logs.flush();
    echo?.end();
  }
  // The run printed more than its log holds: keep its last part, where errors usually are.
  if (outcome.droppedBytes > 0) await logs.keepTail(outcome);

  if (outcome.aborted) {
    log('info', 'run stopped: its lease was lost, the job was cancelled, or the runner was told to stop', {
      ...fields,
      error_message: outcome.error,
    });
    return { kind: 'stopped', outcome };
  }
  const result = { exit_code: outcome.exitCode, duration_ms: outcome.durationMs };
  try {
    const stored = await whileBusy(() =>
      outcome.exitCode === 0
        ? store.completeRun(ref.queue, ref.id, ref.runId, result)
        : store.failRun(ref.queue, ref.id, ref.runId, {
            error: outcome.error ?? `exited with code ${outcome.exitCode}`,
            ...result,
          }),
    );
    await new JobService(store, deps.dispatch).afterRunEnd(stored);
    log('info', 'run ended', {
      ...fields,
      status: stored.job.status,
      exit_code: outcome.exitCode,
      duration_ms: outcome.durationMs,
    });
    return { kind: 'ended', outcome, stored };
  } catch (error) {
    // The run was taken from us (lease expired and re-claimed, or cancelled) just as it ended.
    if (error instanceof JobNotFoundError || error instanceof LeaseLostError)
      return { kind: 'stopped', outcome };
    throw error;
  }
}

/** Tries of a store call the run cannot do without, while DynamoDB throttles it. */
const BUSY_TRIES = 6;

/**
 * Runs a store call again while the store is busy (throttled), with capped, fully jittered
 * exponential backoff. Otherwise one throttled read at the start or write at the end leaves the
 * run to its lease expiry: a whole timeout later, with a retry spent, a command that succeeded runs
 * again (or, with no retry left, its job goes dead). The writes are fenced by the run id, so a
 * late retry cannot end another run.
 */
async function whileBusy<T>(call: () => Promise<T>): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StoreBusyError) || tried >= BUSY_TRIES) throw error;
      await sleep(retryDelayMs(tried, { baseMs: 50, maxMs: 2_000 }));
    }
  }
}

function invalidOutcome(error: string): CommandOutcome {
  return {
    exitCode: 1,
    signal: null,
    durationMs: 0,
    timedOut: false,
    aborted: false,
    error,
    truncated: false,
    droppedBytes: 0,
    tail: [],
  };
}
