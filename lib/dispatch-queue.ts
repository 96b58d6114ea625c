import { Duration } from 'aws-cdk-lib';
import { type IMetric, MathExpression, type MathExpressionOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { Grant } from 'aws-cdk-lib/aws-iam';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import type { IWorkload } from './workload.ts';

export interface DispatchQueueProps {
  /**
   * Timeout of the function that consumes the queue (the dispatcher). The queue hides a received
   * message for six times this, as AWS recommends for Lambda event sources:
   * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
   */
  readonly consumerTimeout: Duration;
  /**
   * Receives of one message before SQS moves it to the dead-letter queue.
   *
   * @default 5
   */
  readonly maxReceiveCount?: number;
}

/**
 * The dispatch queue as the constructs that use it see it. Each grant also names both queues in the
 * workload's environment: the runtime's client of the dispatch queue takes the pair.
 */
export interface IDispatchQueue {
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** Send dispatch hints. */
  grantSendHints(workload: IWorkload): Grant;
  /** Receive and delete dispatch hints. */
  grantConsume(workload: IWorkload): Grant;
  /** Receive, hide and delete dead letters, to keep the DLQ in step with the jobs table. */
  grantReconcileDeadLetters(workload: IWorkload): Grant;
  /** Messages in the DLQ, visible or in flight. */
  metricDeadLetters(options?: MathExpressionOptions): IMetric;
}

/** Lambda's longest timeout: a consumer cannot run longer. */
const MAX_CONSUMER_TIMEOUT = Duration.minutes(15);
/** SQS's limits for `maxReceiveCount` in a redrive policy. */
const MAX_RECEIVE_COUNT: WholeNumberRange = { min: 1, max: 1000, by: 'SQS' };

/** The whole numbers a service accepts for a prop. */
export interface WholeNumberRange {
  readonly min: number;
  readonly max: number;
  /** The service that sets the range, as the error names it. */
  readonly by: string;
}

/**
 * Fails synthesis unless `value`, the prop `name`, is a whole number in `range`; the error names the
 * value, the range and the fix, which includes omitting the prop for its `fallback`.
 */
export function checkWholeNumber(
  name: string,
  value: number,
  range: WholeNumberRange,
  fallback: number,
): void {
  if (Number.isInteger(value) && value >= range.min && value <= range.max) return;
  throw new Error(
    `${name} is ${value}, but ${range.by} accepts a whole number from ${range.min} to ${range.max}: ` +
      `pass one in that range, or omit it for ${fallback}.`,
  );
}

/**
 * The dispatch queue of managed jobs and its dead-letter queue.
 *
 * Messages are hints ("job X may be runnable"), never truth: a message that keeps failing ends in
 * the DLQ, where the maintenance sweep marks its job dead and keeps the DLQ a mirror of the dead
 * jobs in DynamoDB, and AWS-native alarms see it. The local stack builds the same pair with
 * `ensureDispatchQueues()`.
 */
export class DispatchQueue extends Construct implements IDispatchQueue {
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;

  constructor(scope: Construct, id: string, props: DispatchQueueProps) {
    super(scope, id);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    validate(props.consumerTimeout, maxReceiveCount);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      // SQS's longest retention: dead jobs stay inspectable and redrivable for two weeks.
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      // SQS counts whole seconds: round up so a consumer never outlives its message's invisibility.
      visibilityTimeout: Duration.seconds(Math.ceil((props.consumerTimeout.toMilliseconds() * 6) / 1000)),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
  }

  /** Send dispatch hints: what the API (enqueue) and the maintenance sweep (repair) need. */
  grantSendHints(workload: IWorkload): Grant {
    this.name(workload);
    return this.queue.grantSendMessages(workload);
  }

  /** Receive and delete dispatch hints: the dispatcher's event source. */
  grantConsume(workload: IWorkload): Grant {
    this.name(workload);
    return this.queue.grantConsumeMessages(workload);
  }

  /**
   * Keep the DLQ in step with the jobs table: receive dead letters, hide them while they are
   * checked, and delete those whose job is no longer dead (requeued, deleted or expired).
   *
   * What maintenance needs; nothing may send to the DLQ but SQS's redrive.
   */
  grantReconcileDeadLetters(workload: IWorkload): Grant {
    this.name(workload);
    return this.deadLetterQueue.grant(
      workload,
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
    );
  }

  /**
   * Messages in the DLQ, visible or in flight.
   *
   * The maintenance sweep receives every dead letter to check it against the table, so while it
   * reads them they are in flight and `ApproximateNumberOfMessagesVisible` alone would dip to zero.
   */
  metricDeadLetters(options: MathExpressionOptions = {}): MathExpression {
    return new MathExpression({
      expression: 'visible + inFlight',
      usingMetrics: {
        visible: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
        inFlight: this.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible(),
      },
      label: 'Dead letters',
      ...options,
    });
  }

  /** Names both queues in `workload`'s environment; which it may touch is the grant's to say. */
  private name(workload: IWorkload): void {
    workload.addEnvironment(Env.DISPATCH_QUEUE_URL, this.queue.queueUrl);
    workload.addEnvironment(Env.DISPATCH_DLQ_URL, this.deadLetterQueue.queueUrl);
  }
}

function validate(consumerTimeout: Duration, maxReceiveCount: number): void {
  const millis = consumerTimeout.toMilliseconds();
  if (millis < 1000 || millis > MAX_CONSUMER_TIMEOUT.toMilliseconds()) {
    throw new Error(
      `DispatchQueue consumerTimeout is ${consumerTimeout.toHumanString()}, but a Lambda consumer runs ` +
        `for 1 second to 15 minutes: pass the dispatcher function's timeout, at most Duration.minutes(15).`,
    );
  }
  checkWholeNumber('DispatchQueue maxReceiveCount', maxReceiveCount, MAX_RECEIVE_COUNT, 5);
}
