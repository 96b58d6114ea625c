import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { delaySeconds } from '../functions/dispatch/queue.ts';
import { type SqsHandler, type SqsPoller, startSqsPoller } from '../functions/local/sqs-poller.ts';
import { sqsForFile } from './support/sqs.ts';

const sqs = sqsForFile();
const pollers: SqsPoller[] = [];

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
});

/** A queue and its dead-letter queue that redeliver a failed message after 1 s. */
const queues = (settings: { maxReceiveCount?: number } = {}) =>
  sqs.dispatchQueue({ visibilityTimeoutSeconds: 1, ...settings });

async function poll(queueUrl: string, handler: SqsHandler, batchSize = 10) {
  const poller = await startSqsPoller({
    client: sqs.client,
    queueUrl,
    handler,
    batchSize,
    waitTimeSeconds: 1,
  });
  pollers.push(poller);
  return poller;
}

const send = (queueUrl: string, body: string) =>
  sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

const drain = async (queueUrl: string) =>
  (await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 })))
    .Messages ?? [];

describe('SQS poller', () => {
  it('hands messages to the handler as SQS event records and deletes them once handled', async () => {
    const { queueUrl } = await queues();
    const seen: SQSEvent['Records'] = [];
    const poller = await poll(queueUrl, async (event) => {
      seen.push(...event.Records);
      return undefined;
    });
    await send(queueUrl, 'one');
    await send(queueUrl, 'two');
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
    await poller.stop();
    expect(seen.map((r) => r.body).sort()).toEqual(['one', 'two']);
    expect(seen[0]).toMatchObject({ eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '1' } });
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('hands the handler as many batches at once as its concurrency, as a Lambda event source does', async () => {
    const { queueUrl } = await queues();
    let inside = 0;
    let peak = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const poller = await startSqsPoller({
      client: sqs.client,
      queueUrl,
      batchSize: 1,
      concurrency: 3,
      waitTimeSeconds: 1,
      // Each batch is held until the test lets go: only batches taken at once can all be inside.
      handler: async () => {
        peak = Math.max(peak, ++inside);
        await released;
        inside--;
        return undefined;
      },
    });
    pollers.push(poller);
    for (const body of ['one', 'two', 'three']) await send(queueUrl, body);

    await expect.poll(() => peak, { timeout: 10_000 }).toBe(3);
    release();
    await poller.stop();
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('redelivers only the messages reported as batch item failures', async () => {
    const { queueUrl } = await queues();
    const attempts = new Map<string, number[]>();
    const poller = await poll(queueUrl, async (event) => {
      for (const r of event.Records) {
        attempts.set(r.body, [...(attempts.get(r.body) ?? []), Number(r.attributes.ApproximateReceiveCount)]);
      }
      return {
        batchItemFailures: event.Records.filter(
          (r) => r.body === 'retry-me' && r.attributes.ApproximateReceiveCount === '1',
        ).map((r) => ({ itemIdentifier: r.messageId })),
      };
    });
    await send(queueUrl, 'fine');
    await send(queueUrl, 'retry-me');
    await expect.poll(() => attempts.get('retry-me')?.length ?? 0, { timeout: 15_000 }).toBe(2);
    await poller.stop();
    expect(attempts.get('fine')).toEqual([1]);
    expect(attempts.get('retry-me')).toEqual([1, 2]);
  });

  it('returns the whole batch when the handler throws', async () => {
    const { queueUrl } = await queues();
    let calls = 0;
    const bodies: string[] = [];
    const poller = await poll(queueUrl, async (event) => {
      calls++;
      if (calls === 1) throw new Error('crashed');
      bodies.push(...event.Records.map((r) => r.body));
      return undefined;
    });
    await send(queueUrl, 'a');
    await expect.poll(() => bodies, { timeout: 15_000 }).toEqual(['a']);
    await poller.stop();
    expect(calls).toBe(2);
  });

  it('lets the redrive policy move a message that keeps failing to the dead-letter queue', async () => {
    const { queueUrl, deadLetterUrl } = await queues({ maxReceiveCount: 2 });
    const poller = await poll(queueUrl, async (event) => ({
      batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })),
    }));
    await send(queueUrl, 'poison');
    await expect
      .poll(async () => (await drain(deadLetterUrl)).map((m) => m.Body), { timeout: 20_000 })
      .toEqual(['poison']);
    await poller.stop();
  });
});

describe('dispatch queue', () => {
  it('sends a job reference, never the payload, delayed until run_at', async () => {
    const dispatch = await queues();
    const { queueUrl } = dispatch;
    await dispatch.dispatch({ queue: 'q', id: 'now', run_at: 0 });
    await dispatch.dispatch({ queue: 'q', id: 'later', run_at: Date.now() + 60_000 });
    const bodies = (await drain(queueUrl)).map((m) => JSON.parse(m.Body ?? '{}'));
    expect(bodies).toEqual([{ v: 1, kind: 'hint', queue: 'q', id: 'now' }]);
  });

  it('caps the delay at SQS’s 15 minutes', () => {
    expect(delaySeconds(10_000_000, 0)).toBe(900);
    expect(delaySeconds(1_500, 0)).toBe(2);
    expect(delaySeconds(0, 5_000)).toBe(0);
  });
});
