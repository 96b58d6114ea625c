/**
 * Small statistics and formatting helpers shared by the bench modules, so every section computes
 * percentiles and rates the same way and renders the same kind of table.
 */
import { addClientHook } from '../functions/core/clients.ts';

/**
 * The nearest-rank percentiles of `values`, keyed `p50`, `p95`…: `percentiles(v, [50, 99]).p99`.
 *
 * Nearest rank (the smallest value with at least p % of the values at or below it) always returns
 * a measured value, never an interpolation between two, so a p99 of 100 samples is the 99th
 * slowest sample. An empty input gives `NaN` for every percentile rather than a made-up zero.
 */
export function percentiles<const P extends readonly number[]>(
  values: readonly number[],
  ps: P,
): Record<`p${P[number]}`, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) {
    const rank = Math.ceil((p / 100) * sorted.length);
    out[`p${p}`] = sorted.length ? (sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number) : NaN;
  }
  return out as Record<`p${P[number]}`, number>;
}

/** A latency distribution as the bench reports it: sample count, p50/p95/p99 and the maximum. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Summarizes latencies (any unit; the bench uses milliseconds) as count, p50, p95, p99 and max. */
export function latency(values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    ...percentiles(values, [50, 95, 99]),
    max: values.length ? Math.max(...values) : NaN,
  };
}

/** Events per second: `count` events in `ms` milliseconds. */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : NaN;
}

/** Rounds to `digits` decimals, so results.json holds figures and not float noise. */
export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A number for a table cell: thousands separators, at most `digits` decimals, `–` for NaN. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/**
 * A GitHub-flavoured markdown table. Columns whose cells are all numbers (or numeric strings such as
 * `1,234`) are right-aligned so figures line up; `|` in a cell is escaped.
 */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (value: string | number | undefined) =>
    typeof value === 'number' ? num(value, 2) : (value ?? '').replaceAll('|', '\\|');
  const numeric = headers.map(
    (_, column) =>
      rows.length > 0 &&
      rows.every((row) => {
        const value = row[column];
        return typeof value === 'number' || /^[-+]?[\d,.]+%?$|^–$/.test(value ?? '');
      }),
  );
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(headers.map((h) => cell(h))),
    line(numeric.map((right) => (right ? '---:' : '---'))),
    ...rows.map((row) => line(headers.map((_, column) => cell(row[column])))),
  ].join('\n');
}

/** Runs `fn` and returns its result with the wall-clock time it took, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - started };
}

/** DynamoDB requests to one table, as a client hook counted them. */
export interface RequestCount {
  requests: number;
  /**
   * Writes rejected by their condition (`ConditionalCheckFailedException`, or a transaction
   * cancelled because a condition failed): lost races, mostly.
   */
  conditionalFailures: number;
}

/** Whether a DynamoDB call's input touches `tableName`: directly, in a transaction or in a batch. */
function touches(input: Record<string, unknown>, tableName: string): boolean {
  if (input.TableName === tableName) return true;
  const batch = input.RequestItems as Record<string, unknown> | undefined;
  if (batch && tableName in batch) return true;
  const actions = (input.TransactItems ?? []) as Record<string, { TableName?: string }>[];
  return actions.some((action) => Object.values(action).some((a) => a?.TableName === tableName));
}

function isConditionalFailure(error: unknown): boolean {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (e?.name === 'ConditionalCheckFailedException') return true;
  return (
    e?.name === 'TransactionCanceledException' &&
    (e.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed')
  );
}

/**
 * Counts the DynamoDB requests to `tableName` made by Relay's clients in this process, and those
 * whose condition failed, until `remove` is called. It is a client hook, so it sees every attempt
 * the store makes (each write of a claim that lost its race), not just what an API returned.
 */
export function countRequests(tableName: string): { count: RequestCount; remove: () => void } {
  const count: RequestCount = { requests: 0, conditionalFailures: 0 };
  const remove = addClientHook(async (call, next) => {
    if (call.service !== 'DynamoDB' || !touches(call.input, tableName)) return next();
    count.requests++;
    try {
      return await next();
    } catch (error) {
      if (isConditionalFailure(error)) count.conditionalFailures++;
      throw error;
    }
  });
  return { count, remove };
}
