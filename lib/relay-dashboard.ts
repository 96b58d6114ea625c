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
  type MetricOptions,
  Stats,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { JobMetric, type JobMetricName } from '../functions/core/metric-names.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import { jobMetricPerQueue as perQueueMetric, jobMetric as relayMetric } from './job-metrics.ts';
import type { IJobTable } from './job-table.ts';

export interface RelayDashboardProps {
  /** This Relay's name in its metrics (`RELAY_NAME`): the graphs of Relay's own metrics show only its series. */
  readonly relayName: string;
  /** The jobs table: DynamoDB throttles and system errors. */
  readonly table: IJobTable;
  /**
   * The dispatch queue and its dead-letter queue: depth, age of the oldest hint, dead letters.
   *
   * @default none: managed jobs are off, no dispatch widgets
   */
  readonly dispatchQueue?: IDispatchQueue;
  /** Relay's functions by label (`{ api, dispatcher, maintenance }`); the label names their series. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The HTTP API: requests, 4xx, 5xx and latency. */
  readonly api: IHttpApi;
  /**
   * The cluster the runner's Fargate tasks run in. Its tasks are counted by Container Insights, which
   * must be on for the cluster.
   *
   * @default none: no runner widget
   */
  readonly cluster?: ICluster;
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
/** The dashboard's grid is 24 units wide. */
const GRID_WIDTH = 24;

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
 * backlog now (waiting, oldest waiting, running, dead), DynamoDB throttles and errors, the functions, the API, recent failures from the logs, and with managed jobs the
 * dispatch queue, its dead letters and the runner's tasks.
 *
 * Per-queue graphs find their queues with SEARCH expressions, so queues created after the deploy
 * appear without one.
 */
export class RelayDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: RelayDashboardProps) {
    super(scope, id);
    validate(props);
    const { dispatchQueue, cluster, relayName: relay, table } = props;
    const jobMetric: BoundJobMetric = (name, statistic, options) =>
      relayMetric(relay, name, statistic, options);
    const perQueue = (name: JobMetricName, statistic: string) => perQueueMetric(relay, name, statistic);
    const functions = Object.entries(props.functions);
    const perFunction = (metric: (fn: IFunction, label: string) => IMetric[]): IMetric[] =>
      functions.flatMap(([label, fn]) => metric(fn, label));

    const rows: IWidget[][] = [];
    if (props.alarms?.length) {
      rows.push([new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: GRID_WIDTH })]);
    }
    const jobs: Graph[] = [
      {
        title: 'Jobs by state (all queues)',
        metrics: COUNTS.map((name) => jobMetric(name, Stats.SUM, { label: name })),
      },
      ...COUNTS.map((name) => ({
        title: `${name} per queue`,
        metrics: [perQueue(name, Stats.SUM)],
      })),
    ];
    rows.push(row(jobs.slice(0, 4)), row(jobs.slice(4)));
    rows.push(
      row([
        {
          title: 'Queue wait (all queues)',
          metrics: percentiles(jobMetric, JobMetric.QUEUE_WAIT),
          unit: 'ms',
        },
        {
          title: 'Queue wait p99 per queue',
          metrics: [perQueue(JobMetric.QUEUE_WAIT, Stats.p(99))],
          unit: 'ms',
        },
        {
          title: 'Run duration (all queues)',
          metrics: percentiles(jobMetric, JobMetric.RUN_DURATION),
          unit: 'ms',
        },
        {
          title: 'Run duration p99 per queue',
          metrics: [perQueue(JobMetric.RUN_DURATION, Stats.p(99))],
          unit: 'ms',
        },
      ]),
    );
    // The backlog gauges of the maintenance pass: values now, so their Maximum, never a sum.
    rows.push(
      row([
        { title: 'Jobs waiting per queue', metrics: [perQueue(JobMetric.PENDING_JOBS, Stats.MAXIMUM)] },
        {
          title: 'Oldest waiting job per queue',
          metrics: [perQueue(JobMetric.OLDEST_PENDING_AGE, Stats.MAXIMUM)],
          unit: 'ms',
        },
        { title: 'Runs in flight per queue', metrics: [perQueue(JobMetric.RUNNING_JOBS, Stats.MAXIMUM)] },
        // Claim writes that lost their race to another claimer: each is a write unit that bought nothing.
        { title: 'Claim conflicts per queue', metrics: [perQueue(JobMetric.CLAIM_CONFLICTS, Stats.SUM)] },
      ]),
    );
    // DeadJobs is a gauge: the jobs dead now, so its Maximum, never a sum over the period.
    rows.push(
      row([
        {
          title: 'Dead jobs now (all queues)',
          metrics: [jobMetric(JobMetric.DEAD_JOBS, Stats.MAXIMUM, { label: 'Dead jobs' })],
        },
        {
          title: 'Dead jobs now per queue',
          metrics: [perQueue(JobMetric.DEAD_JOBS, Stats.MAXIMUM)],
        },
        ...(dispatchQueue ? [{ title: 'Dead letters', metrics: [dispatchQueue.metricDeadLetters()] }] : []),
      ]),
    );
    if (dispatchQueue) {
      const { queue } = dispatchQueue;
      const managed: Graph[] = [];
      managed.push(
        {
          title: 'Dispatch queue messages',
          metrics: [
            queue.metricApproximateNumberOfMessagesVisible({ label: 'Visible' }),
            queue.metricApproximateNumberOfMessagesNotVisible({ label: 'In flight' }),
            queue.metricApproximateNumberOfMessagesDelayed({ label: 'Delayed (backoff)' }),
          ],
        },
        {
          title: 'Oldest dispatch message age',
          metrics: [queue.metricApproximateAgeOfOldestMessage({ label: 'Oldest message' })],
          unit: 'seconds',
        },
        {
          title: 'Dispatch lag (all queues)',
          metrics: percentiles(jobMetric, JobMetric.DISPATCH_LAG),
          unit: 'ms',
        },
      );
      rows.push(row(managed));
    }
    if (cluster) {
      rows.push(
        row([
          { title: 'Runner tasks running', metrics: [runningTasks(cluster)] },
          {
            title: 'Runner tasks stopped mid-run',
            metrics: [jobMetric(JobMetric.TASK_FAILED, Stats.SUM, { label: 'Tasks stopped mid-run' })],
          },
        ]),
      );
    }
    rows.push(
      row([
        {
          title: 'DynamoDB throttled requests',
          metrics: [table.metricThrottledRequests({ statistic: Stats.SUM, label: 'Throttled' })],
        },
        {
          title: 'DynamoDB system errors',
          metrics: [table.metricSystemErrors({ statistic: Stats.SUM, label: 'System errors' })],
        },
      ]),
    );
    rows.push(
      row([
        { title: 'Lambda errors', metrics: perFunction((fn, label) => [fn.metricErrors({ label })]) },
        { title: 'Lambda throttles', metrics: perFunction((fn, label) => [fn.metricThrottles({ label })]) },
        {
          title: 'Lambda duration',
          metrics: perFunction((fn, label) => [
            fn.metricDuration({ statistic: Stats.p(50), label: `${label} p50` }),
            fn.metricDuration({ statistic: Stats.p(99), label: `${label} p99` }),
          ]),
          unit: 'ms',
        },
      ]),
    );
    rows.push(
      row([
        {
          title: 'API requests and errors',
          metrics: [
            props.api.metricCount({ statistic: Stats.SUM, label: 'Requests' }),
            props.api.metricClientError({ label: '4xx' }),
            props.api.metricServerError({ label: '5xx' }),
          ],
        },
        {
          title: 'API latency',
          metrics: [
            props.api.metricLatency({ statistic: Stats.p(50), label: 'p50' }),
            props.api.metricLatency({ statistic: Stats.p(99), label: 'p99' }),
          ],
          unit: 'ms',
        },
      ]),
    );
    rows.push([
      new LogQueryWidget({
        title: 'Recent failures',
        logGroupNames: props.logGroups.map((group) => group.logGroupName),
        queryLines: [...RECENT_FAILURES_QUERY],
        width: GRID_WIDTH,
        height: HEIGHT,
      }),
    ]);

    this.dashboard = new Dashboard(this, 'Dashboard', { widgets: rows });
  }
}

/** One graph: its title, its series and the unit of its left axis. */
interface Graph {
  readonly title: string;
  readonly metrics: IMetric[];
  readonly unit?: string;
}

/** A row of graphs sharing the grid's width equally. */
function row(graphs: readonly Graph[]): GraphWidget[] {
  const width = Math.floor(GRID_WIDTH / graphs.length);
  return graphs.map(
    ({ title, metrics, unit }) =>
      new GraphWidget({ title, width, height: HEIGHT, left: metrics, leftYAxis: { min: 0, label: unit } }),
  );
}

/** A job metric of this Relay over every queue. */
type BoundJobMetric = (name: JobMetricName, statistic: string, options?: MetricOptions) => IMetric;

/** p50 and p99 of a duration over every queue. */
function percentiles(jobMetric: BoundJobMetric, name: JobMetricName): IMetric[] {
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
