/**
 * A pull worker process for the reliability suite: the SDK `Worker` over one queue, whose handler
 * sleeps for the job's `sleep_ms` and records when each run started and ended.
 *
 * The suite SIGKILLs these processes at random moments, so every record is appended to this
 * process's own file (`<CHAOS_RECORDS>/worker-<pid>.jsonl`) at once, with the real time: a run
 * with a start and no end ended when its process was killed, which the suite knows.
 *
 * Settings come from the environment: RELAY_URL, CHAOS_QUEUE, CHAOS_RECORDS, CHAOS_CONCURRENCY.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { RelayClient } from '../functions/sdk/client.ts';
import { Worker } from '../functions/sdk/worker.ts';

/** One line of a worker's record file. */
export interface WorkerRecord {
  readonly id: string;
  readonly run_id: string;
  readonly event: 'start' | 'end';
  /** Epoch milliseconds, real time even when `Date.now` is skewed (`clockSkewMs`, test/support/child-hooks.ts). */
  readonly at: number;
  readonly pid: number;
  /** How far this process's `Date.now` is off the real time, to the nearest 100 ms. */
  readonly skew_ms: number;
}

/** The real time: a skewed `Date.now` does not move it. */
const realNow = () => Math.round(performance.timeOrigin + performance.now());

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`chaos-worker needs ${name}`);
  return value;
}

/** Resolves after `ms`, or as soon as the run's signal says its lease was lost. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function main(): void {
  const file = path.join(required('CHAOS_RECORDS'), `worker-${process.pid}.jsonl`);
  const skew_ms = Math.round((Date.now() - realNow()) / 100) * 100;
  const record = (entry: Pick<WorkerRecord, 'id' | 'run_id' | 'event'>) =>
    appendFileSync(file, `${JSON.stringify({ ...entry, at: realNow(), pid: process.pid, skew_ms })}\n`);
  const worker = new Worker({
    client: new RelayClient({ endpoint: required('RELAY_URL') }),
    queue: required('CHAOS_QUEUE'),
    concurrency: Number(process.env.CHAOS_CONCURRENCY ?? 4),
    pollIntervalMs: 50,
    maxPollIntervalMs: 500,
    // Long polls, short: a worker told to stop waits for its poll in flight, and scenarios stop many.
    longPollSeconds: 1,
    handler: async (job, { signal }) => {
      record({ id: job.id, run_id: job.run_id, event: 'start' });
      await sleep(Number((job.payload as { sleep_ms?: number }).sleep_ms ?? 0), signal);
      record({ id: job.id, run_id: job.run_id, event: 'end' });
    },
  });
  worker.start();
  process.once('SIGTERM', () => {
    void worker.stop().then(() => process.exit(0));
  });
}

main();
