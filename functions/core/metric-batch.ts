/**
 * Metric records of one invocation, written as one EMF document per queue instead of one per
 * transition.
 *
 * A claim of 100 jobs records 100 transitions; as 100 EMF lines that is about 30 KB of CloudWatch
 * Logs for what one line carries. Inside `withMetricBatch`, records are held and, when the call
 * ends, each queue's are merged: every metric's values become one array (EMF takes up to 100 values
 * per metric, each a sample of its own), so every statistic CloudWatch computes (Sum, SampleCount,
 * percentiles) stays what the separate lines gave. What a merged document leaves out is the
 * per-job correlation keys; a lone record keeps them.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { describeError, log } from './log.ts';
import type { JobMetricName } from './metric-names.ts';
import type { JobMetrics, MetricContext, MetricValues } from './metrics.ts';

interface Held {
  readonly sink: JobMetrics;
  readonly queue: string;
  readonly values: MetricValues;
  readonly context?: MetricContext;
}

/** EMF's bound on the values of one metric in one document. */
const MAX_VALUES = 100;

interface Batch {
  readonly held: Held[];
  /** False once the call ended: later records (of work it left running) are written at once. */
  open: boolean;
}

const batches = new AsyncLocalStorage<Batch>();

/**
 * Runs `fn`, holding the metric records it makes (through `recordInBatch`) until it ends, then
 * writes them merged; they are written whether `fn` resolves or throws. Records made by work that
 * outlives `fn` are written as they come.
 */
export async function withMetricBatch<T>(fn: () => Promise<T>): Promise<T> {
  const batch: Batch = { held: [], open: true };
  try {
    return await batches.run(batch, fn);
  } finally {
    batch.open = false;
    writeMerged(batch.held);
  }
}

/** Records to `sink` now, or, inside `withMetricBatch`, when the batch ends. */
export function recordInBatch(
  sink: JobMetrics,
  queue: string,
  values: MetricValues,
  context?: MetricContext,
): void {
  const batch = batches.getStore();
  if (batch?.open) batch.held.push({ sink, queue, values, context });
  else sink.record(queue, values, context);
}

/** Writes held records: per sink and queue, up to `MAX_VALUES` records to a document. */
function writeMerged(records: readonly Held[]): void {
  const groups = new Map<JobMetrics, Map<string, Held[]>>();
  for (const r of records) {
    const byQueue = groups.get(r.sink) ?? new Map<string, Held[]>();
    groups.set(r.sink, byQueue);
    byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
  }
  for (const [sink, byQueue] of groups) {
    for (const [queue, held] of byQueue) {
      for (let at = 0; at < held.length; at += MAX_VALUES) {
        const part = held.slice(at, at + MAX_VALUES);
        const only = part.length === 1 ? part[0] : undefined;
        try {
          if (only) sink.record(queue, only.values, only.context);
          else sink.record(queue, merged(part));
        } catch (error) {
          // The transitions are written: a sink that fails costs their metrics, never the answer.
          log('warn', 'job metrics were not recorded', {
            queue,
            records: part.length,
            ...describeError(error),
          });
        }
      }
    }
  }
}

/** Each metric's values, in the order they were recorded. */
function merged(held: readonly Held[]): MetricValues {
  const values: Partial<Record<JobMetricName, number[]>> = {};
  for (const r of held) {
    for (const [name, value] of Object.entries(r.values) as [JobMetricName, MetricValues[JobMetricName]][]) {
      if (value === undefined) continue;
      values[name] = [...(values[name] ?? []), ...(typeof value === 'number' ? [value] : value)];
    }
  }
  return values;
}
