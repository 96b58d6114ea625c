/**
 * The `RelayAlarms` construct: alarms on dead jobs, failing functions, API 5xx and, with managed
 * jobs, dead letters and a stuck dispatch queue, all notifying one TLS-only, encrypted SNS topic
 * CloudWatch can publish to.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { DispatchQueue } from '../lib/dispatch-queue.ts';
import { RelayAlarms, type RelayAlarmsProps } from '../lib/relay-alarms.ts';
import { inlineFunction, logicalIdOf, nagFindingsUnder } from './support/template.ts';

const ALARM = 'AWS::CloudWatch::Alarm';

type Extra = Partial<Omit<RelayAlarmsProps, 'dispatchQueue' | 'functions' | 'api'>> &
  Pick<Partial<RelayAlarmsProps>, 'functions'>;

/**
 * Builds the alarms in a test stack, with a dispatch queue unless `managedJobs` is false; `extra`
 * may be a function of that stack, to make constructs in it.
 */
function build(extra: Extra | ((stack: Stack) => Extra) = {}, { managedJobs = true } = {}) {
  const stack = new Stack(new App(), 'Test');
  const fn = (id: string) => inlineFunction(stack, id);
  const functions = { api: fn('Api'), dispatcher: fn('Dispatcher') };
  const dispatchQueue = new DispatchQueue(stack, 'Dispatch', { consumerTimeout: Duration.minutes(15) });
  const api = new HttpApi(stack, 'Http');
  const alarms = new RelayAlarms(stack, 'Alarms', {
    dispatchQueue: managedJobs ? dispatchQueue : undefined,
    functions,
    api,
    ...(typeof extra === 'function' ? extra(stack) : extra),
  });
  const id = (construct: IConstruct) => logicalIdOf(stack, construct);
  return { stack, template: Template.fromStack(stack), alarms, dispatchQueue, functions, api, id };
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
      template.resourcePropertiesCountIs(ALARM, notifies('arn:aws:sns:eu-west-1:123456789012:ops'), 6);
    });
  });

  it('notifies the topic from every alarm, when it fires and when it recovers', () => {
    const { template, alarms, id } = build();

    expect(alarms.alarms).toHaveLength(6);
    template.resourceCountIs(ALARM, 6);
    template.resourcePropertiesCountIs(ALARM, notifies({ Ref: id(alarms.topic) }), 6);
  });

  it('treats missing data as not breaching on every alarm: quiet metrics are healthy', () => {
    const { template } = build();

    template.resourcePropertiesCountIs(ALARM, { TreatMissingData: 'notBreaching' }, 6);
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
      Dimensions: Match.absent(),
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

  describe('without managed jobs', () => {
    it('alarms on neither dead letters nor the dispatch age: there is no dispatch queue', () => {
      const { alarms, template } = build({}, { managedJobs: false });

      expect(alarms.alarms.map((alarm) => alarm.node.id)).toEqual([
        'ApiErrorRate',
        'DispatcherErrorRate',
        'ApiServerErrorRate',
        'DeadJobs',
      ]);
      template.resourcePropertiesCountIs(ALARM, { Namespace: 'AWS/SQS' }, 0);
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
