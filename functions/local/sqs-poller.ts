/**
 * Feeds an SQS queue to a Lambda-style handler the way a Lambda event source mapping does, for the
 * local stack: batches of up to `batchSize` messages as an `SQSEvent`, messages the handler
 * reports in `batchItemFailures` (or a whole batch whose handler throws) left to reappear after
 * their visibility timeout, every other message deleted. Redrive to a dead-letter queue is the
 * queue's own policy, exactly as on AWS.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError, log } from '../core/log.ts';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface SqsPollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsHandler;
  /** Messages per event, 1–10 as for a Lambda SQS event source. @default 10 */
  readonly batchSize?: number;
  /** Long-poll wait per receive; short so `stop()` returns promptly. @default 1 */
  readonly waitTimeSeconds?: number;
  /** Batches handled at once (Lambda's concurrent invocations). @default 1 */
  readonly concurrency?: number;
}

export interface SqsPoller {
  stop(): Promise<void>;
}

/** The record Lambda would build for a received message. */
export function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export async function startSqsPoller(options: SqsPollerOptions): Promise<SqsPoller> {
  const { client, queueUrl, handler } = options;
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queueArn = Attributes?.QueueArn ?? queueUrl;
  const region = (await client.config.region()) ?? 'us-east-1';
  let stopping = false;

  const handleBatch = async (messages: Message[]) => {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueArn, region)) };
    let failed: Set<string>;
    try {
      const response = await handler(event);
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // As with Lambda: a handler that throws returns the whole batch to the queue.
      log('warn', 'SQS handler failed; the batch will be redelivered', describeError(error));
      return;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (!done.length) return;
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  };

  const loop = async () => {
    while (!stopping) {
      try {
        const { Messages } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        if (Messages?.length) await handleBatch(Messages);
      } catch (error) {
        if (stopping) return;
        log('warn', 'SQS receive failed; retrying', describeError(error));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 1 }, loop);
  return {
    stop: async () => {
      stopping = true;
      await Promise.allSettled(loops);
    },
  };
}
