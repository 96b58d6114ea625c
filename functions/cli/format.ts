/**
 * Plain-text output for people: aligned columns, one job per row, `-` for nothing. Scripts should
 * use `--json`, which prints the API's JSON instead.
 */
import type { Job, JobPage, QueueStats, QueueSummary } from '../sdk/client.ts';

/** Longest cell in a multi-row table; a whole value is one `relay status` or `--json` away. */
const MAX_CELL = 60;

/** One line of text for a value: strings as they are, anything else as compact JSON. */
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

/** One row per job, and how to get the next page when there is one. */
export function jobPage(page: JobPage, empty: string): string {
  if (!page.jobs.length) return empty;
  const rows = page.jobs.map((job) => [
    cell(job.queue, MAX_CELL),
    cell(job.id, MAX_CELL),
    job.status,
    String(job.attempts),
    cell(job.retries_remaining ?? 'unlimited'),
    cell(job.run_at),
    cell(job.last_error, MAX_CELL),
  ]);
  const lines = table(['QUEUE', 'ID', 'STATUS', 'ATTEMPTS', 'RETRIES LEFT', 'RUN AT', 'LAST ERROR'], rows);
  return page.next_cursor ? `${lines}\n\nnext page: --cursor ${page.next_cursor}` : lines;
}

const COUNTS = ['pending', 'scheduled', 'running', 'failed', 'dead'] as const;
const COUNT_HEADER = COUNTS.map((c) => c.toUpperCase());

export const queueStats = (stats: QueueStats): string =>
  table(['QUEUE', ...COUNT_HEADER], [[cell(stats.queue), ...COUNTS.map((c) => String(stats[c]))]]);

export function queueList(queues: readonly QueueSummary[]): string {
  if (!queues.length) return 'no queues yet';
  return table(
    ['QUEUE', 'ORDERING', 'SHARDS', ...COUNT_HEADER],
    queues.map((q) => [cell(q.name), q.ordering, String(q.shards), ...COUNTS.map((c) => String(q[c]))]),
  );
}

/** Where a job being waited for is: `default/01J… running (attempt 2) 3.2s`. */
export function progressLine(job: Job, elapsedMs: number): string {
  const attempt = job.attempts > 0 ? ` (attempt ${job.attempts})` : '';
  return `${job.queue}/${job.id} ${job.status}${attempt} ${(elapsedMs / 1000).toFixed(1)}s`;
}
