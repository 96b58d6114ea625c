/**
 * The `RelayAlarms` construct: alarms on a queue nobody serves, dead jobs, a stopped maintenance
 * pass, failing, throttled or slow functions, API errors and latency, DynamoDB throttles and errors
 * and, with managed jobs, dead letters, a stuck dispatch queue and runner tasks that die mid-run,
 * all notifying one TLS-only, encrypted SNS topic CloudWatch can publish to.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { DispatchQueue } from '../lib/dispatch-queue.ts';
import { JobTable } from '../lib/job-table.ts';
import { RelayAlarms, type RelayAlarmsProps } from '../lib/relay-alarms.ts';
import { inlineFunction, logicalIdOf, nagFindingsUnder } from './support/template.ts';

const ALARM = 'AWS::CloudWatch::Alarm';
/** The Relay whose metrics the alarms read. */
const RELAY = 'Test/Relay';
const OF_THIS_RELAY = [{ Name: 'relay', Value: RELAY }];
/** The alarms of the fixture: two functions, no timeouts, no maintenance function, managed jobs. */
const ALARMS = 14;

type Extra = Partial<Omit<RelayAlarmsProps, 'dispatchQueue' | 'functions' | 'api' | 'relayName' | 'table'>> &
  Pick<Partial<RelayAlarmsProps>, 'functions'>;

/**
 * Builds the alarms in a test stack, with a dispatch queue unless `managedJobs` is false; `extra`
 * may be a function of that stack, to make constructs in it.
 */
function build(
  extra: Extra | ((stack: Stack, functions: Record<'api' | 'dispatcher', LambdaFunction>) => Extra) = {},
  { managedJobs = true } = {},
) {
  const stack = new Stack(new App(), 'Test');
  const fn = (id: string) => inlineFunction(stack, id);
  const functions = { api: fn('Api'), dispatcher: fn('Dispatcher') };
  const dispatchQueue = new DispatchQueue(stack, 'Dispatch', { consumerTimeout: Duration.minutes(15) });
  const api = new HttpApi(stack, 'Http');
  const table = new JobTable(stack, 'Jobs');
  const alarms = new RelayAlarms(stack, 'Alarms', {
    relayName: RELAY,
    table,
    dispatchQueue: managedJobs ? dispatchQueue : undefined,
    functions,
    api,
    ...(typeof extra === 'function' ? extra(stack, functions) : extra),
  });
  const id = (construct: IConstruct) => logicalIdOf(stack, construct);
  return { stack, template: Template.fromStack(stack), alarms, dispatchQueue, functions, api, table, id };
}

/** The notification actions every alarm carries: the topic, on alarm and on recovery. */
function notifies(topic: unknown) {
  return { AlarmActions: [topic], OKActions: [topic] };
}

describe('RelayAlarms', () => {
  describe('its topic', () => {
    it('is encrypted with a customer managed key that rotates', () => {
      const { template } = build();
      const key = template.findResources('AWS::KMS::Key');

      expect(Object.values(key)).toEqual([
        expect.objectContaining({ Properties: expect.objectContaining({ EnableKeyRotation: true }) }),
      ]);
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Object.keys(key)[0], 'Arn'] },
      });
    });

    it('lets CloudWatch use its key, which the AWS managed SNS key cannot', () => {
      const { template } = build();

      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
    });

    it('denies publishing without TLS and lets CloudWatch publish', () => {
      const { template, alarms, id } = build();

      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: id(alarms.topic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sns:Publish',
              Principal: '*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Allow',
              Action: 'sns:Publish',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
            }),
          ]),
        },
      });
    });

    it('subscribes the email address it is given', () => {
      const { template, alarms, id } = build({ email: 'ops@example.com' });

      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        TopicArn: { Ref: id(alarms.topic) },
      });
    });

    it('has no subscription without an email address', () => {
      const { template } = build();

      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('is the topic it is given, and then none is created', () => {
      const { template } = build((stack) => ({
        topic: Topic.fromTopicArn(stack, 'Ops', 'arn:aws:sns:eu-west-1:123456789012:ops'),
      }));

      template.resourceCountIs('AWS::SNS::Topic', 0);
      template.resourceCountIs('AWS::KMS::Key', 0);
      template.resourcePropertiesCountIs(ALARM, notifies('arn:aws:sns:eu-west-1:123456789012:ops'), ALARMS);
    });
  });

  it('notifies the topic from every alarm, when it fires and when it recovers', () => {
    const { template, alarms, id } = build();

    expect(alarms.alarms).toHaveLength(ALARMS);
    template.resourceCountIs(ALARM, ALARMS);
    template.resourcePropertiesCountIs(ALARM, notifies({ Ref: id(alarms.topic) }), ALARMS);
  });

  it('treats missing data as not breaching on every alarm but the maintenance one: quiet metrics are healthy', () => {
    const { template } = build();

    template.resourcePropertiesCountIs(ALARM, { TreatMissingData: 'notBreaching' }, ALARMS);
  });

  it('alarms when the dead-letter queue holds any message, visible or in flight', () => {
    const { template, dispatchQueue, id } = build();

    const dlq = { 'Fn::GetAtt': [id(dispatchQueue.deadLetterQueue), 'QueueName'] };
    const dlqMetric = (metricId: string, metricName: string) =>
      Match.objectLike({
        Id: metricId,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/SQS',
            MetricName: metricName,
            Dimensions: [{ Name: 'QueueName', Value: dlq }],
          },
          Period: 300,
          Stat: 'Maximum',
        },
      });

    template.hasResourceProperties(ALARM, {
      Metrics: [
        Match.objectLike({ Expression: 'visible + inFlight', ReturnData: true }),
        dlqMetric('visible', 'ApproximateNumberOfMessagesVisible'),
        dlqMetric('inFlight', 'ApproximateNumberOfMessagesNotVisible'),
      ],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
    });
  });

  it('alarms when the oldest dispatch hint is older than 30 minutes by default', () => {
    const { template, dispatchQueue, id } = build();

    template.hasResourceProperties(ALARM, {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(dispatchQueue.queue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 1800,
      EvaluationPeriods: 1,
    });
  });

  it('alarms on the dispatch age it is given', () => {
    const { template } = build({ maxDispatchAge: Duration.hours(1) });

    template.hasResourceProperties(ALARM, { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 3600 });
  });

  it.each(['api', 'dispatcher'] as const)(
    'alarms when more than 5%% of the %s function invocations fail in 2 of 3 five-minute periods',
    (label) => {
      const { template, functions, id } = build();
      const lambdaMetric = (metricId: string, metricName: string) =>
        Match.objectLike({
          Id: metricId,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: metricName,
              Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(functions[label]) } }],
            },
            Period: 300,
            Stat: 'Sum',
          },
        });

      template.hasResourceProperties(ALARM, {
        Metrics: [
          Match.objectLike({ Expression: '100 * errors / invocations', ReturnData: true }),
          lambdaMetric('errors', 'Errors'),
          lambdaMetric('invocations', 'Invocations'),
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 5,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      });
    },
  );

  it('names each function error-rate alarm after its label', () => {
    const { alarms } = build();

    expect(alarms.alarms.map((alarm) => alarm.node.id)).toEqual(
      expect.arrayContaining(['ApiErrorRate', 'DispatcherErrorRate']),
    );
  });

  it('alarms when more than 1% of API requests end in a 5xx in 2 of 3 five-minute periods', () => {
    const { template, api, id } = build();
    const apiMetric = (metricId: string, metricName: string) =>
      Match.objectLike({
        Id: metricId,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApiGateway',
            MetricName: metricName,
            Dimensions: [{ Name: 'ApiId', Value: { Ref: id(api) } }],
          },
          Period: 300,
          Stat: 'Sum',
        },
      });

    template.hasResourceProperties(ALARM, {
      Metrics: [
        Match.objectLike({ Expression: '100 * serverErrors / requests', ReturnData: true }),
        apiMetric('serverErrors', '5xx'),
        apiMetric('requests', 'Count'),
      ],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
  });

  it('alarms while any job is dead: the Maximum of the DeadJobs gauge over all queues above 0', () => {
    const { template } = build();

    template.hasResourceProperties(ALARM, {
      Namespace: 'Relay',
      MetricName: 'DeadJobs',
      Dimensions: OF_THIS_RELAY,
      Statistic: 'Maximum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('no longer alarms on the Dead counter, which forgets a dead job after five minutes', () => {
    const { template } = build();

    template.resourcePropertiesCountIs(ALARM, { MetricName: 'Dead' }, 0);
  });

  it('alarms at the thresholds it is given', () => {
    const { template } = build({ maxFunctionErrorPercent: 2, maxApiServerErrorPercent: 0.5 });

    template.resourcePropertiesCountIs(ALARM, { Threshold: 2, DatapointsToAlarm: 2 }, 2);
    template.hasResourceProperties(ALARM, {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * serverErrors / requests' })]),
      Threshold: 0.5,
    });
  });

  describe('the backlog', () => {
    it("alarms when any queue's oldest due job waited over 15 minutes: the Maximum of OldestPendingAge over all queues", () => {
      const { template } = build();

      template.hasResourceProperties(ALARM, {
        Namespace: 'Relay',
        MetricName: 'OldestPendingAge',
        Dimensions: OF_THIS_RELAY,
        Statistic: 'Maximum',
        Period: 300,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 15 * 60_000,
        EvaluationPeriods: 1,
      });
    });

    it('alarms on the pending age it is given', () => {
      const { template } = build({ maxPendingAge: Duration.minutes(5) });

      template.hasResourceProperties(ALARM, { MetricName: 'OldestPendingAge', Threshold: 5 * 60_000 });
    });

    it('rejects a pending age the once-a-minute pass cannot measure, naming the fix', () => {
      expect(() => build({ maxPendingAge: Duration.seconds(30) })).toThrow(
        /maxPendingAge is 30 seconds.*pass Duration\.minutes\(2\) or more/,
      );
    });

    it('reads only its own Relay: every alarm on a Relay metric names the relay dimension', () => {
      const { template } = build();

      const own = Object.values(template.findResources(ALARM, { Properties: { Namespace: 'Relay' } }));
      expect(own.map((alarm) => alarm.Properties.Dimensions)).toEqual(own.map(() => OF_THIS_RELAY));
      expect(own.length).toBe(3);
    });
  });

  describe('the maintenance pass', () => {
    it('alarms when its function was not invoked for two five-minute periods, missing data breaching', () => {
      const { template, functions, id } = build((_, fns) => ({ maintenance: fns.api }));

      template.hasResourceProperties(ALARM, {
        Namespace: 'AWS/Lambda',
        MetricName: 'Invocations',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(functions.api) } }],
        Statistic: 'Sum',
        Period: 300,
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
        TreatMissingData: 'breaching',
      });
    });

    it('has no such alarm without a maintenance function', () => {
      const { alarms } = build();

      expect(alarms.alarms.map((alarm) => alarm.node.id)).not.toContain('MaintenanceStopped');
    });
  });

  it.each(['api', 'dispatcher'] as const)(
    'alarms when Lambda throttles the %s function in 2 of 3 five-minute periods',
    (label) => {
      const { template, functions, id } = build();

      template.hasResourceProperties(ALARM, {
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(functions[label]) } }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      });
    },
  );

  it("alarms when a function's longest invocation passes 90% of the timeout it is given", () => {
    const { template, functions, id, alarms } = build({ functionTimeouts: { api: Duration.seconds(29) } });

    template.hasResourceProperties(ALARM, {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(functions.api) } }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 26_100,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    expect(alarms.alarms.map((alarm) => alarm.node.id)).not.toContain('DispatcherNearTimeout');
  });

  it('alarms when more than 10% of at least 20 API requests end in a 4xx in 2 of 3 periods', () => {
    const { template } = build();

    template.hasResourceProperties(ALARM, {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(requests >= 20, 100 * clientErrors / requests, 0)' }),
        Match.objectLike({
          Id: 'clientErrors',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: '4xx' }) }),
        }),
      ]),
      Threshold: 10,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
  });

  it('alarms when the API p99 latency is above 2 seconds in 2 of 3 periods, or the latency it is given', () => {
    const { template, api, id } = build();

    template.hasResourceProperties(ALARM, {
      Namespace: 'AWS/ApiGateway',
      MetricName: 'Latency',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: id(api) } }],
      ExtendedStatistic: 'p99',
      Threshold: 2000,
      DatapointsToAlarm: 2,
    });
    build({ maxApiLatency: Duration.millis(500) }).template.hasResourceProperties(ALARM, {
      MetricName: 'Latency',
      Threshold: 500,
    });
  });

  it.each([
    ['throttled', 'TableThrottles', 'ThrottledRequests'],
    ['failed with a system error', 'TableSystemErrors', 'SystemErrors'],
  ])(
    'alarms when DynamoDB %s requests of every store operation in 2 of 3 periods',
    (_, alarmId, metricName) => {
      const { template, alarms, table, id } = build();
      const alarm = alarms.alarms.find((a) => a.node.id === alarmId);
      const props = template.toJSON().Resources[id(alarm as IConstruct)].Properties;

      const operations = props.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map(
        (m: {
          MetricStat: { Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
        }) => {
          expect(m.MetricStat.Metric.MetricName).toBe(metricName);
          expect(m.MetricStat.Metric.Dimensions).toContainEqual({
            Name: 'TableName',
            Value: { Ref: id(table.table) },
          });
          return m.MetricStat.Metric.Dimensions.find((d) => d.Name === 'Operation')?.Value;
        },
      );
      expect(operations.sort()).toEqual([
        'BatchGetItem',
        'BatchWriteItem',
        'DeleteItem',
        'GetItem',
        'PutItem',
        'Query',
        'TransactWriteItems',
        'UpdateItem',
      ]);
      // An operation without throttles publishes nothing: unfilled, its gap would hide the others'.
      const sum = props.Metrics.find((m: { Expression?: string }) => m.Expression).Expression;
      expect(sum.split(' + ')).toHaveLength(8);
      expect(sum).toMatch(/^FILL\(\w+, 0\)( \+ FILL\(\w+, 0\))*$/);
      expect(props).toMatchObject({ Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    },
  );

  it('alarms when any runner task stopped before its run ended: the TaskFailed sum of this Relay', () => {
    const { template } = build();

    template.hasResourceProperties(ALARM, {
      Namespace: 'Relay',
      MetricName: 'TaskFailed',
      Dimensions: OF_THIS_RELAY,
      Statistic: 'Sum',
      Threshold: 0,
      EvaluationPeriods: 1,
    });
  });

  describe('without managed jobs', () => {
    it('alarms on neither dead letters nor the dispatch age: there is no dispatch queue', () => {
      const { alarms, template } = build({}, { managedJobs: false });

      expect(alarms.alarms.map((alarm) => alarm.node.id)).toEqual([
        'PendingAge',
        'DeadJobs',
        'ApiErrorRate',
        'ApiThrottles',
        'DispatcherErrorRate',
        'DispatcherThrottles',
        'ApiServerErrorRate',
        'ApiClientErrorRate',
        'ApiLatency',
        'TableThrottles',
        'TableSystemErrors',
      ]);
      template.resourcePropertiesCountIs(ALARM, { Namespace: 'AWS/SQS' }, 0);
      template.resourcePropertiesCountIs(ALARM, { MetricName: 'TaskFailed' }, 0);
    });

    it('still alarms while any job is dead', () => {
      const { template } = build({}, { managedJobs: false });

      template.hasResourceProperties(ALARM, { MetricName: 'DeadJobs', Statistic: 'Maximum', Threshold: 0 });
    });
  });

  it('rejects a dispatch age a delayed hint can reach, naming the value and the fix', () => {
    expect(() => build({ maxDispatchAge: Duration.minutes(15) })).toThrow(
      /maxDispatchAge is 15 minutes.*pass more than Duration\.minutes\(15\)/,
    );
  });

  it.each([
    ['maxFunctionErrorPercent', 100],
    ['maxFunctionErrorPercent', -1],
    ['maxApiServerErrorPercent', Number.NaN],
  ] as const)('rejects a %s of %s, naming the range', (name, value) => {
    expect(() => build({ [name]: value })).toThrow(
      `${name} is ${value}, but a percentage the alarm can exceed is from 0 up to, not including, 100`,
    );
  });

  it('rejects an email that is not an address', () => {
    expect(() => build({ email: 'ops' })).toThrow(
      'email is "ops", which is not an email address: pass one like ops@example.com',
    );
  });

  it.each(['dead-letters', 'my/fn', ''])(
    'rejects the function label "%s", which cannot name an alarm',
    (label) => {
      const stack = new Stack(new App(), 'Labels');
      const fn = new LambdaFunction(stack, 'Fn', {
        runtime: Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler = async () => {};'),
      });

      expect(() => build({ functions: { [label]: fn } })).toThrow(
        `functions has the label "${label}", but labels name the alarms' construct IDs`,
      );
    },
  );

  it('passes the cdk-nag AwsSolutions checks', () => {
    const { stack } = build({ email: 'ops@example.com' });

    const { ours, all } = nagFindingsUnder(stack, 'Test/Alarms/');

    // The fixture itself is not compliant (inline functions, no access logs), so the checks ran.
    expect(all).toBeGreaterThan(0);
    expect(ours).toEqual([]);
  });
});
