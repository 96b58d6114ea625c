import { Duration } from 'aws-cdk-lib';
import { Metric, type MetricOptions, SearchExpression } from 'aws-cdk-lib/aws-cloudwatch';
import {
  type JobMetricName,
  METRIC_NAMESPACE,
  QUEUE_DIMENSION,
  RELAY_DIMENSION,
} from '../functions/core/metric-names.ts';

/** The period Relay's dashboard and alarms read job metrics at. */
export const JOB_METRIC_PERIOD = Duration.minutes(5);

/**
 * A job metric of one Relay (`relay`, its `RELAY_NAME`) over every queue, for graphs and alarms.
 *
 * Each EMF line declares the dimension sets `[['relay', 'queue'], ['relay']]` (only the second for
 * a queue without a series of its own), so CloudWatch also stores a queue-less aggregate under the
 * same name: the one series an alarm can watch without knowing the queues. For a gauge, its
 * Maximum is the worst queue's value.
 */
export function jobMetric(
  relay: string,
  name: JobMetricName,
  statistic: string,
  options: MetricOptions = {},
): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { [RELAY_DIMENSION]: relay },
    statistic,
    period: JOB_METRIC_PERIOD,
    ...options,
  });
}

/**
 * A job metric of one Relay with one series per queue, for graphs only.
 *
 * Queues are named at run time, so the series are found with a SEARCH expression; the schema
 * `{Relay,queue,relay}` matches only the per-queue dimension set, never the aggregate, and the
 * quoted `relay` value matches this Relay's series exactly. Alarms cannot use SEARCH:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-search-expressions.html
 */
export function jobMetricPerQueue(relay: string, name: JobMetricName, statistic: string): SearchExpression {
  const period = JOB_METRIC_PERIOD.toSeconds();
  const schema = `{${METRIC_NAMESPACE},${QUEUE_DIMENSION},${RELAY_DIMENSION}}`;
  return new SearchExpression({
    expression: `SEARCH('${schema} MetricName="${name}" ${RELAY_DIMENSION}="${relay}"', '${statistic}', ${period})`,
    // A dynamic label: each series is named after its queue.
    label: `\${PROP('Dim.${QUEUE_DIMENSION}')}`,
    period: JOB_METRIC_PERIOD,
  });
}
