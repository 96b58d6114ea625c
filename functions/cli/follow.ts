/**
 * Watching a job: `relay logs` prints its output (with `--follow`, as it arrives), and
 * `relay submit --wait` shows its progress and output, then that of the jobs it chained. Both poll
 * the API; Relay has no push channel.
 */
import { type Job, type LogEntry, RelayApiError, type RelayClient } from '../sdk/client.ts';
import { EXIT, Exit, WaitTimeoutError } from './exit.ts';
import { progressLine, runHeader, runOutcome } from './format.ts';
import { findJob, type JobRef } from './job-ref.ts';

/** Pause between polls: quick enough to feel live, slow enough not to load the API. */
const POLL_MS = 500;
/** The API's largest log page. */
const LOG_PAGE = 1000;

/** Statuses a job does not leave on its own. */
const ENDED: readonly Job['status'][] = ['completed', 'dead', 'cancelled'];
export const hasEnded = (job: Job): boolean => ENDED.includes(job.status);

/** A watched job that ended dead or cancelled fails the command (exit 1); a completed one passes. */
export function passOrFail(job: Job): void {
  if (job.status !== 'completed') throw new Exit(EXIT.error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const refOf = (job: Job) => `${job.queue}/${job.id}`;
const note = (line: string) => process.stderr.write(`${line}\n`);

/** A log entry as `--json` prints it: `at` as an ISO time, like every other time Relay shows. */
const entryJson = (entry: LogEntry) =>
  JSON.stringify({
    ...entry,
    at: typeof entry.at === 'number' ? new Date(entry.at).toISOString() : entry.at,
  });

/**
 * Prints a job's log entries in order, each as the command wrote it on the stream it wrote it to,
 * after a header per run on stderr (attempt, run id, how it ended). With `json`, one JSON entry per
 * line and no headers.
 */
class LogPrinter {
  private after: string | undefined;
  /** The run whose output is being printed, and whether its header said it was still running. */
  private shown: { readonly runId: string; readonly attempt: number; readonly running: boolean } | undefined;

  constructor(
    private readonly client: RelayClient,
    private readonly ref: JobRef,
    private readonly options: {
      readonly runId?: string;
      readonly json?: boolean;
      readonly beforeWrite?: () => void;
    },
  ) {}

  /** Whether any entry was printed. */
  get printedAny(): boolean {
    return this.shown !== undefined;
  }

  /** Prints every entry past the last one printed; resolves to how many there were. */
  async drain(job: Job): Promise<number> {
    const entries: LogEntry[] = [];
    for (;;) {
      const page = await this.client.logs(this.ref.queue, this.ref.id, {
        runId: this.options.runId,
        after: this.after,
        limit: LOG_PAGE,
      });
      entries.push(...page.entries);
      this.after = page.next_cursor ?? this.after;
      // The store fills a page unless it reached the end.
      if (page.entries.length < LOG_PAGE) break;
    }
    if (entries.length) this.options.beforeWrite?.();
    entries.forEach((entry, i) => {
      if (!this.options.json && entry.run_id !== this.shown?.runId) {
        this.close(job, false);
        const latest = !entries.slice(i + 1).some((later) => later.run_id !== entry.run_id);
        const outcome = runOutcome(job, entry.run_id, latest);
        note(runHeader(entry.attempt, entry.run_id, outcome));
        this.shown = { runId: entry.run_id, attempt: entry.attempt, running: outcome === 'running' };
      }
      this.write(entry);
    });
    return entries.length;
  }

  /** Says how the run being printed ended, when its header said it was running and it is over. */
  close(job: Job, latest = true): void {
    const shown = this.shown;
    if (!shown?.running) return;
    const outcome = runOutcome(job, shown.runId, latest);
    if (outcome === 'running') return;
    this.options.beforeWrite?.();
    note(runHeader(shown.attempt, shown.runId, outcome));
    this.shown = { ...shown, running: false };
  }

  private write(entry: LogEntry): void {
    if (this.options.json) {
      process.stdout.write(`${entryJson(entry)}\n`);
      this.shown = { runId: entry.run_id, attempt: entry.attempt, running: false };
      return;
    }
    const out = entry.stream === 'stderr' ? process.stderr : process.stdout;
    // The truncation marker is Relay's note, not output: give it a line of its own.
    out.write(entry.truncated ? `${entry.text}\n` : entry.text);
  }
}

/**
 * Prints a job's output. With `follow`, keeps polling until the job has ended and a poll after
 * that brings nothing new, and resolves to the job as it ended. A pull job has no output (its
 * worker runs it): that is said at once, and with `follow` the command does not wait for it.
 */
export async function printLogs(
  client: RelayClient,
  ref: JobRef,
  options: { runId?: string; follow?: boolean; json?: boolean },
): Promise<Job | undefined> {
  let job = await client.status(ref.queue, ref.id);
  const name = refOf(job);
  if (job.type !== 'SHELL') {
    note(`${name} is a pull job (${job.status}): its worker runs it, so Relay keeps no output of it.`);
    note(`See how it is doing with: relay status ${name}`);
    return options.follow && hasEnded(job) ? job : undefined;
  }
  const printer = new LogPrinter(client, ref, options);
  if (!options.follow) {
    await printer.drain(job);
    if (!printer.printedAny) note(`${name} has no output yet (${job.status})`);
    return undefined;
  }
  let waiting = false;
  for (;;) {
    // Status before logs: the runner stores a run's output before its outcome, so once the job is
    // seen ended, the drain after it holds everything (a cancelled run may still add a little,
    // hence the last, empty poll).
    const printed = await printer.drain(job);
    if (hasEnded(job) && printed === 0) {
      printer.close(job);
      if (!printer.printedAny) note(`${name} ${runOutcome(job, '', true)}, with no output`);
      return job;
    }
    if (!printer.printedAny && !waiting && job.status !== 'running') {
      note(`waiting for ${name} to run (${job.status})…`);
      waiting = true;
    }
    await sleep(POLL_MS);
    job = await client.status(ref.queue, ref.id);
  }
}

/**
 * Where a waited-for job is, on stderr: one line rewritten in place on a terminal, else a line per
 * change of status or attempt.
 */
class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private shown: string | undefined;
  private onLine = false;

  constructor(private readonly startedAt: number) {}

  show(job: Job): void {
    const line = progressLine(job, Date.now() - this.startedAt);
    const state = `${refOf(job)} ${job.status} ${job.attempts}`;
    // `\x1b[K` clears what a longer earlier line left behind.
    if (this.tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (state !== this.shown) process.stderr.write(`${line}\n`);
    this.shown = state;
    this.onLine = this.tty;
  }

  /** Makes room for other output: a terminal's progress line is wiped, to be drawn again. */
  clear(): void {
    if (this.onLine) process.stderr.write('\r\x1b[K');
    this.onLine = false;
  }

  end(): void {
    if (this.onLine) process.stderr.write('\n');
    this.onLine = false;
  }
}

/**
 * Polls a job until it ends, then each job its `on_success` / `on_failure` chained, showing their
 * progress and (with `output`) their output. Resolves to every job followed, as it ended, the
 * submitted one first. Throws `WaitTimeoutError` once `timeoutMs` (counted from `startedAt`,
 * epoch ms) has passed.
 */
export async function waitForJobs(
  client: RelayClient,
  submitted: Job,
  options: { startedAt: number; timeoutMs?: number; output: boolean },
): Promise<Job[]> {
  const deadline = options.startedAt + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
  const progress = new Progress(options.startedAt);
  const ended: Job[] = [];
  const todo = [submitted];
  try {
    for (let job = todo.shift(); job; job = todo.shift()) {
      const last = await follow(client, job, progress, deadline, options);
      ended.push(last);
      for (const id of last.children) todo.push(await chained(client, last, id));
    }
    return ended;
  } finally {
    progress.end();
  }
}

/** Polls one job until it ends and a last poll of its output brings nothing new. */
async function follow(
  client: RelayClient,
  start: Job,
  progress: Progress,
  deadline: number,
  options: { timeoutMs?: number; output: boolean },
): Promise<Job> {
  const ref = { queue: start.queue, id: start.id };
  const printer =
    options.output && start.type === 'SHELL'
      ? new LogPrinter(client, ref, { beforeWrite: () => progress.clear() })
      : undefined;
  let job = start;
  for (;;) {
    progress.show(job);
    const printed = printer ? await printer.drain(job) : 0;
    if (hasEnded(job) && printed === 0) {
      printer?.close(job);
      progress.show(job);
      return job;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new WaitTimeoutError(
        `gave up waiting after ${(options.timeoutMs ?? 0) / 1000}s: ${refOf(job)} is still ${job.status} (see: relay status ${refOf(job)})`,
      );
    }
    await sleep(Math.min(POLL_MS, left));
    job = await client.status(ref.queue, ref.id);
  }
}

/** A job `parent` chained: in the parent's queue unless its spec named another. */
async function chained(client: RelayClient, parent: Job, id: string): Promise<Job> {
  try {
    return await client.status(parent.queue, id);
  } catch (error) {
    if (!(error instanceof RelayApiError && error.status === 404)) throw error;
    return (await findJob(client, id)).job;
  }
}
