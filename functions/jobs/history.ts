/**
 * Run history: the record of every run of a job, kept on the job item itself (`runs`), so it is
 * written by the very write that ends the run, costs no item of its own and expires with the job.
 *
 * Each end of a run that has the job in hand appends the run's record to `runs` (`recorded`). The
 * one end that does not read the job first, a pull worker's `complete`, appends nothing: it leaves
 * `run_id`, `attempts`, `claimed_at`, `worker` and `completed_at` on the item, and the reader
 * builds that last run's record from them (`readRuns`). A running job's current run is shown the
 * same way, with no end yet.
 */
import type { JobChange } from './changes.ts';
import type { StoreContext } from './context.ts';
import { JobNotFoundError } from './errors.ts';
import { type JobItem, pastRetention, type RunningItem } from './item.ts';
import { jobKey } from './keys.ts';
import type { RunOutcomeName, RunRecord, RunResult } from './model.ts';

export type { RunOutcomeName, RunRecord } from './model.ts';

/**
 * The most records one job keeps. The number of runs is bounded by a job's attempts, except for
 * runs its worker gave back (released, rescheduled) and operators' retries; past this the oldest
 * records are dropped, so a job item cannot grow without bound.
 */
export const MAX_RUN_RECORDS = 50;

/** The most characters of a run's error its record keeps (the job's `last_error` keeps it all). */
export const MAX_RECORD_ERROR = 1_000;

/** The exit status the runner reports for a command it stopped at its timeout. */
const TIMED_OUT_EXIT = 124;

/** What a run's end knows beyond the job item: how it ended. */
export interface RunEnding {
  readonly outcome: RunOutcomeName;
  /** When the run ended, if not at the write (an expired run ended when its lease did). */
  readonly endedAt?: number;
  readonly error?: string;
  readonly result?: RunResult;
}

/** The outcome of a failed run: a managed command stopped at its timeout is `timed_out`. */
export const failedOutcome = (result: RunResult | undefined): RunOutcomeName =>
  result?.exit_code === TIMED_OUT_EXIT ? 'timed_out' : 'failed';

/** What a record takes from the job item: its run and how it was claimed. */
type RunOf = Pick<JobItem, 'attempts' | 'claimed_at' | 'worker'> & { readonly run_id: string };

/** The record of `item`'s current run, ending as `ending` at `now` (or still going: no ending). */
export function runRecord(item: RunOf, now: number, ending?: RunEnding): RunRecord {
  const durationMs = ending?.result?.duration_ms ?? null;
  const claimedAt = item.claimed_at ?? null;
  const endedAt = ending ? (ending.endedAt ?? now) : null;
  return {
    run_id: item.run_id,
    attempt: item.attempts,
    claimed_at: claimedAt,
    started_at: durationMs === null || endedAt === null ? claimedAt : endedAt - durationMs,
    ended_at: endedAt,
    outcome: ending?.outcome ?? null,
    exit_code: ending?.result?.exit_code ?? null,
    duration_ms: durationMs,
    error: ending?.error === undefined ? null : ending.error.slice(0, MAX_RECORD_ERROR),
    worker: item.worker ?? null,
  };
}

/**
 * `change`, which ends `item`'s current run, also keeping the run's record. Fenced by the run
 * (every end is), so `runs` is as read: past `MAX_RUN_RECORDS` the list is written whole, without
 * its oldest records; otherwise the record is appended.
 */
export function recorded(change: JobChange, item: RunningItem, ending: RunEnding, now: number): JobChange {
  const record = runRecord(item, now, ending);
  const runs = item.runs ?? [];
  if (runs.length < MAX_RUN_RECORDS) return { ...change, append: { ...change.append, runs: [record] } };
  return {
    ...change,
    set: { ...change.set, runs: [...runs.slice(runs.length - MAX_RUN_RECORDS + 1), record] },
  };
}

/** The runs `item` has recorded, and the run its attributes still describe if none records it. */
export function runsOf(item: JobItem): RunRecord[] {
  const runs = [...(item.runs ?? [])];
  const runId = item.run_id;
  if (runId === undefined || runs.some((r) => r.run_id === runId)) return runs;
  if (item.status === 'running') runs.push(runRecord({ ...item, run_id: runId }, 0));
  if (item.status === 'completed') {
    const endedAt = item.completed_at ?? item.updated_at;
    runs.push(runRecord({ ...item, run_id: runId }, endedAt, { outcome: 'completed', result: item.result }));
  }
  return runs;
}

/** Every run of a job, oldest first (`JobNotFoundError` for no job, or one past retention). */
export async function readRuns(ctx: StoreContext, queue: string, id: string): Promise<RunRecord[]> {
  const job = await ctx.db.get<JobItem>(jobKey(queue, id));
  if (!job || pastRetention(job, ctx.clock())) throw new JobNotFoundError(queue, id);
  return runsOf(job);
}
