/**
 * An embedded SQS (fauxqs) for tests, with a client and dispatch queues made on demand: per test
 * file (`sqsForFile`), or for as long as something needs it (`startTestSqs`).
 */
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, type QueueAttributeName, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll } from 'vitest';
import { awsClientConfig } from '../../functions/core/clients.ts';
import {
  DispatchQueue,
  type DispatchQueueSettings,
  ensureDispatchQueues,
} from '../../functions/dispatch/queue.ts';
import { startSqsLocal } from '../../functions/local/sqs-local.ts';

export interface TestSqs {
  readonly endpoint: string;
  /** A client of the emulator. Its queue URLs name a host of their own: clients need the endpoint. */
  readonly client: SQSClient;
  /**
   * A dispatch queue and its dead-letter queue, named `dispatch-<uuid>` unless `settings` name it,
   * sent to with `client` (this emulator's shared one by default).
   */
  dispatchQueue(settings?: Partial<DispatchQueueSettings>, client?: SQSClient): Promise<DispatchQueue>;
}

export interface StartedSqs extends TestSqs {
  /** Destroys the client and stops the emulator. */
  stop(): Promise<void>;
}

export async function startTestSqs(): Promise<StartedSqs> {
  const sqs = await startSqsLocal();
  const shared = new SQSClient(awsClientConfig(sqs.endpoint));
  return {
    endpoint: sqs.endpoint,
    client: shared,
    dispatchQueue: async (settings = {}, client = shared) => {
      const queues = await ensureDispatchQueues(client, { name: `dispatch-${randomUUID()}`, ...settings });
      return new DispatchQueue(client, queues.queueUrl, queues.deadLetterUrl);
    },
    stop: async () => {
      shared.destroy();
      await sqs.stop();
    },
  };
}

/**
 * One embedded SQS for the test file, or for the `describe` it is called in: started before the
 * first test, stopped after the last. Its fields are read inside tests and hooks.
 */
export function sqsForFile(): TestSqs {
  let started: StartedSqs | undefined;
  beforeAll(async () => {
    started = await startTestSqs();
  });
  afterAll(async () => {
    await started?.stop();
  });
  const sqs = (): StartedSqs => {
    if (!started) throw new Error('the test SQS is read before its beforeAll ran');
    return started;
  };
  return {
    get endpoint() {
      return sqs().endpoint;
    },
    get client() {
      return sqs().client;
    },
    dispatchQueue: (settings, client) => sqs().dispatchQueue(settings, client),
  };
}

/** The messages of a queue `messagesIn` counts: waiting, received and not yet deleted, or delayed. */
export type MessageState = 'visible' | 'inFlight' | 'delayed';

const COUNTS: Record<MessageState, QueueAttributeName> = {
  visible: 'ApproximateNumberOfMessages',
  inFlight: 'ApproximateNumberOfMessagesNotVisible',
  delayed: 'ApproximateNumberOfMessagesDelayed',
};

/** How many messages of `queueUrl` are in one of `states`, as SQS counts them. */
export async function messagesIn(
  client: SQSClient,
  queueUrl: string,
  states: readonly MessageState[],
): Promise<number> {
  const names = states.map((state) => COUNTS[state]);
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: names }),
  );
  return names.reduce((sum, name) => sum + Number(Attributes[name] ?? 0), 0);
}
