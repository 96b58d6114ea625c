/**
 * The local SQS poller stops when asked, at once, and does not poll an emulator that has closed.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../functions/core/clients.ts';
import { ensureDispatchQueues } from '../functions/dispatch/queue.ts';
import { type SqsLocal, startSqsLocal } from '../functions/local/sqs-local.ts';
import { type SqsPoller, startSqsPoller } from '../functions/local/sqs-poller.ts';

const cleanUps: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
});

/** Its own emulator and queue, and a client that counts the receives sent through it. */
async function setUp(): Promise<{
  sqs: SqsLocal;
  client: SQSClient;
  queueUrl: string;
  receives: () => number;
}> {
  const sqs = await startSqsLocal();
  let stopped = false;
  cleanUps.push(async () => {
    if (!stopped) await sqs.stop();
  });
  const real = new SQSClient(awsClientConfig(sqs.endpoint));
  cleanUps.push(async () => real.destroy());
  const { queueUrl } = await ensureDispatchQueues(real, {
    name: `dispatch-${randomUUID()}`,
    visibilityTimeoutSeconds: 1,
  });
  let receives = 0;
  const client = new Proxy(real, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return (command: unknown, options?: unknown) => {
        if (command instanceof ReceiveMessageCommand) receives++;
        return (target.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      };
    },
  });
  return {
    sqs: {
      ...sqs,
      stop: async () => {
        stopped = true;
        await sqs.stop();
      },
    },
    client,
    queueUrl,
    receives: () => receives,
  };
}

async function poll(client: SQSClient, queueUrl: string, waitTimeSeconds: number): Promise<SqsPoller> {
  const poller = await startSqsPoller({ client, queueUrl, handler: async () => undefined, waitTimeSeconds });
  cleanUps.push(() => poller.stop());
  return poller;
}

describe('SQS poller lifecycle', () => {
  it('stops at once when asked, even in the middle of a long poll', async () => {
    const { client, queueUrl, receives } = await setUp();
    const poller = await poll(client, queueUrl, 20);
    await expect.poll(receives).toBeGreaterThan(0);

    const asked = Date.now();
    await poller.stop();

    expect(Date.now() - asked).toBeLessThan(1_000);
  });

  it('stops polling by itself once the emulator has closed, instead of retrying forever', async () => {
    const { sqs, client, queueUrl, receives } = await setUp();
    const poller = await poll(client, queueUrl, 1);
    await expect.poll(receives).toBeGreaterThan(0);

    await sqs.stop();
    const atClose = receives();
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    // The receive in flight fails, one more is refused, and then the poller has ended.
    expect(receives() - atClose).toBeLessThanOrEqual(2);
    const asked = Date.now();
    await poller.stop();
    expect(Date.now() - asked).toBeLessThan(100);
  });
});
