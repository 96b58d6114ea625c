/**
 * A test double for the dispatch path: a recording in-process executor that stands in for the
 * runner and remembers every run it started. Faults come from faults.ts.
 */
import type { Executor } from '../../functions/dispatch/dispatcher.ts';
import type { Job } from '../../functions/jobs/model.ts';
import type { JobStore } from '../../functions/jobs/store.ts';

/** A claimed job: the dispatcher hands the executor only jobs with a run. */
export type ClaimedJob = Job & { readonly run_id: string };

/** How a run handed to the executor ended, as far as the test can tell. */
export interface RunEnd {
  /** The run's completion is durable. */
  readonly completed: boolean;
  /** Epoch ms until which the run may still be alive (a runner that died holds its lease until then). */
  readonly aliveUntil?: number;
}

export interface RecordedRun {
  readonly queue: string;
  readonly id: string;
  readonly runId: string;
  readonly attempt: number;
  readonly startedAt: number;
  endedAt?: number;
  completed: boolean;
}

export interface RecordingExecutor {
  readonly execute: Executor;
  readonly runs: RecordedRun[];
}

/** An executor that records each run it is given and then runs `body` for it, inline. */
export function recordingExecutor(body: (job: ClaimedJob) => Promise<RunEnd>): RecordingExecutor {
  const runs: RecordedRun[] = [];
  const execute: Executor = async (job) => {
    const run: RecordedRun = {
      queue: job.queue,
      id: job.id,
      runId: String(job.run_id),
      attempt: job.attempts,
      startedAt: Date.now(),
      completed: false,
    };
    runs.push(run);
    try {
      const end = await body(job as ClaimedJob);
      run.completed = end.completed;
      run.endedAt = end.aliveUntil ?? Date.now();
    } catch (error) {
      run.endedAt = Date.now();
      throw error;
    }
  };
  return { execute, runs };
}

/** The runner's happy path in one write: the run's command exited 0. */
export const completes =
  (store: JobStore) =>
  async (job: ClaimedJob): Promise<RunEnd> => {
    await store.completeRun(job.queue, job.id, job.run_id, { exit_code: 0, duration_ms: 1 });
    return { completed: true };
  };

/** Pairs of runs of one job whose lifetimes overlap; a run that never ended overlaps every later one. */
export function concurrentDuplicates(runs: readonly RecordedRun[]): number {
  const byJob = new Map<string, RecordedRun[]>();
  for (const run of runs) {
    const key = `${run.queue}\u0000${run.id}`;
    byJob.set(key, [...(byJob.get(key) ?? []), run]);
  }
  let pairs = 0;
  for (const group of byJob.values()) {
    const ordered = [...group].sort((a, b) => a.startedAt - b.startedAt);
    ordered.forEach((earlier, i) => {
      for (const later of ordered.slice(i + 1)) {
        if (later.startedAt < (earlier.endedAt ?? Number.POSITIVE_INFINITY)) pairs++;
      }
    });
  }
  return pairs;
}
