/**
 * Job metrics, written as CloudWatch Embedded Metric Format (EMF) log lines.
 *
 * On Lambda, stdout goes to CloudWatch Logs, which turns each EMF line into metric values: no
 * `PutMetricData` call, no client and no IAM grant on the hot path.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { Env } from './env.ts';
import {
  JobMetric,
  type JobMetricName,
  METRIC_NAMESPACE,
  QUEUE_DIMENSION,
  RELAY_DIMENSION,
} from './metric-names.ts';

/** Metric values by name: one per transition, or several samples of a merged record (metric-batch.ts). */
export type MetricValues = Partial<Record<JobMetricName, number | readonly number[]>>;

/**
 * Correlation keys of the job a record is about. They go in the line as plain properties, not
 * dimensions: a dimension per job would make a metric per job, while properties stay searchable in
 * Logs Insights at no cost.
 */
export interface MetricContext {
  readonly job_id?: string;
  readonly run_id?: string;
  readonly attempt?: number;
}

/** Where the job store reports its transitions. */
export interface JobMetrics {
  /** Records `values` for `queue`. Called only after the transition was written. */
  record(queue: string, values: MetricValues, context?: MetricContext): void;
}

type Unit = 'Count' | 'Milliseconds';

const UNITS: Record<JobMetricName, Unit> = {
  [JobMetric.ENQUEUED]: 'Count',
  [JobMetric.CLAIMED]: 'Count',
  [JobMetric.COMPLETED]: 'Count',
  [JobMetric.FAILED]: 'Count',
  [JobMetric.RETRIED]: 'Count',
  [JobMetric.DEAD]: 'Count',
  [JobMetric.CANCELLED]: 'Count',
  [JobMetric.QUEUE_WAIT]: 'Milliseconds',
  [JobMetric.RUN_DURATION]: 'Milliseconds',
  [JobMetric.DEAD_JOBS]: 'Count',
  [JobMetric.CLAIM_CONFLICTS]: 'Count',
  [JobMetric.DISPATCH_LAG]: 'Milliseconds',
  [JobMetric.PENDING_JOBS]: 'Count',
  [JobMetric.OLDEST_PENDING_AGE]: 'Milliseconds',
  [JobMetric.RUNNING_JOBS]: 'Count',
  [JobMetric.TASK_FAILED]: 'Count',
};

/**
 * A metric's EMF definition. A count goes without its unit: EMF takes a missing unit as `None`, and
 * CloudWatch only labels a series with it (no alarm or graph of Relay's names a unit), while the
 * metric's name already says what it counts; that is 15 bytes less per count in every document.
 * Durations keep `Milliseconds`, the scale their values are in.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
const definition = (name: JobMetricName) =>
  UNITS[name] === 'Count' ? { Name: name } : { Name: name, Unit: UNITS[name] };

/** Which Relay the metrics are of, and which queues get series of their own. */
export interface MetricScope {
  /** The `relay` dimension's value. @default no `relay` dimension */
  readonly relay?: string;
  /** Queues with a `queue` dimension; the rest count in the aggregate only. @default every queue */
  readonly queues?: ReadonlySet<string>;
}

/**
 * The dimension sets of a record: per queue (for the queues in scope) and over all queues.
 * CloudWatch alarms cannot use SEARCH expressions, so an alarm over every queue reads the
 * aggregate. Each queue with a series of its own is ~14 custom metrics, hence `scope.queues`.
 */
function dimensionsOf(queue: string, scope: MetricScope): string[][] {
  const base = scope.relay === undefined ? [] : [RELAY_DIMENSION];
  const perQueue = !scope.queues || scope.queues.has(queue);
  return perQueue ? [[...base, QUEUE_DIMENSION], base] : [base];
}

/**
 * One EMF line per record. `write` defaults to stdout, which Lambda ships to CloudWatch Logs;
 * `clock` stamps the line (`_aws.Timestamp`, ms since the epoch).
 */
export function emfMetrics(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  clock: () => number = Date.now,
  scope: MetricScope = {},
): JobMetrics {
  return {
    record(queue, values, context = {}) {
      const recorded = Object.entries(values).filter(
        (entry): entry is [JobMetricName, number | number[]] => entry[1] !== undefined,
      );
      if (!recorded.length) return;
      const document = {
        _aws: {
          Timestamp: clock(),
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: dimensionsOf(queue, scope),
              Metrics: recorded.map(([name]) => definition(name)),
            },
          ],
        },
        ...(scope.relay === undefined ? {} : { [RELAY_DIMENSION]: scope.relay }),
        [QUEUE_DIMENSION]: queue,
        ...Object.fromEntries(recorded),
        ...context,
      };
      write(JSON.stringify(document));
    },
  };
}

/** Records nothing: the default of a store, and the choice off Lambda. */
export const noMetrics: JobMetrics = { record() {} };

/** Hands each record to every sink in turn (the local stack: Prometheus, and EMF when asked for). */
export const fanOut = (...sinks: readonly JobMetrics[]): JobMetrics => ({
  record(queue, values, context) {
    for (const sink of sinks) sink.record(queue, values, context);
  },
});

/** `RELAY_METRICS` values: `emf` writes EMF lines to stdout, `off` records nothing. */
const MODES = ['emf', 'off'] as const;

/**
 * EMF on Lambda, nothing elsewhere (a local stack or the CLI would only fill the terminal with
 * JSON), unless `RELAY_METRICS` says otherwise. Throws naming the variable when it is not a mode.
 */
export function metricsFromEnv(env: NodeJS.ProcessEnv = process.env): JobMetrics {
  const mode = env[Env.METRICS];
  if (mode !== undefined && mode !== '' && !MODES.includes(mode as (typeof MODES)[number])) {
    throw new Error(`invalid Relay configuration: ${Env.METRICS} must be one of ${MODES.join(', ')}`);
  }
  // Lambda sets AWS_LAMBDA_FUNCTION_NAME in every function's environment.
  const onLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const emf = mode ? mode === 'emf' : onLambda;
  return emf ? emfMetrics(undefined, undefined, scopeFromEnv(env)) : noMetrics;
}

/** `RELAY_NAME` and `RELAY_METRIC_QUEUES` (unset or `*`: every queue). */
function scopeFromEnv(env: NodeJS.ProcessEnv): MetricScope {
  const queues = env[Env.METRIC_QUEUES]?.split(',').map((q) => q.trim());
  return {
    ...(env[Env.NAME] ? { relay: env[Env.NAME] } : {}),
    ...(queues && !queues.includes('*') ? { queues: new Set(queues.filter(Boolean)) } : {}),
  };
}
