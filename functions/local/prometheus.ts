/**
 * The local stack's metrics in Prometheus's text format (`GET /metrics`), from the same records
 * the store, the dispatcher and the sweep write as CloudWatch EMF on AWS: each EMF metric has one
 * Prometheus twin, named in `PROMETHEUS_NAMES`, so a Prometheus user and a CloudWatch user read the
 * same figures. Counts become counters (`_total`), durations histograms in seconds, and the sweep's
 * gauges (`DeadJobs`, `PendingJobs`, `OldestPendingAge`, `RunningJobs`) stay gauges; a name ending
 * in `_seconds` takes the EMF milliseconds divided by 1,000. Jobs by queue and status (`relay_jobs`) are counted from
 * DynamoDB at scrape time, as `GET /v1/queues/{queue}/stats` counts them.
 *
 * Only the local server loads this module (and prom-client): the Lambda functions write EMF.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobMetric, type JobMetricName, QUEUE_DIMENSION } from '../core/metric-names.ts';
import type { JobMetrics, MetricValues } from '../core/metrics.ts';
import type { QueueStats } from '../jobs/reads.ts';

type Kind = 'counter' | 'histogram' | 'gauge';

/** Each EMF metric's Prometheus name and type; the compiler checks that none is left out. */
export const PROMETHEUS_NAMES = {
  [JobMetric.ENQUEUED]: { name: 'relay_jobs_enqueued_total', kind: 'counter' },
  [JobMetric.CLAIMED]: { name: 'relay_jobs_claimed_total', kind: 'counter' },
  [JobMetric.COMPLETED]: { name: 'relay_jobs_completed_total', kind: 'counter' },
  [JobMetric.FAILED]: { name: 'relay_jobs_failed_total', kind: 'counter' },
  [JobMetric.RETRIED]: { name: 'relay_jobs_retried_total', kind: 'counter' },
  [JobMetric.DEAD]: { name: 'relay_jobs_dead_total', kind: 'counter' },
  [JobMetric.CANCELLED]: { name: 'relay_jobs_cancelled_total', kind: 'counter' },
  [JobMetric.CLAIM_CONFLICTS]: { name: 'relay_claim_conflicts_total', kind: 'counter' },
  [JobMetric.QUEUE_WAIT]: { name: 'relay_queue_wait_seconds', kind: 'histogram' },
  [JobMetric.RUN_DURATION]: { name: 'relay_run_duration_seconds', kind: 'histogram' },
  [JobMetric.DISPATCH_LAG]: { name: 'relay_dispatch_lag_seconds', kind: 'histogram' },
  [JobMetric.DEAD_JOBS]: { name: 'relay_dead_jobs', kind: 'gauge' },
  [JobMetric.PENDING_JOBS]: { name: 'relay_pending_jobs', kind: 'gauge' },
  [JobMetric.OLDEST_PENDING_AGE]: { name: 'relay_oldest_pending_age_seconds', kind: 'gauge' },
  [JobMetric.RUNNING_JOBS]: { name: 'relay_running_jobs', kind: 'gauge' },
  [JobMetric.TASK_FAILED]: { name: 'relay_task_failed_total', kind: 'counter' },
} as const satisfies Record<JobMetricName, { name: string; kind: Kind }>;

/** Jobs by queue and status, counted at scrape time. */
export const JOBS_GAUGE = 'relay_jobs';

/** Queue waits and runs last from milliseconds to hours; dispatch lag from milliseconds to minutes. */
const BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** What the `relay_jobs` gauge counts from: the job store's queue registry and queue stats. */
export interface QueueCounts {
  listQueues(): Promise<readonly { readonly queue: string }[]>;
  stats(queue: string): Promise<QueueStats>;
}

type Instrument = Counter<string> | Histogram<string> | Gauge<string>;

/** A Prometheus registry fed by the job metrics of one local stack. */
export class PrometheusMetrics implements JobMetrics {
  readonly registry = new Registry();
  private readonly instruments: Record<JobMetricName, Instrument>;

  constructor() {
    const labelNames = [QUEUE_DIMENSION];
    const registers = [this.registry];
    this.instruments = Object.fromEntries(
      Object.entries(PROMETHEUS_NAMES).map(([emf, { name, kind }]) => {
        const help = `Relay's ${emf} metric (CloudWatch EMF name ${emf}), by queue.`;
        const options = { name, help, labelNames, registers };
        const instrument =
          kind === 'counter'
            ? new Counter(options)
            : kind === 'histogram'
              ? new Histogram({ ...options, buckets: BUCKETS_SECONDS })
              : new Gauge(options);
        return [emf, instrument];
      }),
    ) as Record<JobMetricName, Instrument>;
  }

  /**
   * Each value of a metric is a sample of its own, as in EMF: a record merged from several
   * transitions (core/metric-batch.ts) counts, observes or sets every one of them.
   */
  record(queue: string, values: MetricValues): void {
    for (const [emf, value] of Object.entries(values) as [JobMetricName, MetricValues[JobMetricName]][]) {
      if (value === undefined) continue;
      const instrument = this.instruments[emf];
      const labels = { [QUEUE_DIMENSION]: queue };
      const seconds = PROMETHEUS_NAMES[emf].name.endsWith('_seconds');
      for (const sample of typeof value === 'number' ? [value] : value) {
        const scaled = seconds ? sample / 1000 : sample;
        if (instrument instanceof Counter) instrument.inc(labels, scaled);
        else if (instrument instanceof Histogram) instrument.observe(labels, scaled);
        else instrument.set(labels, scaled);
      }
    }
  }

  /** Adds `relay_jobs{queue,status}`, counted from `source` at each scrape. */
  countJobs(source: QueueCounts): void {
    new Gauge({
      name: JOBS_GAUGE,
      help: 'Jobs by queue and status now (pending, scheduled, running, failed, dead), counted at scrape time.',
      labelNames: [QUEUE_DIMENSION, 'status'],
      registers: [this.registry],
      async collect() {
        const queues = await source.listQueues();
        const counted = await Promise.all(
          queues.map(async ({ queue }) => [queue, await source.stats(queue)] as const),
        );
        // Rebuilt at each scrape: a queue that is gone leaves no stale series behind.
        this.reset();
        for (const [queue, stats] of counted) {
          for (const [status, count] of Object.entries(stats))
            this.set({ [QUEUE_DIMENSION]: queue, status }, count);
        }
      },
    });
  }

  /** The text exposition a scrape gets. */
  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
