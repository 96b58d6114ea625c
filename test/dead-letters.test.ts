import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../functions/core/clients.ts';
import { markDeadLettered } from '../functions/dispatch/dead-letters.ts';
import { createDispatcher, type Executor } from '../functions/dispatch/dispatcher.ts';
import { DispatchQueue, ensureDispatchQueues } from '../functions/dispatch/queue.ts';
import type { NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { type SqsLocal, startSqsLocal } from '../functions/local/sqs-local.ts';
import { startSqsPoller } from '../functions/local/sqs-poller.ts';
import { freshStore } from './support/store.ts';

let sqs: SqsLocal;
let client: SQSClient;
let store: JobStore;
let dispatch: DispatchQueue;

beforeAll(async () => {
  sqs = await startSqsLocal();
  client = new SQSClient(awsClientConfig(sqs.endpoint));
});
afterAll(() => sqs.stop());

beforeEach(async () => {
  store = (await freshStore()).store;
  const queues = await ensureDispatchQueues(client, {
    name: `dl-${randomUUID()}`,
    maxReceiveCount: 2,
    visibilityTimeoutSeconds: 1,
  });
  dispatch = new DispatchQueue(client, queues.queueUrl, queues.deadLetterUrl);
});

const shell = (id: string): NewJob => ({
  queue: 'q',
  id,
  payload: { command: 'true' },
  timeout: 30,
  max_retries: 3,
  type: 'SHELL',
});

/** Feeds the dispatch queue to a dispatcher over `over` with this executor until `stop` is called. */
async function dispatching(execute: Executor, over: JobStore = store) {
  return startSqsPoller({
    client,
    queueUrl: dispatch.queueUrl,
    handler: createDispatcher({ store: over, dispatch, execute }),
    waitTimeSeconds: 1,
  });
}

/**
 * A dispatcher that fails before it can claim, every time (an injected DynamoDB fault): the only
 * way a hint ends on the dead-letter queue. One that fails after claiming sees the job running on
 * redelivery and drops the hint; the lease then expires and the sweep recovers the run.
 */
const failingBeforeClaim = () =>
  dispatching(
    async () => {},
    Object.assign(Object.create(store), {
      claimById: async () => {
        throw Object.assign(new Error('injected: DynamoDB unavailable'), { name: 'ServiceUnavailable' });
      },
    }) as JobStore,
  );

describe('dead-letter consumer', () => {
  it('marks the job of a message SQS dead-lettered dead, with a reason, and leaves the message for redrive (injected claim faults)', async () => {
    const { job } = await store.enqueue(shell('poison'));
    await dispatch.dispatch(job);
    const poller = await failingBeforeClaim();
    await expect
      .poll(async () => (await markDeadLettered(store, client, dispatch.deadLetterUrl)).marked, {
        timeout: 20_000,
      })
      .toBe(1);
    await poller.stop();
    expect(await store.get('q', 'poison')).toMatchObject({
      status: 'dead',
      last_error: expect.stringContaining('dead-letter queue'),
    });
    // Still on the queue: a later scan sees it again and changes nothing.
    await expect
      .poll(async () => markDeadLettered(store, client, dispatch.deadLetterUrl), { timeout: 10_000 })
      .toEqual({ seen: 1, marked: 0 });
  });

  it('skips Relay’s own records of dead jobs', async () => {
    await store.enqueue(shell('recorded'));
    await dispatch.deadLetter({ queue: 'q', id: 'recorded' }, 'exited with code 3');
    expect(await markDeadLettered(store, client, dispatch.deadLetterUrl)).toEqual({ seen: 1, marked: 0 });
    expect((await store.get('q', 'recorded'))?.status).toBe('pending');
  });

  it('runs the job again with a fresh retry budget when the message is redriven (injected claim faults)', async () => {
    const { job } = await store.enqueue(shell('redriven'));
    await dispatch.dispatch(job);
    const crashingPoller = await failingBeforeClaim();
    await expect
      .poll(async () => (await markDeadLettered(store, client, dispatch.deadLetterUrl)).marked, {
        timeout: 20_000,
      })
      .toBe(1);
    await crashingPoller.stop();

    // An operator's redrive moves the message back to the dispatch queue.
    await expect
      .poll(
        async () => {
          const { Messages = [] } = await client.send(
            new ReceiveMessageCommand({ QueueUrl: dispatch.deadLetterUrl, MaxNumberOfMessages: 10 }),
          );
          for (const m of Messages)
            await client.send(new SendMessageCommand({ QueueUrl: dispatch.queueUrl, MessageBody: m.Body }));
          return Messages.length;
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    const runs: string[] = [];
    const poller = await dispatching(async (claimed) => {
      runs.push(String(claimed.run_id));
      await store.completeRun(claimed.queue, claimed.id, String(claimed.run_id), {
        exit_code: 0,
        duration_ms: 1,
      });
    });
    await expect
      .poll(async () => (await store.get('q', 'redriven'))?.status, { timeout: 15_000 })
      .toBe('completed');
    await poller.stop();
    expect(runs).toHaveLength(1);
    expect((await store.get('q', 'redriven'))?.retries_remaining).toBe(3);
  });
});
