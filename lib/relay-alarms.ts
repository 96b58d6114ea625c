import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, type IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  type AlarmRule,
  apiAlarms,
  dispatchAlarms,
  functionAlarms,
  jobAlarms,
  maintenanceAlarm,
  tableAlarms,
} from './alarm-rules.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import type { IJobTable } from './job-table.ts';

export interface RelayAlarmsProps {
  /** This Relay's name in its metrics (`RELAY_NAME`): the alarms on Relay's own metrics read only its series. */
  readonly relayName: string;
  /** The jobs table: DynamoDB throttles and system errors of the store's requests. */
  readonly table: IJobTable;
  /**
   * The dispatch queue (age of the oldest hint) and its dead-letter queue (dead letters); with it,
   * runner tasks that stop mid-run alarm too.
   *
   * @default none: managed jobs are off, and so are the dead-letter, dispatch-age and runner alarms
   */
  readonly dispatchQueue?: IDispatchQueue;
  /** Relay's functions by label (`{ api, dispatcher, maintenance }`): error-rate and throttle alarms each. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /**
   * The timeouts of the functions, by the same labels: an alarm each when invocations come close.
   *
   * @default no duration alarms
   */
  readonly functionTimeouts?: Readonly<Record<string, Duration>>;
  /**
   * The function of the scheduled maintenance pass: an alarm when it stops running.
   *
   * @default no such alarm
   */
  readonly maintenance?: IFunction;
  /** The HTTP API whose 5xx and 4xx rates and p99 latency are watched. */
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
   * How long a queue's oldest due job may wait for a claim before the alarm fires. One threshold
   * for every queue: the alarm reads the worst queue's `OldestPendingAge`.
   *
   * @default Duration.minutes(15)
   */
  readonly maxPendingAge?: Duration;
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
  /**
   * Percent of API requests that may end in a 4xx before the alarm fires.
   *
   * @default 10 — conflicts (409) and unknown jobs (404) are part of normal use
   */
  readonly maxApiClientErrorPercent?: number;
  /**
   * The API's p99 latency above which the alarm fires.
   *
   * @default Duration.seconds(2)
   */
  readonly maxApiLatency?: Duration;
}

/** SQS's longest DelaySeconds: a hint may wait this long before it can be received. */
const MAX_HINT_DELAY = Duration.minutes(15);
/** The maintenance pass runs every minute: an age below two passes is noise of the gauge itself. */
const MIN_PENDING_AGE = Duration.minutes(2);

/**
 * Relay's alarms and the SNS topic they notify: a queue nobody serves, dead jobs, a stopped
 * maintenance pass, failing, throttled or slow functions, API errors and latency, DynamoDB
 * throttles and errors, and with managed jobs dead letters, a stuck dispatch queue and runner tasks
 * that die mid-run. What each watches: `alarm-rules.ts`.
 */
export class RelayAlarms extends Construct {
  /** The topic every alarm notifies. */
  readonly topic: ITopic;
  readonly alarms: readonly IAlarm[];

  constructor(scope: Construct, id: string, props: RelayAlarmsProps) {
    super(scope, id);
    const thresholds = {
      maxDispatchAge: props.maxDispatchAge ?? Duration.minutes(30),
      maxPendingAge: props.maxPendingAge ?? Duration.minutes(15),
      maxFunctionErrorPercent: props.maxFunctionErrorPercent ?? 5,
      maxApiServerErrorPercent: props.maxApiServerErrorPercent ?? 1,
      maxApiClientErrorPercent: props.maxApiClientErrorPercent ?? 10,
      maxApiLatency: props.maxApiLatency ?? Duration.seconds(2),
    };
    validate(props, thresholds);

    this.topic = props.topic ?? this.createTopic();
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const { dispatchQueue, relayName, maintenance } = props;
    const rules: AlarmRule[] = [
      ...(dispatchQueue ? dispatchAlarms(dispatchQueue, relayName, thresholds.maxDispatchAge) : []),
      ...jobAlarms(relayName, thresholds.maxPendingAge),
      ...(maintenance ? [maintenanceAlarm(maintenance)] : []),
      ...Object.entries(props.functions).flatMap(([label, fn]) =>
        functionAlarms(label, fn, thresholds.maxFunctionErrorPercent, props.functionTimeouts?.[label]),
      ),
      ...apiAlarms(props.api, {
        maxServerErrorPercent: thresholds.maxApiServerErrorPercent,
        maxClientErrorPercent: thresholds.maxApiClientErrorPercent,
        maxLatency: thresholds.maxApiLatency,
      }),
      ...tableAlarms(props.table),
    ];
    this.alarms = rules.map((rule) => {
      const created = new Alarm(this, rule.id, rule.props);
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    });
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
  readonly maxPendingAge: Duration;
  readonly maxFunctionErrorPercent: number;
  readonly maxApiServerErrorPercent: number;
  readonly maxApiClientErrorPercent: number;
  readonly maxApiLatency: Duration;
}

function validate(props: RelayAlarmsProps, thresholds: Thresholds): void {
  const { maxDispatchAge, maxPendingAge } = thresholds;
  if (maxDispatchAge.toMilliseconds() <= MAX_HINT_DELAY.toMilliseconds()) {
    throw new Error(
      `RelayAlarms maxDispatchAge is ${maxDispatchAge.toHumanString()}, but a dispatch hint may be delayed ` +
        `up to 15 minutes before it can be received: pass more than Duration.minutes(15), or omit it for 30 minutes.`,
    );
  }
  if (maxPendingAge.toMilliseconds() < MIN_PENDING_AGE.toMilliseconds()) {
    throw new Error(
      `RelayAlarms maxPendingAge is ${maxPendingAge.toHumanString()}, but the maintenance pass measures ` +
        'it once a minute: pass Duration.minutes(2) or more, or omit it for 15 minutes.',
    );
  }
  if (thresholds.maxApiLatency.toMilliseconds() <= 0) {
    throw new Error(
      `RelayAlarms maxApiLatency is ${thresholds.maxApiLatency.toHumanString()}, but a latency the API can ` +
        'exceed is above 0: pass one, or omit it for 2 seconds.',
    );
  }
  for (const [name, value, fallback] of [
    ['maxFunctionErrorPercent', thresholds.maxFunctionErrorPercent, 5],
    ['maxApiServerErrorPercent', thresholds.maxApiServerErrorPercent, 1],
    ['maxApiClientErrorPercent', thresholds.maxApiClientErrorPercent, 10],
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
