import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  type AlarmProps,
  ComparisonOperator,
  type IAlarm,
  MathExpression,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { JobMetric } from '../functions/core/metric-names.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import { JOB_METRIC_PERIOD, jobMetric } from './job-metrics.ts';

export interface RelayAlarmsProps {
  /**
   * The dispatch queue (age of the oldest hint) and its dead-letter queue (dead letters).
   *
   * @default none: managed jobs are off, and so are the dead-letter and dispatch-age alarms
   */
  readonly dispatchQueue?: IDispatchQueue;
  /** Relay's functions by label (`{ api, dispatcher, maintenance }`): one error-rate alarm each. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The HTTP API whose 5xx rate is watched. */
  readonly api: IHttpApi;
  /**
   * Where the alarms notify, when they fire and when they recover.
   *
   * A topic you pass is used as it is: its policy must let `cloudwatch.amazonaws.com` publish, and
   * if it is encrypted, its key must be customer managed and let CloudWatch use it.
   *
   * @default a new topic, TLS only, encrypted with a new customer managed key CloudWatch may use
   */
  readonly topic?: ITopic;
  /**
   * An address subscribed to the topic by email; AWS mails it a confirmation link first.
   *
   * @default no subscription
   */
  readonly email?: string;
  /**
   * Age of the oldest dispatch hint above which the dispatcher is taken to be stuck.
   *
   * @default Duration.minutes(30) — hint messages may carry up to 15 minutes of DelaySeconds
   */
  readonly maxDispatchAge?: Duration;
  /**
   * Percent of a function's invocations that may fail (throw or time out) before its alarm fires.
   *
   * @default 5
   */
  readonly maxFunctionErrorPercent?: number;
  /**
   * Percent of API requests that may end in a 5xx before the alarm fires.
   *
   * @default 1
   */
  readonly maxApiServerErrorPercent?: number;
}

/** SQS's longest DelaySeconds: a hint may wait this long before it can be received. */
const MAX_HINT_DELAY = Duration.minutes(15);
const PERIOD = JOB_METRIC_PERIOD;
/** Rates alarm when two of the last three periods breach: one bad period is noise, two are a trend. */
const RATE_EVALUATION = { evaluationPeriods: 3, datapointsToAlarm: 2 };

/**
 * Relay's alarms and the SNS topic they notify: dead jobs, failing functions, API 5xx, and with
 * managed jobs a dead letter and a stuck dispatch queue.
 */
export class RelayAlarms extends Construct {
  /** The topic every alarm notifies. */
  readonly topic: ITopic;
  readonly alarms: readonly IAlarm[];

  constructor(scope: Construct, id: string, props: RelayAlarmsProps) {
    super(scope, id);
    const maxDispatchAge = props.maxDispatchAge ?? Duration.minutes(30);
    const maxFunctionErrorPercent = props.maxFunctionErrorPercent ?? 5;
    const maxApiServerErrorPercent = props.maxApiServerErrorPercent ?? 1;
    validate(props, { maxDispatchAge, maxFunctionErrorPercent, maxApiServerErrorPercent });

    this.topic = props.topic ?? this.createTopic();
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const alarm = (alarmId: string, alarmProps: AlarmProps): IAlarm => {
      const created = new Alarm(this, alarmId, alarmProps);
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    };
    const { dispatchQueue } = props;

    this.alarms = [
      ...(dispatchQueue
        ? [
            alarm('DeadLetters', {
              alarmDescription:
                'The dispatch dead-letter queue holds messages: SQS moved dispatch hints there after they ' +
                'kept failing, and their jobs are dead. Check the dispatcher’s errors and logs, then requeue ' +
                'or delete the jobs; the maintenance sweep keeps the DLQ in step with them.',
              metric: dispatchQueue.metricDeadLetters({ period: PERIOD }),
              comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
              threshold: 0,
              evaluationPeriods: 1,
              treatMissingData: TreatMissingData.NOT_BREACHING,
            }),
            alarm('DispatchAge', {
              alarmDescription:
                `The oldest dispatch hint is older than ${maxDispatchAge.toHumanString()}: ` +
                'the dispatcher is not consuming the queue. Check its errors, throttles and logs.',
              metric: dispatchQueue.queue.metricApproximateAgeOfOldestMessage({
                statistic: Stats.MAXIMUM,
                period: PERIOD,
              }),
              comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
              threshold: maxDispatchAge.toSeconds({ integral: false }),
              evaluationPeriods: 1,
              treatMissingData: TreatMissingData.NOT_BREACHING,
            }),
          ]
        : []),
      ...Object.entries(props.functions).map(([label, fn]) =>
        alarm(`${label[0]?.toUpperCase()}${label.slice(1)}ErrorRate`, {
          alarmDescription: `More than ${maxFunctionErrorPercent}% of the ${label} function's invocations fail.`,
          metric: new MathExpression({
            expression: '100 * errors / invocations',
            usingMetrics: {
              errors: fn.metricErrors({ statistic: Stats.SUM }),
              invocations: fn.metricInvocations({ statistic: Stats.SUM }),
            },
            label: `${label} error %`,
            period: PERIOD,
          }),
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          threshold: maxFunctionErrorPercent,
          ...RATE_EVALUATION,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      ),
      alarm('ApiServerErrorRate', {
        alarmDescription: `More than ${maxApiServerErrorPercent}% of API requests end in a 5xx.`,
        metric: new MathExpression({
          expression: '100 * serverErrors / requests',
          usingMetrics: {
            serverErrors: props.api.metricServerError({ statistic: Stats.SUM }),
            requests: props.api.metricCount({ statistic: Stats.SUM }),
          },
          label: 'API 5xx %',
          period: PERIOD,
        }),
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: maxApiServerErrorPercent,
        ...RATE_EVALUATION,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      // A gauge the maintenance sweep counts from DynamoDB, so the alarm stays on while any job is
      // dead and clears once every one was requeued or deleted, not five minutes after a death.
      alarm('DeadJobs', {
        alarmDescription:
          'Jobs are dead (all queues). List them with `relay dlq list <queue>` and find why in the ' +
          '"Recent failures" logs, then requeue or delete them: the alarm clears when none is left.',
        metric: jobMetric(JobMetric.DEAD_JOBS, Stats.MAXIMUM),
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: 0,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /**
   * A TLS-only topic encrypted with a customer managed key.
   *
   * CloudWatch cannot publish to a topic encrypted with the AWS managed `alias/aws/sns` key, whose
   * policy cannot grant it `kms:Decrypt` and `kms:GenerateDataKey*`; a customer managed key can.
   * The topic policy that enforces TLS replaces SNS's default policy, so it must also let CloudWatch
   * publish. `grantPublish` does both. https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
   */
  private createTopic(): ITopic {
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts Relay alarm notifications',
      enableKeyRotation: true,
      // It encrypts notifications in flight only: nothing that outlives the stack needs it.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const topic = new Topic(this, 'Topic', { displayName: 'Relay alarms', masterKey: key, enforceSSL: true });
    topic.grantPublish(new ServicePrincipal('cloudwatch.amazonaws.com'));
    return topic;
  }
}

interface Thresholds {
  readonly maxDispatchAge: Duration;
  readonly maxFunctionErrorPercent: number;
  readonly maxApiServerErrorPercent: number;
}

function validate(props: RelayAlarmsProps, thresholds: Thresholds): void {
  const { maxDispatchAge, maxFunctionErrorPercent, maxApiServerErrorPercent } = thresholds;
  if (maxDispatchAge.toMilliseconds() <= MAX_HINT_DELAY.toMilliseconds()) {
    throw new Error(
      `RelayAlarms maxDispatchAge is ${maxDispatchAge.toHumanString()}, but a dispatch hint may be delayed ` +
        `up to 15 minutes before it can be received: pass more than Duration.minutes(15), or omit it for 30 minutes.`,
    );
  }
  for (const [name, value, fallback] of [
    ['maxFunctionErrorPercent', maxFunctionErrorPercent, 5],
    ['maxApiServerErrorPercent', maxApiServerErrorPercent, 1],
  ] as const) {
    if (!(value >= 0 && value < 100)) {
      throw new Error(
        `RelayAlarms ${name} is ${value}, but a percentage the alarm can exceed is from 0 up to, not ` +
          `including, 100: pass one in that range, or omit it for ${fallback}.`,
      );
    }
  }
  for (const label of Object.keys(props.functions)) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(label)) {
      throw new Error(
        `RelayAlarms functions has the label "${label}", but labels name the alarms' construct IDs: ` +
          `use letters and digits, starting with a letter (e.g. "dispatcher").`,
      );
    }
  }
  const { email } = props;
  if (email !== undefined && !Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    throw new Error(
      `RelayAlarms email is "${email}", which is not an email address: pass one like ops@example.com, ` +
        'or omit it for no subscription.',
    );
  }
}
