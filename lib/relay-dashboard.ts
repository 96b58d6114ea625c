import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IAlarm,
  type IMetric,
  type IWidget,
  LogQueryWidget,
  Metric,
  Stats,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { JobMetric, type JobMetricName } from '../functions/core/metric-names.ts';
import type { DispatchQueue } from './dispatch-queue.ts';
import { jobMetric, jobMetricPerQueue } from './job-metrics.ts';

export interface RelayDashboardProps {
  /** The dispatch queue and its dead-letter queue: depth, age of the oldest hint, dead letters. */
  readonly dispatchQueue: DispatchQueue;
  /** Relay's functions by label (`{ api, dispatcher, maintenance }`); the label names their series. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The HTTP API: requests, 4xx, 5xx and latency. */
  readonly api: IHttpApi;
  /**
   * The cluster the runner's Fargate tasks run in. Its tasks are counted by Container Insights, which
   * must be on for the cluster.
   */
  readonly cluster: ICluster;
  /** Log groups the "Recent failures" Logs Insights widget queries: the functions' and the runner's. */
  readonly logGroups: readonly ILogGroup[];
  /**
   * Alarms whose state the dashboard shows in a row above the graphs.
   *
   * @default no alarm row
   */
  readonly alarms?: readonly IAlarm[];
}

/** Job counters, in the order a job meets them. */
const COUNTS: readonly JobMetricName[] = [
  JobMetric.ENQUEUED,
  JobMetric.CLAIMED,
  JobMetric.COMPLETED,
  JobMetric.FAILED,
  JobMetric.RETRIED,
  JobMetric.DEAD,
  JobMetric.CANCELLED,
];

const HEIGHT = 6;
/** Rows of the dashboard's 24-unit grid hold four narrow or three wide widgets. */
const NARROW = 6;
const WIDE = 8;

/**
 * Recent warnings, errors and failed runs across the log groups, newest first.
 *
 * Relay logs one JSON object a line (`functions/core/log.ts`) and Logs Insights discovers the fields
 * of a Lambda line's first JSON fragment, so the correlation keys are columns. A run that ended
 * badly is logged at info level as "run ended" with the job's new status (`functions/runner/job.ts`);
 * `errorType` and "Task timed out" catch what the runtime logs when a handler throws or times out.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html
 */
export const RECENT_FAILURES_QUERY: readonly string[] = [
  'fields @timestamp, @log, level, message, queue, job_id, run_id, attempt, status, error, error_message, errorType, errorMessage',
  'filter level in ["warn", "error"] or (message = "run ended" and status in ["failed", "dead"]) ' +
    'or ispresent(errorType) or @message like /Task timed out/',
  'sort @timestamp desc',
  'limit 100',
];

/**
 * Relay's operational dashboard: jobs by state and by queue, queue wait and run duration, the
 * dispatch queue and its dead letters, the functions, the API, the runner's tasks, and recent
 * failures from the logs.
 *
 * Per-queue graphs find their queues with SEARCH expressions, so queues created after the deploy
 * appear without one.
 */
export class RelayDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: RelayDashboardProps) {
    super(scope, id);
    validate(props);
    const { queue } = props.dispatchQueue;
    const functions = Object.entries(props.functions);
    const perFunction = (metric: (fn: IFunction, label: string) => IMetric[]): IMetric[] =>
      functions.flatMap(([label, fn]) => metric(fn, label));

    const rows: IWidget[][] = [];
    if (props.alarms?.length) {
      rows.push([new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24 })]);
    }
    const jobs = [
      graph(
        'Jobs by state (all queues)',
        NARROW,
        COUNTS.map((name) => jobMetric(name, Stats.SUM, { label: name })),
      ),
      ...COUNTS.map((name) => graph(`${name} per queue`, NARROW, [jobMetricPerQueue(name, Stats.SUM)])),
    ];
    rows.push(jobs.slice(0, 4), jobs.slice(4));
    rows.push([
      graph('Queue wait (all queues)', NARROW, percentiles(JobMetric.QUEUE_WAIT), 'ms'),
      graph('Queue wait p99 per queue', NARROW, [jobMetricPerQueue(JobMetric.QUEUE_WAIT, Stats.p(99))], 'ms'),
      graph('Run duration (all queues)', NARROW, percentiles(JobMetric.RUN_DURATION), 'ms'),
      graph(
        'Run duration p99 per queue',
        NARROW,
        [jobMetricPerQueue(JobMetric.RUN_DURATION, Stats.p(99))],
        'ms',
      ),
    ]);
    rows.push([
      graph('Dispatch queue messages', WIDE, [
        queue.metricApproximateNumberOfMessagesVisible({ label: 'Visible' }),
        queue.metricApproximateNumberOfMessagesNotVisible({ label: 'In flight' }),
        queue.metricApproximateNumberOfMessagesDelayed({ label: 'Delayed (backoff)' }),
      ]),
      graph(
        'Oldest dispatch message age',
        WIDE,
        [queue.metricApproximateAgeOfOldestMessage({ label: 'Oldest message' })],
        'seconds',
      ),
      graph('Dead letters', WIDE, [props.dispatchQueue.metricDeadLetters()]),
    ]);
    rows.push([
      graph(
        'Lambda errors',
        WIDE,
        perFunction((fn, label) => [fn.metricErrors({ label })]),
      ),
      graph(
        'Lambda throttles',
        WIDE,
        perFunction((fn, label) => [fn.metricThrottles({ label })]),
      ),
      graph(
        'Lambda duration',
        WIDE,
        perFunction((fn, label) => [
          fn.metricDuration({ statistic: Stats.p(50), label: `${label} p50` }),
          fn.metricDuration({ statistic: Stats.p(99), label: `${label} p99` }),
        ]),
        'ms',
      ),
    ]);
    rows.push([
      graph('API requests and errors', WIDE, [
        props.api.metricCount({ statistic: Stats.SUM, label: 'Requests' }),
        props.api.metricClientError({ label: '4xx' }),
        props.api.metricServerError({ label: '5xx' }),
      ]),
      graph(
        'API latency',
        WIDE,
        [
          props.api.metricLatency({ statistic: Stats.p(50), label: 'p50' }),
          props.api.metricLatency({ statistic: Stats.p(99), label: 'p99' }),
        ],
        'ms',
      ),
      graph('Runner tasks running', WIDE, [runningTasks(props.cluster)]),
    ]);
    rows.push([
      new LogQueryWidget({
        title: 'Recent failures',
        logGroupNames: props.logGroups.map((group) => group.logGroupName),
        queryLines: [...RECENT_FAILURES_QUERY],
        width: 24,
        height: HEIGHT,
      }),
    ]);

    this.dashboard = new Dashboard(this, 'Dashboard', { widgets: rows });
  }
}

function graph(title: string, width: number, metrics: IMetric[], unit?: string): GraphWidget {
  return new GraphWidget({
    title,
    width,
    height: HEIGHT,
    left: metrics,
    leftYAxis: { min: 0, label: unit },
  });
}

/** p50 and p99 of a duration over every queue. */
function percentiles(name: JobMetricName): IMetric[] {
  return [50, 99].map((p) => jobMetric(name, Stats.p(p), { label: `p${p}` }));
}

/**
 * Fargate tasks running in the cluster.
 *
 * The runner's tasks are started with RunTask, outside any service, so Container Insights counts
 * them in `TaskCount` (dimension `ClusterName`); `RunningTaskCount` exists only per service.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
 */
function runningTasks(cluster: ICluster): Metric {
  return new Metric({
    namespace: 'ECS/ContainerInsights',
    metricName: 'TaskCount',
    dimensionsMap: { ClusterName: cluster.clusterName },
    statistic: Stats.MAXIMUM,
    label: 'Tasks running',
  });
}

function validate(props: RelayDashboardProps): void {
  if (props.logGroups.length === 0) {
    throw new Error(
      'RelayDashboard logGroups is empty, but the "Recent failures" widget needs a log group to query: ' +
        "pass the functions' (and the runner's) log groups.",
    );
  }
}
