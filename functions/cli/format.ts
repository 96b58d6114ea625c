/**
 * Plain-text output for people: aligned columns, one job per row, `-` for nothing. Scripts should
 * use `--json`, which prints the API's JSON instead.
 */
import type {
  Job,
  JobPage,
  QueueLimits,
  QueueLimitsView,
  QueueSettings,
  QueueState,
  QueueStats,
  QueueSummary,
  Run,
  Schedule,
} from '../sdk/client.ts';

/**
 * One line of text for a value: strings as they are, anything else as compact JSON, cut to `max`
 * (a whole value is one `relay status` or `--json` away).
 */
function cell(value: unknown, max = Number.POSITIVE_INFINITY): string {
  const text =
    value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);
  // Control characters (newlines in an error, say) would break the columns.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point.
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Left-aligned columns separated by two spaces, without trailing blanks. */
export function table(header: readonly string[] | undefined, rows: readonly (readonly string[])[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths = all.reduce<number[]>((w, row) => row.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return all
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Every field of one job, in the API's order. */
export const jobDetail = (job: Job): string =>
  table(
    undefined,
    Object.entries(job).map(([field, value]) => [field, cell(value)]),
  );

/** Widest a `relay list` line gets: it fits a 100-column terminal. */
export const LIST_WIDTH = 100;

/** How long ago (or from now) a time is, coarsely: `just now`, `42s ago`, `5m ago`, `in 3h`, `2d ago`. */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso) - now;
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 1) return 'just now';
  const [value, unit] =
    s < 60
      ? [s, 's']
      : s < 3600
        ? [Math.floor(s / 60), 'm']
        : s < 86_400
          ? [Math.floor(s / 3600), 'h']
          : [Math.floor(s / 86_400), 'd'];
  return ms < 0 ? `${value}${unit} ago` : `in ${value}${unit}`;
}

/** A waiting job's status with when it runs: `scheduled in 59m`, `failed, retry in 8s`. */
function statusCell(job: Job, now: number): string {
  if (job.status === 'scheduled') return `scheduled ${relativeTime(job.run_at, now)}`;
  if (job.status === 'failed') return `failed, retry ${relativeTime(job.run_at, now)}`;
  return job.status;
}

/**
 * One row per job, newest first as the API lists them (the CREATED column), and how to get the
 * next page. Queue and id are cut to a fair share of the line and the last error to what is left,
 * so each line fits `LIST_WIDTH` columns.
 */
export function jobPage(page: JobPage, empty: string, now = Date.now()): string {
  if (!page.jobs.length) return empty;
  const header = ['QUEUE', 'ID', 'STATUS', 'ATTEMPTS', 'CREATED', 'LAST ERROR'];
  const rows = page.jobs.map((job) => [
    cell(job.queue, 16),
    cell(job.id, 28),
    statusCell(job, now),
    String(job.attempts),
    relativeTime(job.created_at, now),
    job.last_error,
  ]);
  const widthOf = (column: number) =>
    Math.max(header[column]?.length ?? 0, ...rows.map((row) => String(row[column] ?? '').length));
  const used = [0, 1, 2, 3, 4].reduce((sum, column) => sum + widthOf(column) + 2, 0);
  const errorWidth = Math.max(header[5]?.length ?? 0, LIST_WIDTH - used);
  const lines = table(
    header,
    rows.map((row) => [...(row.slice(0, 5) as string[]), cell(row[5], errorWidth)]),
  );
  return page.next_cursor ? `${lines}\n\nnext page: --cursor ${page.next_cursor}` : lines;
}

const COUNTS = ['pending', 'scheduled', 'running', 'failed', 'dead'] as const;
const COUNT_HEADER = COUNTS.map((c) => c.toUpperCase());

/** `paused` or `running`: what a claim on the queue gets. */
const stateOf = (settings: QueueSettings): string => (settings.paused ? 'paused' : 'running');

/**
 * A queue setting in a cell: `off` when cleared (`null`), `-` when the Relay answering does not
 * report it (an older one), else the value as `show` writes it.
 */
const setting = <T>(value: T | null | undefined, show: (value: T) => string): string =>
  value === null ? 'off' : value === undefined ? '-' : show(value);

/** `off`, or the aging rate: `30s/level`. */
const agingOf = (settings: QueueSettings): string =>
  setting(settings.aging_seconds_per_level, (rate) => `${rate}s/level`);

/** A queue's rate limit in a cell, rate and burst: `5/s:10`, or `off`. */
const rateOf = (limits: QueueLimits): string =>
  setting(limits.rate_per_second, (rate) => `${rate}/s:${limits.burst}`);

/** A queue's concurrency limit in a cell: `4`, or `off`. */
const maxOf = (limits: QueueLimits): string => setting(limits.max_running, String);

/** A queue's limits after `relay limits`: `emails rate 5/s, burst 10, max running 4`. */
export const queueLimits = (view: QueueLimitsView): string =>
  `${view.queue} rate ${view.rate_per_second === null ? 'off' : `${view.rate_per_second}/s, burst ${view.burst}`}` +
  `, max running ${view.max_running ?? 'off'}`;

export const queueStats = (stats: QueueStats): string =>
  table(
    ['QUEUE', 'STATE', 'AGING', 'RATE:BURST', 'MAX', ...COUNT_HEADER],
    [
      [
        cell(stats.queue),
        stateOf(stats),
        agingOf(stats),
        rateOf(stats),
        maxOf(stats),
        ...COUNTS.map((c) => String(stats[c])),
      ],
    ],
  );

/** A queue after pause, resume or a settings change: `q paused (since …), aging off`. */
export const queueState = (state: QueueState): string =>
  `${state.name} ${stateOf(state)}${state.paused_at ? ` (since ${state.paused_at})` : ''}, aging ${agingOf(state)}`;

export function queueList(queues: readonly QueueSummary[]): string {
  if (!queues.length) return 'no queues yet';
  return table(
    ['QUEUE', 'STATE', 'ORDERING', 'SHARDS', 'AGING', 'RATE:BURST', 'MAX', ...COUNT_HEADER],
    queues.map((q) => [
      cell(q.name),
      stateOf(q),
      q.ordering,
      String(q.shards),
      agingOf(q),
      rateOf(q),
      maxOf(q),
      ...COUNTS.map((c) => String(q[c])),
    ]),
  );
}

/** Where a job being waited for is: `default/01J… running (attempt 2) 3.2s`. */
export function progressLine(job: Job, elapsedMs: number): string {
  const attempt = job.attempts > 0 ? ` (attempt ${job.attempts})` : '';
  return `${job.queue}/${job.id} ${job.status}${attempt} ${(elapsedMs / 1000).toFixed(1)}s`;
}

/**
 * How one run of a job ended, as far as the job tells: `running`, `completed (exit 0)`,
 * `dead: exited with code 3`… A run that is not the job's latest was followed by another run:
 * it is `retried` (the job keeps no record of each run's end, only of its last).
 */
export function runOutcome(job: Job, runId: string, latest: boolean, now = Date.now()): string {
  if (job.status === 'running' && job.run_id === runId) return 'running';
  if (!latest || job.status === 'running') return 'retried';
  const error = job.last_error ?? 'no error recorded';
  switch (job.status) {
    case 'completed':
      return job.result?.exit_code == null ? 'completed' : `completed (exit ${job.result.exit_code})`;
    case 'dead':
      return `dead: ${error}`;
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return `failed: ${error}; retry ${relativeTime(job.run_at, now)}`;
    default:
      return `ended: ${error}; waiting to run again`;
  }
}

/** The line before a run's output: `--- attempt 2 · run 9b1f… · completed (exit 0)`. */
export const runHeader = (attempt: number, runId: string, outcome: string): string =>
  `--- attempt ${attempt} · run ${runId} · ${outcome}`;

/** Every field of one schedule, its next fire times one per line. */
export const scheduleDetail = (schedule: Schedule): string =>
  table(
    undefined,
    Object.entries(schedule).flatMap(([field, value]) =>
      field === 'next_fire_times'
        ? schedule.next_fire_times.map((time, i) => [i ? '' : field, time])
        : [[field, cell(value)]],
    ),
  );

export function scheduleList(schedules: readonly Schedule[]): string {
  if (!schedules.length) return 'no schedules';
  return table(
    ['NAME', 'CRON', 'TIMEZONE', 'KIND', 'QUEUE', 'NEXT FIRE', 'LAST JOB'],
    schedules.map((s) => [
      cell(s.name),
      cell(s.cron),
      cell(s.timezone),
      s.kind,
      cell(s.job.queue ?? 'default'),
      s.paused ? 'paused' : cell(s.next_fire_at),
      cell(s.last_job?.id, 60),
    ]),
  );
}

/** How long a run took, from its start to its end (or now, while it goes on): `1.2s`, `-` when its start is unknown. */
function runTook(run: Run, now: number): string {
  if (run.started_at === null) return '-';
  const end = run.ended_at === null ? now : Date.parse(run.ended_at);
  return `${((end - Date.parse(run.started_at)) / 1000).toFixed(1)}s`;
}

/** One row per run, oldest first: its attempt, run id, outcome, when it ended, and who ran it. */
export function runList(runs: readonly Run[], now = Date.now()): string {
  if (!runs.length) return 'no runs yet';
  return table(
    ['ATTEMPT', 'RUN ID', 'OUTCOME', 'ENDED', 'TOOK', 'EXIT', 'WORKER', 'ERROR'],
    runs.map((run) => [
      String(run.attempt),
      run.run_id,
      run.outcome ?? 'running',
      run.ended_at === null ? '-' : relativeTime(run.ended_at, now),
      runTook(run, now),
      run.exit_code === null ? '-' : String(run.exit_code),
      cell(run.worker ?? '-', 24),
      cell(run.error ?? '', 40),
    ]),
  );
}
