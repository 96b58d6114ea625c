/**
 * What each of Relay's alarms watches and when it fires, as plain alarm props by construct ID:
 * `RelayAlarms` creates them and wires their notifications. Grouped by what they watch.
 *
 * Every alarm reads one Relay's series only: AWS metrics by their resource's dimensions, Relay's
 * own (EMF) by its `relay` dimension, so two Relays in one account never trip each other's alarms.
 */
import type { Duration } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  type AlarmProps,
  ComparisonOperator,
  MathExpression,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { JobMetric } from '../functions/core/metric-names.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import { JOB_METRIC_PERIOD, jobMetric } from './job-metrics.ts';
import type { IJobTable } from './job-table.ts';

/** An alarm's construct ID and props. */
export interface AlarmRule {
  readonly id: string;
  readonly props: AlarmProps;
}

const PERIOD = JOB_METRIC_PERIOD;
/** Rates alarm when two of the last three periods breach: one bad period is noise, two are a trend. */
const RATE_EVALUATION = { evaluationPeriods: 3, datapointsToAlarm: 2 };
/** Above zero in one period: every occurrence matters. */
const ANY = {
  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
  threshold: 0,
  evaluationPeriods: 1,
  treatMissingData: TreatMissingData.NOT_BREACHING,
};
/** Above zero in two of the last three periods: Relay absorbs a burst, not a trend. */
const SUSTAINED = { ...ANY, ...RATE_EVALUATION };
/** A duration alarm fires when an invocation took this share of its timeout. */
export const NEAR_TIMEOUT = 0.9;
/** Fewer requests than this in a period never raise the 4xx alarm: two bad calls of three are no trend. */
export const MIN_REQUESTS_FOR_4XX = 20;

const capitalized = (label: string) => `${label[0]?.toUpperCase()}${label.slice(1)}`;

/** Dead letters and a stuck dispatch queue (managed jobs), and runner tasks that died mid-run. */
export function dispatchAlarms(queue: IDispatchQueue, relay: string, maxDispatchAge: Duration): AlarmRule[] {
  return [
    {
      id: 'DeadLetters',
      props: {
        alarmDescription:
          'The dispatch dead-letter queue holds messages: SQS moved dispatch hints there after they ' +
          'kept failing, and their jobs are dead. Check the dispatcher’s errors and logs, then requeue ' +
          'or delete the jobs; the maintenance sweep keeps the DLQ in step with them.',
        metric: queue.metricDeadLetters({ period: PERIOD }),
        ...ANY,
      },
    },
    {
      id: 'DispatchAge',
      props: {
        alarmDescription:
          `The oldest dispatch hint is older than ${maxDispatchAge.toHumanString()}: ` +
          'the dispatcher is not consuming the queue. Check its errors, throttles and logs.',
        metric: queue.queue.metricApproximateAgeOfOldestMessage({ statistic: Stats.MAXIMUM, period: PERIOD }),
        ...ANY,
        threshold: maxDispatchAge.toSeconds({ integral: false }),
      },
    },
    {
      id: 'RunnerTaskFailures',
      props: {
        alarmDescription:
          'A runner Fargate task stopped before its run ended (out of memory, image pull failure, ' +
          'killed); its run failed at once. The "Recent failures" widget has the stop reason ' +
          '("run failed: its Fargate task stopped").',
        metric: jobMetric(relay, JobMetric.TASK_FAILED, Stats.SUM),
        ...ANY,
      },
    },
  ];
}

/** The backlog gauges of the maintenance pass: a queue nobody serves, dead jobs. */
export function jobAlarms(relay: string, maxPendingAge: Duration): AlarmRule[] {
  return [
    {
      id: 'PendingAge',
      props: {
        alarmDescription:
          `A queue's oldest due job has waited more than ${maxPendingAge.toHumanString()} (the ` +
          'OldestPendingAge gauge; paused queues report 0): no worker claims it, or too few do. ' +
          'Check the "Jobs waiting" graphs for which queue, then its workers or the dispatcher.',
        // Maximum over the queue-less series is the worst queue's age: one threshold for every queue.
        metric: jobMetric(relay, JobMetric.OLDEST_PENDING_AGE, Stats.MAXIMUM),
        ...ANY,
        threshold: maxPendingAge.toMilliseconds(),
      },
    },
    // A gauge the maintenance sweep counts from DynamoDB, so the alarm stays on while any job is
    // dead and clears once every one was requeued or deleted, not five minutes after a death.
    {
      id: 'DeadJobs',
      props: {
        alarmDescription:
          'Jobs are dead (all queues). List them with `relay dlq list <queue>` and find why in the ' +
          '"Recent failures" logs, then requeue or delete them: the alarm clears when none is left.',
        metric: jobMetric(relay, JobMetric.DEAD_JOBS, Stats.MAXIMUM),
        ...ANY,
      },
    },
  ];
}

/**
 * The maintenance pass stopped: no invocation in two 5-minute periods, where one a minute is due.
 * Missing data is breaching, since a function that never runs reports no Invocations at all.
 * Without the pass, expired leases are never ended and every gauge goes silent.
 */
export function maintenanceAlarm(maintenance: IFunction): AlarmRule {
  return {
    id: 'MaintenanceStopped',
    props: {
      alarmDescription:
        'The maintenance pass has not run for 10 minutes (it runs every minute): expired leases stay ' +
        'held, lost dispatch hints are not re-sent, and the backlog gauges and their alarms go blind. ' +
        'Check the Maintenance schedule rule is enabled and the function can be invoked.',
      metric: maintenance.metricInvocations({ statistic: Stats.SUM, period: PERIOD }),
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: 1,
      evaluationPeriods: 2,
      treatMissingData: TreatMissingData.BREACHING,
    },
  };
}

/** Per function: the share of failing invocations, throttles, and invocations close to the timeout. */
export function functionAlarms(
  label: string,
  fn: IFunction,
  maxErrorPercent: number,
  timeout: Duration | undefined,
): AlarmRule[] {
  const name = capitalized(label);
  const nearTimeout = timeout && Math.floor(timeout.toMilliseconds() * NEAR_TIMEOUT);
  return [
    {
      id: `${name}ErrorRate`,
      props: {
        alarmDescription: `More than ${maxErrorPercent}% of the ${label} function's invocations fail.`,
        metric: new MathExpression({
          expression: '100 * errors / invocations',
          usingMetrics: {
            errors: fn.metricErrors({ statistic: Stats.SUM }),
            invocations: fn.metricInvocations({ statistic: Stats.SUM }),
          },
          label: `${label} error %`,
          period: PERIOD,
        }),
        ...SUSTAINED,
        threshold: maxErrorPercent,
      },
    },
    {
      id: `${name}Throttles`,
      props: {
        alarmDescription:
          `Lambda throttled the ${label} function in two of the last three 5-minute periods: the ` +
          'account’s concurrency (or the function’s reservation) is exhausted. Callers see 429/503 and ' +
          'retry; raise the limit or the reservation.',
        metric: fn.metricThrottles({ statistic: Stats.SUM, period: PERIOD }),
        ...SUSTAINED,
      },
    },
    ...(nearTimeout
      ? [
          {
            id: `${name}NearTimeout`,
            props: {
              alarmDescription:
                `An invocation of the ${label} function took more than ${NEAR_TIMEOUT * 100}% of its ` +
                `${timeout.toHumanString()} timeout in two of the last three 5-minute periods: the next ` +
                'ones may time out. Check its logs and DynamoDB throttles.',
              metric: fn.metricDuration({ statistic: Stats.MAXIMUM, period: PERIOD }),
              ...SUSTAINED,
              threshold: nearTimeout,
            },
          },
        ]
      : []),
  ];
}

export interface ApiThresholds {
  readonly maxServerErrorPercent: number;
  readonly maxClientErrorPercent: number;
  readonly maxLatency: Duration;
}

/** The API's 5xx and 4xx rates and its p99 latency. */
export function apiAlarms(api: IHttpApi, t: ApiThresholds): AlarmRule[] {
  const requests = api.metricCount({ statistic: Stats.SUM });
  return [
    {
      id: 'ApiServerErrorRate',
      props: {
        alarmDescription: `More than ${t.maxServerErrorPercent}% of API requests end in a 5xx.`,
        metric: new MathExpression({
          expression: '100 * serverErrors / requests',
          usingMetrics: { serverErrors: api.metricServerError({ statistic: Stats.SUM }), requests },
          label: 'API 5xx %',
          period: PERIOD,
        }),
        ...SUSTAINED,
        threshold: t.maxServerErrorPercent,
      },
    },
    {
      id: 'ApiClientErrorRate',
      props: {
        alarmDescription:
          `More than ${t.maxClientErrorPercent}% of API requests end in a 4xx (of at least ` +
          `${MIN_REQUESTS_FOR_4XX} in 5 minutes): a client is misconfigured (403: credentials or ` +
          'grants; 400: payloads) or calls a route that changed. Empty claims are 204, not 4xx.',
        metric: new MathExpression({
          expression: `IF(requests >= ${MIN_REQUESTS_FOR_4XX}, 100 * clientErrors / requests, 0)`,
          usingMetrics: { clientErrors: api.metricClientError({ statistic: Stats.SUM }), requests },
          label: 'API 4xx %',
          period: PERIOD,
        }),
        ...SUSTAINED,
        threshold: t.maxClientErrorPercent,
      },
    },
    {
      id: 'ApiLatency',
      props: {
        alarmDescription:
          `The API's p99 latency is above ${t.maxLatency.toHumanString()}: check the API functions' ` +
          'duration and DynamoDB throttles on the dashboard.',
        metric: api.metricLatency({ statistic: Stats.p(99), period: PERIOD }),
        ...SUSTAINED,
        threshold: t.maxLatency.toMilliseconds(),
      },
    },
  ];
}

/** DynamoDB throttling or failing the store's requests, over every operation it issues. */
export function tableAlarms(table: IJobTable): AlarmRule[] {
  const sum = { period: PERIOD, statistic: Stats.SUM };
  return [
    {
      id: 'TableThrottles',
      props: {
        alarmDescription:
          'DynamoDB throttled the jobs table in two of the last three 5-minute periods. Relay retries ' +
          'with backoff (callers may see 429/503), but a trend means a hot partition (a strict queue ' +
          'above ~1,000 writes/s) or an account limit: see the ceilings in docs/design.md.',
        metric: table.metricThrottledRequests(sum),
        ...SUSTAINED,
      },
    },
    {
      id: 'TableSystemErrors',
      props: {
        alarmDescription:
          'DynamoDB answered the jobs table’s requests with server errors in two of the last three ' +
          '5-minute periods. Relay retries them; check the AWS Health Dashboard.',
        metric: table.metricSystemErrors(sum),
        ...SUSTAINED,
      },
    },
  ];
}
