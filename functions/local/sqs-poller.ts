/**
 * Feeds an SQS queue to a Lambda-style handler the way a Lambda event source mapping does, for the
 * local stack: batches of up to `batchSize` messages as an `SQSEvent`, messages the handler
 * reports in `batchItemFailures` (or a whole batch whose handler throws) left to reappear after
 * their visibility timeout, every other message deleted. Redrive to a dead-letter queue is the
 * queue's own policy, exactly as on AWS.
 *
 * `stop()` ends it at once: the receive in flight is aborted, a batch in hand is finished. A receive
 * that fails is tried again with growing pauses, saying so once per streak; a refused connection
 * ends the poller, since the local emulator it polls has closed for good.
 */
import { setMaxListeners } from 'node:events';
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
  /** Batches handled at once (the event source's maximum concurrency). @default 1 */
  readonly concurrency?: number;
}

export interface SqsPoller {
  /** Stops receiving, finishes the batch in hand, and resolves once every loop has ended. */
  stop(): Promise<void>;
}

/** Pauses after a failed receive: doubling from the first to the last. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5_000;

/** A connection refused by the endpoint, which a local emulator only does once it has closed. */
const isRefused = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';

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
  const stopping = new AbortController();
  const loops = options.concurrency ?? 1;
  // Every loop listens for the stop while it receives or pauses: that is no leak.
  setMaxListeners(Math.max(10, 4 * loops), stopping.signal);
  /** Resolves after `ms`, or at once when the poller stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done, { once: true });
    });

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
    let failures = 0;
    while (!stopping.signal.aborted) {
      let messages: Message[] | undefined;
      try {
        ({ Messages: messages } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        ));
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (isRefused(error)) {
          log('error', 'the SQS endpoint refused the connection; the poller stops', describeError(error));
          return;
        }
        if (failures++ === 0) log('warn', 'SQS receive failed; retrying', describeError(error));
        await pause(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1)));
        continue;
      }
      if (failures) log('info', 'SQS receive works again', { failures });
      failures = 0;
      try {
        if (messages?.length) await handleBatch(messages);
      } catch (error) {
        // The batch's messages reappear after their visibility timeout.
        log('warn', 'could not delete handled SQS messages', describeError(error));
      }
    }
  };

  const running = Array.from({ length: loops }, loop);
  return {
    stop: async () => {
      stopping.abort();
      await Promise.allSettled(running);
    },
  };
}
