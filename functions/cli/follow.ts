/**
 * Watching a job to its end: `relay logs` prints its output (with `--follow`, as it arrives), and
 * `relay submit --wait` shows its progress. Both poll the API; Relay has no push channel.
 */
import type { Job, JobStatus, LogEntry, RelayClient } from '../sdk/client.ts';
import { progressLine } from './format.ts';

/** Pause between polls: quick enough to feel live, slow enough not to load the API. */
const POLL_MS = 500;
/** The API's largest log page. */
const LOG_PAGE = 1000;

/** Statuses a job does not leave on its own. */
const ENDED: readonly JobStatus[] = ['completed', 'dead', 'cancelled'];
export const hasEnded = (job: Job): boolean => ENDED.includes(job.status);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One entry as the command wrote it, on the stream it wrote it to. */
function writePlain(entry: LogEntry): void {
  const out = entry.stream === 'stderr' ? process.stderr : process.stdout;
  // The truncation marker is Relay's note, not output: give it a line of its own.
  out.write(entry.truncated ? `${entry.text}\n` : entry.text);
}

const writeJson = (entry: LogEntry): void => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};

/**
 * Prints a job's log entries in order. With `follow`, keeps polling until the job has ended and a
 * poll after that brings nothing new, and resolves to the job as it ended.
 */
export async function printLogs(
  client: RelayClient,
  queue: string,
  id: string,
  options: { runId?: string; follow?: boolean; json?: boolean },
): Promise<Job | undefined> {
  const write = options.json ? writeJson : writePlain;
  let after: string | undefined;
  /** Prints every entry past `after`; resolves to how many there were. */
  const drain = async (): Promise<number> => {
    let printed = 0;
    for (;;) {
      const page = await client.logs(queue, id, { runId: options.runId, after, limit: LOG_PAGE });
      for (const entry of page.entries) write(entry);
      printed += page.entries.length;
      after = page.next_cursor ?? after;
      // The store fills a page unless it reached the end.
      if (page.entries.length < LOG_PAGE) return printed;
    }
  };

  if (!options.follow) {
    await drain();
    return undefined;
  }
  for (;;) {
    // Status before logs: the runner stores a run's output before its outcome, so once the job is
    // seen ended, the drain after it holds everything (a cancelled run may still add a little,
    // hence the last, empty poll).
    const job = await client.status(queue, id);
    const printed = await drain();
    if (hasEnded(job) && printed === 0) return job;
    await sleep(POLL_MS);
  }
}

/**
 * Polls a job until it ends, showing its progress on stderr: one line rewritten in place on a
 * terminal, else a line per change of status or attempt. Throws once `timeoutMs` (counted from
 * `startedAt`, epoch ms) has passed.
 */
export async function waitForJob(
  client: RelayClient,
  submitted: Job,
  options: { startedAt: number; timeoutMs?: number },
): Promise<Job> {
  const tty = process.stderr.isTTY === true;
  const deadline = options.startedAt + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
  let shown: string | undefined;
  const show = (job: Job) => {
    const line = progressLine(job, Date.now() - options.startedAt);
    const state = `${job.status} ${job.attempts}`;
    // `\x1b[K` clears what a longer earlier line left behind.
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (state !== shown) process.stderr.write(`${line}\n`);
    shown = state;
  };

  let job = submitted;
  try {
    for (;;) {
      show(job);
      if (hasEnded(job)) return job;
      const left = deadline - Date.now();
      if (left <= 0) {
        const ref = `${job.queue}/${job.id}`;
        throw new Error(
          `gave up waiting after ${(options.timeoutMs ?? 0) / 1000}s: ${ref} is still ${job.status} (see: relay status ${ref})`,
        );
      }
      await sleep(Math.min(POLL_MS, left));
      job = await client.status(job.queue, job.id);
    }
  } finally {
    if (tty) process.stderr.write('\n');
  }
}
