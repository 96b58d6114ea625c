/**
 * The `RelayDashboard` construct: one dashboard with jobs by state and by queue, queue wait and run
 * duration, the backlog gauges, the dispatch queue and its dead letters, DynamoDB throttles and
 * errors, claim conflicts and dispatch lag, the functions, the API, the runner’s tasks and a Logs Insights widget of recent failures.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, type IAlarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Cluster } from 'aws-cdk-lib/aws-ecs';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { JobMetric } from '../functions/core/metric-names.ts';
import { DispatchQueue } from '../lib/dispatch-queue.ts';
import { JobTable } from '../lib/job-table.ts';
import { RelayDashboard, type RelayDashboardProps } from '../lib/relay-dashboard.ts';
import { inlineFunction, nagFindingsUnder } from './support/template.ts';

const COUNTS = ['Enqueued', 'Claimed', 'Completed', 'Failed', 'Retried', 'Dead', 'Cancelled'];

interface Fixture {
  stack: Stack;
  props: RelayDashboardProps;
  functions: { api: LambdaFunction; dispatcher: LambdaFunction };
  logGroups: LogGroup[];
  dispatchQueue: DispatchQueue;
  cluster: Cluster;
  table: JobTable;
}

/** The Relay whose metrics the dashboard graphs. */
const RELAY = 'Test/Relay';
const OF_THIS_RELAY = { relay: RELAY };

/** A dashboard's props, with the dispatch queue and the runner's cluster of managed jobs. */
function fixture(): Fixture {
  const stack = new Stack(new App(), 'Test');
  const fn = (id: string) => inlineFunction(stack, id);
  const functions = { api: fn('Api'), dispatcher: fn('Dispatcher') };
  const logGroups = [new LogGroup(stack, 'ApiLogs'), new LogGroup(stack, 'DispatcherLogs')];
  const vpc = new Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
  const dispatchQueue = new DispatchQueue(stack, 'Dispatch', { consumerTimeout: Duration.minutes(15) });
  const cluster = new Cluster(stack, 'Cluster', { vpc });
  const table = new JobTable(stack, 'Jobs');
  const props: RelayDashboardProps = {
    relayName: RELAY,
    table,
    dispatchQueue,
    functions,
    api: new HttpApi(stack, 'Http'),
    cluster,
    logGroups,
  };
  return { stack, props, functions, logGroups, dispatchQueue, cluster, table };
}

/** Without managed jobs: no dispatch queue and no runner cluster. */
const withoutManagedJobs = () => ({ dispatchQueue: undefined, cluster: undefined });

interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  properties: { title?: string; metrics?: unknown[][]; query?: string; alarms?: string[] };
}

/** One graphed series: a metric (namespace, name, dimensions, options) or an expression. */
interface Series {
  namespace?: string;
  metricName?: string;
  dimensions: Record<string, string>;
  expression?: string;
  stat?: string;
  label?: string;
}

/** Builds the dashboard and parses its body, tokens written as `<Ref id>` and `<GetAtt id.attr>`. */
function build(extra: (built: Fixture) => Partial<RelayDashboardProps> = () => ({})) {
  const built = fixture();
  new RelayDashboard(built.stack, 'Dashboard', { ...built.props, ...extra(built) });
  const dashboards = Template.fromStack(built.stack).findResources('AWS::CloudWatch::Dashboard');
  const [, parts] = Object.values(dashboards)[0]?.Properties.DashboardBody['Fn::Join'] ?? ['', []];
  const widgets: Widget[] = JSON.parse((parts as unknown[]).map(placeholder).join('')).widgets;
  const widget = (title: string): Widget => {
    const found = widgets.find((w) => w.properties.title === title);
    if (!found) throw new Error(`no widget titled "${title}" in ${widgets.map((w) => w.properties.title)}`);
    return found;
  };
  const ref = (construct: IConstruct) => `<Ref ${logicalId(built.stack, construct)}>`;
  const getAtt = (construct: IConstruct, attribute: string) =>
    `<GetAtt ${logicalId(built.stack, construct)}.${attribute}>`;
  return { ...built, widgets, widget, ref, getAtt };
}

function placeholder(part: unknown): string {
  if (typeof part === 'string') return part;
  const token = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
  if (token.Ref) return `<Ref ${token.Ref}>`;
  if (token['Fn::GetAtt']) return `<GetAtt ${token['Fn::GetAtt'].join('.')}>`;
  throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(part)}`);
}

const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId((construct.node.defaultChild ?? construct) as never);

function series(widget: Widget): Series[] {
  return (widget.properties.metrics ?? []).map((entry) => {
    const options = (typeof entry.at(-1) === 'object' ? entry.at(-1) : {}) as Record<string, string>;
    if (typeof entry[0] === 'object') return { dimensions: {}, ...options };
    const [namespace, metricName, ...rest] = entry as string[];
    const pairs = rest.filter((part) => typeof part === 'string');
    const dimensions: Record<string, string> = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
    return { namespace, metricName, dimensions, stat: options.stat, label: options.label };
  });
}

const search = (metric: string, stat: string) =>
  `SEARCH('{Relay,queue,relay} MetricName="${metric}" relay="${RELAY}"', '${stat}', 300)`;

describe('RelayDashboard', () => {
  it('graphs every job state summed over all queues', () => {
    const { widget } = build();

    expect(series(widget('Jobs by state (all queues)'))).toEqual(
      COUNTS.map((metricName) => ({
        namespace: 'Relay',
        metricName,
        dimensions: OF_THIS_RELAY,
        stat: 'Sum',
        label: metricName,
      })),
    );
  });

  it.each(COUNTS)('graphs %s per queue with a SEARCH over the queue dimension', (metric) => {
    const { widget } = build();

    expect(series(widget(`${metric} per queue`))).toEqual([
      { dimensions: {}, expression: search(metric, 'Sum'), label: `\${PROP('Dim.queue')}` },
    ]);
  });

  it.each([
    ['Queue wait', JobMetric.QUEUE_WAIT],
    ['Run duration', JobMetric.RUN_DURATION],
  ])('graphs %s p50 and p99 over all queues, and p99 per queue', (title, metricName) => {
    const { widget } = build();

    expect(series(widget(`${title} (all queues)`))).toEqual([
      { namespace: 'Relay', metricName, dimensions: OF_THIS_RELAY, stat: 'p50', label: 'p50' },
      { namespace: 'Relay', metricName, dimensions: OF_THIS_RELAY, stat: 'p99', label: 'p99' },
    ]);
    expect(series(widget(`${title} p99 per queue`))).toEqual([
      expect.objectContaining({ expression: search(metricName, 'p99') }),
    ]);
  });

  it('graphs the dispatch queue visible, in flight and delayed messages', () => {
    const { widget, getAtt, dispatchQueue } = build();
    const queueName = getAtt(dispatchQueue.queue, 'QueueName');

    expect(series(widget('Dispatch queue messages'))).toEqual(
      [
        'ApproximateNumberOfMessagesVisible',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ].map((metricName) =>
        expect.objectContaining({ namespace: 'AWS/SQS', metricName, dimensions: { QueueName: queueName } }),
      ),
    );
  });

  it('graphs the age of the oldest dispatch message', () => {
    const { widget, getAtt, dispatchQueue } = build();

    expect(series(widget('Oldest dispatch message age'))).toEqual([
      expect.objectContaining({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: getAtt(dispatchQueue.queue, 'QueueName') },
        stat: 'Maximum',
      }),
    ]);
  });

  it('graphs dead letters visible and in flight in the dead-letter queue', () => {
    const { widget, getAtt, dispatchQueue } = build();
    const graphed = series(widget('Dead letters'));

    expect(graphed[0]).toMatchObject({ expression: 'visible + inFlight' });
    expect(graphed.slice(1).map((s) => s.dimensions)).toEqual([
      { QueueName: getAtt(dispatchQueue.deadLetterQueue, 'QueueName') },
      { QueueName: getAtt(dispatchQueue.deadLetterQueue, 'QueueName') },
    ]);
  });

  it('graphs the jobs dead now: the Maximum of the DeadJobs gauge over all queues and per queue', () => {
    const { widget } = build();

    expect(series(widget('Dead jobs now (all queues)'))).toEqual([
      {
        namespace: 'Relay',
        metricName: 'DeadJobs',
        dimensions: OF_THIS_RELAY,
        stat: 'Maximum',
        label: 'Dead jobs',
      },
    ]);
    expect(series(widget('Dead jobs now per queue'))).toEqual([
      { dimensions: {}, expression: search('DeadJobs', 'Maximum'), label: `\${PROP('Dim.queue')}` },
    ]);
  });

  it.each([
    ['Jobs waiting per queue', 'PendingJobs'],
    ['Oldest waiting job per queue', 'OldestPendingAge'],
    ['Runs in flight per queue', 'RunningJobs'],
  ])('graphs the backlog gauge "%s" per queue of this Relay, by its Maximum', (title, metricName) => {
    const { widget } = build();

    expect(series(widget(title))).toEqual([
      { dimensions: {}, expression: search(metricName, 'Maximum'), label: `\${PROP('Dim.queue')}` },
    ]);
  });

  it('graphs the claim writes that lost their race, summed per queue of this Relay', () => {
    const { widget } = build();

    expect(series(widget('Claim conflicts per queue'))).toEqual([
      { dimensions: {}, expression: search('ClaimConflicts', 'Sum'), label: `\${PROP('Dim.queue')}` },
    ]);
  });

  it('graphs the dispatch lag of managed jobs, p50 and p99 over all queues', () => {
    const { widget } = build();

    expect(series(widget('Dispatch lag (all queues)'))).toEqual(
      ['p50', 'p99'].map((stat) => ({
        namespace: 'Relay',
        metricName: 'DispatchLag',
        dimensions: OF_THIS_RELAY,
        stat,
        label: stat,
      })),
    );
  });

  it.each([
    ['DynamoDB throttled requests', 'ThrottledRequests'],
    ['DynamoDB system errors', 'SystemErrors'],
  ])('graphs %s of the jobs table, summed over the store operations', (title, metricName) => {
    const { widget, ref, table } = build();

    const graphed = series(widget(title));
    expect(graphed[0]).toMatchObject({ expression: expect.stringContaining('FILL') });
    expect(graphed.slice(1)).toHaveLength(8);
    for (const metric of graphed.slice(1)) {
      expect(metric).toMatchObject({ namespace: 'AWS/DynamoDB', metricName });
      expect(metric.dimensions.TableName).toBe(ref(table.table));
    }
  });

  it('graphs the runner tasks that stopped before their run ended', () => {
    const { widget } = build();

    expect(series(widget('Runner tasks stopped mid-run'))).toEqual([
      expect.objectContaining({
        namespace: 'Relay',
        metricName: 'TaskFailed',
        dimensions: OF_THIS_RELAY,
        stat: 'Sum',
      }),
    ]);
  });

  it.each([
    ['Lambda errors', 'Errors'],
    ['Lambda throttles', 'Throttles'],
  ])('graphs %s of each function, labelled with its label', (title, metricName) => {
    const { widget, ref, functions } = build();

    expect(series(widget(title))).toEqual([
      {
        namespace: 'AWS/Lambda',
        metricName,
        dimensions: { FunctionName: ref(functions.api) },
        stat: 'Sum',
        label: 'api',
      },
      {
        namespace: 'AWS/Lambda',
        metricName,
        dimensions: { FunctionName: ref(functions.dispatcher) },
        stat: 'Sum',
        label: 'dispatcher',
      },
    ]);
  });

  it('graphs the p50 and p99 duration of each function', () => {
    const { widget } = build();

    expect(series(widget('Lambda duration')).map((s) => [s.metricName, s.label, s.stat])).toEqual([
      ['Duration', 'api p50', 'p50'],
      ['Duration', 'api p99', 'p99'],
      ['Duration', 'dispatcher p50', 'p50'],
      ['Duration', 'dispatcher p99', 'p99'],
    ]);
  });

  it('graphs the API requests, 4xx and 5xx as sums', () => {
    const { widget, ref, props } = build();

    expect(series(widget('API requests and errors'))).toEqual(
      ['Count', '4xx', '5xx'].map((metricName) =>
        expect.objectContaining({
          namespace: 'AWS/ApiGateway',
          metricName,
          dimensions: { ApiId: ref(props.api) },
          stat: 'Sum',
        }),
      ),
    );
  });

  it('graphs the API latency p50 and p99', () => {
    const { widget } = build();

    expect(series(widget('API latency')).map((s) => [s.namespace, s.metricName, s.stat])).toEqual([
      ['AWS/ApiGateway', 'Latency', 'p50'],
      ['AWS/ApiGateway', 'Latency', 'p99'],
    ]);
  });

  it("counts the runner's Fargate tasks running in the cluster", () => {
    const { widget, ref, cluster } = build();

    expect(series(widget('Runner tasks running'))).toEqual([
      expect.objectContaining({
        namespace: 'ECS/ContainerInsights',
        metricName: 'TaskCount',
        dimensions: { ClusterName: ref(cluster) },
        stat: 'Maximum',
      }),
    ]);
  });

  it('queries recent warnings, errors and failed runs in every given log group, newest first', () => {
    const { widget, ref, logGroups } = build();
    const recent = widget('Recent failures');

    expect(recent).toMatchObject({ type: 'log', width: 24 });
    const query = recent.properties.query ?? '';
    expect(query).toContain(
      `SOURCE '${ref(logGroups[0] as LogGroup)}' | SOURCE '${ref(logGroups[1] as LogGroup)}'`,
    );
    expect(query).toContain('fields @timestamp, @log, level, message, queue, job_id, run_id, attempt');
    expect(query).toContain('filter level in ["warn", "error"]');
    expect(query).toContain('(message = "run ended" and status in ["failed", "dead"])');
    expect(query).toContain('ispresent(errorType) or @message like /Task timed out/');
    expect(query).toContain('sort @timestamp desc');
  });

  it('shows the state of the alarms it is given above the graphs', () => {
    let alarm: IAlarm | undefined;
    const { widgets, getAtt } = build(({ stack }) => {
      alarm = new Alarm(stack, 'Alarm', {
        metric: new Metric({ namespace: 'Relay', metricName: 'Dead' }),
        threshold: 1,
        evaluationPeriods: 1,
      });
      return { alarms: [alarm] };
    });

    expect(widgets[0]).toMatchObject({
      type: 'alarm',
      width: 24,
      properties: { alarms: [getAtt(alarm as IAlarm, 'Arn')] },
    });
  });

  it.each([
    ['with managed jobs', () => ({})],
    ['without managed jobs', withoutManagedJobs],
  ])('fills every row of the 24-unit grid %s', (_, extra) => {
    const { widgets } = build(extra);
    const rows = new Map<number, number>();
    for (const w of widgets) rows.set(w.y, (rows.get(w.y) ?? 0) + w.width);

    expect([...new Set(rows.values())]).toEqual([24]);
  });

  describe('without managed jobs', () => {
    it('has no dispatch queue, dead-letter or runner widget', () => {
      const { widgets } = build(withoutManagedJobs);
      const titles = widgets.map((w) => w.properties.title);

      for (const title of [
        'Dispatch queue messages',
        'Oldest dispatch message age',
        'Dispatch lag (all queues)',
        'Dead letters',
      ]) {
        expect(titles).not.toContain(title);
      }
      expect(titles).not.toContain('Runner tasks running');
      expect(titles).not.toContain('Runner tasks stopped mid-run');
    });

    it('still graphs the jobs dead now', () => {
      const { widget } = build(withoutManagedJobs);

      expect(series(widget('Dead jobs now (all queues)'))).toEqual([
        expect.objectContaining({ metricName: 'DeadJobs', stat: 'Maximum' }),
      ]);
    });
  });

  it('has no alarm row without alarms', () => {
    const { widgets } = build();

    expect(widgets.map((w) => w.type)).not.toContain('alarm');
  });

  it('rejects an empty list of log groups, naming the fix', () => {
    const { stack, props } = fixture();

    expect(() => new RelayDashboard(stack, 'Dashboard', { ...props, logGroups: [] })).toThrow(
      /logGroups is empty.*pass the functions' \(and the runner's\) log groups/,
    );
  });

  it('passes the cdk-nag AwsSolutions checks', () => {
    const { stack } = build();

    const { ours, all } = nagFindingsUnder(stack, 'Test/Dashboard/');

    // The fixture itself is not compliant (inline functions, no access logs), so the checks ran.
    expect(all).toBeGreaterThan(0);
    expect(ours).toEqual([]);
  });
});
