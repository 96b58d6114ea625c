/**
 * The queues page's trends, from what the public API shows: depth and wait are sampled at each
 * poll and kept for this tab (the last 60 samples); throughput is counted from the queue's newest
 * completed jobs (up to 100), by the minute they finished in.
 */
import type { Job, QueueSummary } from '../../sdk/client.ts';

const SAMPLES = 60;
const MINUTES = 15;

export interface Trend {
  /** Waiting jobs (pending and failed-awaiting-retry), one per poll. */
  readonly depth: number[];
  /** Seconds the longest-waiting due job among the newest 100 pending has waited, one per poll. */
  readonly waitSeconds: number[];
  /** Jobs completed in each of the last 15 minutes, oldest first. */
  readonly perMinute: number[];
}

const trends = new Map<string, Trend>();

const push = (series: number[], value: number) => {
  series.push(value);
  if (series.length > SAMPLES) series.splice(0, series.length - SAMPLES);
};

/** Records a poll's view of one queue and returns its trend so far. */
export function record(
  queue: QueueSummary,
  pending: readonly Job[],
  completed: readonly Job[],
  now: number,
): Trend {
  const trend = trends.get(queue.name) ?? { depth: [], waitSeconds: [], perMinute: [] };
  trends.set(queue.name, trend);
  push(trend.depth, queue.pending + queue.failed);
  push(trend.waitSeconds, longestWait(pending, now) / 1000);
  trend.perMinute.splice(0, trend.perMinute.length, ...completedPerMinute(completed, now));
  return trend;
}

/** How long the longest-waiting due job has waited, in ms: from its `run_at` (or creation). */
export function longestWait(pending: readonly Job[], now: number): number {
  let longest = 0;
  for (const job of pending) {
    const due = Date.parse(job.run_at ?? job.created_at ?? '');
    if (!Number.isNaN(due) && due <= now) longest = Math.max(longest, now - due);
  }
  return longest;
}

/** Completions in each of the last 15 minutes, oldest first; a completed job's `updated_at` is when it finished. */
export function completedPerMinute(completed: readonly Job[], now: number): number[] {
  const buckets = new Array<number>(MINUTES).fill(0);
  for (const job of completed) {
    const age = now - Date.parse(job.updated_at ?? '');
    const minute = Math.floor(age / 60_000);
    if (minute >= 0 && minute < MINUTES)
      buckets[MINUTES - 1 - minute] = (buckets[MINUTES - 1 - minute] ?? 0) + 1;
  }
  return buckets;
}
