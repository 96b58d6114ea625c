import { Duration } from 'aws-cdk-lib';
import { Metric, type MetricOptions, SearchExpression } from 'aws-cdk-lib/aws-cloudwatch';
import { type JobMetricName, METRIC_NAMESPACE, QUEUE_DIMENSION } from '../functions/core/metric-names.ts';

/** The period Relay's dashboard and alarms read job metrics at. */
export const JOB_METRIC_PERIOD = Duration.minutes(5);

/**
 * A job metric summed over every queue, for graphs and alarms.
 *
 * Each EMF line declares the dimension sets `[['queue'], []]`, so CloudWatch also stores a queue-less
 * aggregate under the same name: the one series an alarm can watch without knowing the queues.
 */
export function jobMetric(name: JobMetricName, statistic: string, options: MetricOptions = {}): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    statistic,
    period: JOB_METRIC_PERIOD,
    ...options,
  });
}

/**
 * A job metric with one series per queue, for graphs only.
 *
 * Queues are named at run time, so the series are found with a SEARCH expression; the schema
 * `{Relay,queue}` matches only the per-queue dimension set, never the aggregate. Alarms cannot use
 * SEARCH: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-search-expressions.html
 */
export function jobMetricPerQueue(name: JobMetricName, statistic: string): SearchExpression {
  const period = JOB_METRIC_PERIOD.toSeconds();
  return new SearchExpression({
    expression: `SEARCH('{${METRIC_NAMESPACE},${QUEUE_DIMENSION}} MetricName="${name}"', '${statistic}', ${period})`,
    // A dynamic label: each series is named after its queue.
    label: `\${PROP('Dim.${QUEUE_DIMENSION}')}`,
    period: JOB_METRIC_PERIOD,
  });
}
