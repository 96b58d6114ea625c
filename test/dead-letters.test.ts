/**
 * The dead-letter reconciler and the maintenance pass over DynamoDB Local and fauxqs: the SQS
 * dead-letter queue holds only hints SQS gave up on, for as long as their job is dead because of
 * them, and the `DeadJobs` gauge counts dead jobs from DynamoDB.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { documentClient } from '../functions/core/clients.ts';
import { emfMetrics } from '../functions/core/metrics.ts';
import { DEAD_LETTERED, reconcileDeadLetters, verdictOf } from '../functions/dispatch/dead-letters.ts';
import { createDispatcher, type Executor } from '../functions/dispatch/dispatcher.ts';
import { maintain } from '../functions/dispatch/maintenance.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { startSqsPoller } from '../functions/local/sqs-poller.ts';
import { awsError, failCalls, onClient } from './support/faults.ts';
import { shellJob } from './support/jobs.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { freshStore, type TestStore } from './support/store.ts';

const sqs = sqsForFile();
let fresh: TestStore;
let store: JobStore;
let dispatch: DispatchQueue;
let emfLines: string[];

beforeEach(async () => {
  // The real clock: the reconciler compares a job's `created_at` with SQS's `SentTimestamp`.
  fresh = await freshStore();
  store = fresh.store;
  dispatch = await sqs.dispatchQueue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
  emfLines = [];
});

/** Feeds the dispatch queue to a dispatcher over `over` with this executor until `stop` is called. */
async function dispatching(execute: Executor, over: JobStore = store) {
  return startSqsPoller({
    client: sqs.client,
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
const failingBeforeClaim = () => {
  const db = documentClient(fresh.config.dynamodbEndpoint);
  onClient(
    db,
    failCalls(() => awsError('ServiceUnavailable')),
  );
  return dispatching(async () => {}, new JobStore(db, fresh.config));
};

/** Messages on the dead-letter queue, visible or not: what the "DLQ not empty" alarm reads. */
const dlqDepth = () => messagesIn(sqs.client, dispatch.deadLetterUrl, ['visible', 'inFlight']);

/** The dead-letter queue's messages, without hiding them. */
async function peekDlq() {
  const { Messages = [] } = await sqs.client.send(
    new ReceiveMessageCommand({
      QueueUrl: dispatch.deadLetterUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
    }),
  );
  return Messages;
}

/** Enqueues a managed job and lets SQS dead-letter its hint (injected claim faults). */
async function deadLetteredHint(id: string, extra: Partial<NewJob> = {}): Promise<void> {
  const { job } = await store.enqueue(shellJob(id, extra));
  const before = await dlqDepth();
  await dispatch.dispatch(job);
  const poller = await failingBeforeClaim();
  await expect.poll(dlqDepth, { timeout: 20_000 }).toBe(before + 1);
  await poller.stop();
}

/** One maintenance pass, with the dispatch queue, recording its metrics as EMF lines. */
async function pass(over: JobStore = store, now?: () => number) {
  emfLines.length = 0;
  return maintain({ store: over, dispatch, metrics: emfMetrics((line) => emfLines.push(line)), now });
}

/** The `DeadJobs` values the last pass recorded, by queue. */
function deadJobsGauge(): Record<string, number> {
  const gauge: Record<string, number> = {};
  for (const line of emfLines) {
    const document = JSON.parse(line) as { queue: string; DeadJobs?: number };
    if (document.DeadJobs !== undefined) gauge[document.queue] = document.DeadJobs;
  }
  return gauge;
}

describe('verdictOf', () => {
  const base: Job = {
    queue: 'q',
    id: 'a',
    payload: null,
    state: null,
    timeout: 30,
    max_retries: 3,
    retries_remaining: 3,
    attempts: 0,
    priority: 0,
    run_at: 1_000,
    run_at_text: null,
    created_at: 1_000,
    updated_at: 1_000,
    status: 'pending',
    run_id: null,
    lease_expires_at: null,
    last_error: null,
    idempotency_key: null,
    backoff: null,
    last_backoff_seconds: null,
    type: 'SHELL',
    parent: null,
    children: [],
    result: null,
    task_arn: null,
    dead_message_id: null,
    dead_reason: null,
  };
  const deadOfIt = {
    status: 'dead',
    last_error: DEAD_LETTERED,
    dead_reason: 'dispatch_failed',
    dead_message_id: 'm1',
  } as const;

  it.each([
    ['mark', 'a waiting job never dead-lettered', {}],
    ['mark', 'a running job', { status: 'running' }],
    ['mark', 'a job revived once and dead-lettered again by another message', { dead_message_id: 'm0' }],
    ['keep', 'a job dead because of this message', deadOfIt],
    ['delete', 'a job revived after this message made it dead', { dead_message_id: 'm1' }],
    ['delete', 'a job dead because of another message', { ...deadOfIt, dead_message_id: 'm0' }],
    [
      'delete',
      'a job this message made dead that died again of its runs',
      { ...deadOfIt, last_error: 'exit 1', dead_reason: 'retries_exhausted' },
    ],
    [
      'delete',
      'a job dead of its runs',
      { status: 'dead', last_error: 'exited with code 1', dead_reason: 'retries_exhausted' },
    ],
    ['delete', 'a completed job', { status: 'completed' }],
    ['delete', 'a cancelled job', { status: 'cancelled' }],
    ['delete', 'a job created after the message was sent', { created_at: 5_000 }],
    ['delete', 'a pull job', { type: null }],
  ] as const)('says %s for the message of %s', (verdict, _, change) => {
    expect(verdictOf({ ...base, ...change }, 'm1', 2_000)).toBe(verdict);
  });

  it('deletes a message whose job is unknown, deleted or past retention', () => {
    expect(verdictOf(undefined, 'm1', 2_000)).toBe('delete');
  });
});

describe('dead-letter reconciler', () => {
  it('makes the job of a hint SQS dead-lettered dead, naming the message, and keeps the message (injected claim faults)', async () => {
    await deadLetteredHint('poison');
    const [message] = await peekDlq();

    expect(await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl)).toEqual({
      seen: 1,
      marked: 1,
      deleted: 0,
    });

    expect(await store.get('q', 'poison')).toMatchObject({
      status: 'dead',
      last_error: DEAD_LETTERED,
      dead_message_id: message?.MessageId,
    });
    // Kept, and visible again at once: a redrive right after the pass moves it.
    expect((await peekDlq()).map((m) => m.MessageId)).toEqual([message?.MessageId]);
    // A later pass sees it again and changes nothing.
    expect(await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl)).toEqual({
      seen: 1,
      marked: 0,
      deleted: 0,
    });
    expect(await dlqDepth()).toBe(1);
  });

  it('leaves a message that is not a dispatch message on the queue', async () => {
    await sqs.client.send(
      new SendMessageCommand({ QueueUrl: dispatch.deadLetterUrl, MessageBody: 'not json' }),
    );

    expect(await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl)).toEqual({
      seen: 1,
      marked: 0,
      deleted: 0,
    });
    expect(await dlqDepth()).toBe(1);
  });

  it('deletes the message when the job it made dead was requeued and then died of its own run (injected claim faults)', async () => {
    await deadLetteredHint('twice', { max_retries: 0 });
    await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl);
    await store.requeueDead('q', 'twice', 'managed');
    const run = await store.claimById('q', 'twice');
    await store.failRun('q', 'twice', String(run?.run_id), { error: 'exited with code 1', exit_code: 1 });

    expect(await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl)).toMatchObject({
      deleted: 1,
    });

    expect(await dlqDepth()).toBe(0);
    expect(await store.get('q', 'twice')).toMatchObject({ status: 'dead', last_error: 'exited with code 1' });
  });

  it('deletes the message of a deleted dead job without touching a new job enqueued under its id (injected claim faults)', async () => {
    await deadLetteredHint('reused');
    await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl);
    await store.deleteDead('q', 'reused');
    await store.enqueue(shellJob('reused'));

    expect(await reconcileDeadLetters(store, sqs.client, dispatch.deadLetterUrl)).toMatchObject({
      marked: 0,
      deleted: 1,
    });

    expect(await dlqDepth()).toBe(0);
    expect(await store.get('q', 'reused')).toMatchObject({ status: 'pending', dead_message_id: null });
  });
});

describe('maintenance and dead jobs', () => {
  it('clears the DLQ and the DeadJobs gauge at the next pass after the dead-lettered job is requeued (injected claim faults)', async () => {
    await deadLetteredHint('poison');
    expect(await pass()).toMatchObject({ deadLettered: 1, deadJobs: 1 });
    expect(deadJobsGauge()).toEqual({ q: 1 });
    expect(await dlqDepth()).toBe(1);

    const requeued = await store.requeueDead('q', 'poison', 'managed');
    expect(requeued.dead_message_id).not.toBeNull();

    expect(await pass()).toMatchObject({ deadLettered: 0, deadLettersCleared: 1, deadJobs: 0 });
    expect(await dlqDepth()).toBe(0);
    expect(deadJobsGauge()).toEqual({ q: 0 });
    // The revived job is not made dead again by the message that killed it before.
    expect((await store.get('q', 'poison'))?.status).toBe('pending');
  });

  it('clears the DLQ and the DeadJobs gauge at the next pass after the dead-lettered job is deleted (injected claim faults)', async () => {
    await deadLetteredHint('poison');
    await pass();
    expect(deadJobsGauge()).toEqual({ q: 1 });

    await store.deleteDead('q', 'poison');

    expect(await pass()).toMatchObject({ deadLettersCleared: 1, deadJobs: 0 });
    expect(await dlqDepth()).toBe(0);
    expect(deadJobsGauge()).toEqual({ q: 0 });
  });

  it('counts jobs that died by failing their last run in DeadJobs, pull and managed, and never puts them on the DLQ', async () => {
    await store.enqueue(shellJob('managed', { max_retries: 0 }));
    const run = await store.claimById('q', 'managed');
    await store.failRun('q', 'managed', String(run?.run_id), { error: 'exited with code 1', exit_code: 1 });
    await store.enqueue({ queue: 'pull', id: 'p', payload: {}, timeout: 30, max_retries: 0 });
    const [claimed] = await store.claim('pull', 1);
    await store.fail('pull', 'p', { error: 'boom', runId: String(claimed?.run_id) });
    await store.enqueue({ queue: 'idle', id: 'i', payload: {}, timeout: 30, max_retries: 3 });

    expect(await pass()).toMatchObject({ deadLettered: 0, deadJobs: 2 });

    expect(deadJobsGauge()).toEqual({ q: 1, pull: 1, idle: 0 });
    expect(await dlqDepth()).toBe(0);
  });

  it('counts a managed job whose last lease expired in the sweep in DeadJobs and never puts it on the DLQ', async () => {
    await store.enqueue(shellJob('crashed', { max_retries: 0 }));
    await store.claimById('q', 'crashed');
    // A minute later the lease (30 s) has passed.
    const later = () => Date.now() + 60_000;

    expect(await pass(fresh.another(later), later)).toMatchObject({ dead: 1, deadJobs: 1 });

    expect(deadJobsGauge()).toEqual({ q: 1 });
    expect(await dlqDepth()).toBe(0);
  });

  it('runs a dead-lettered job again when its hint is redriven, then clears the DLQ and the gauge (injected claim faults)', async () => {
    await deadLetteredHint('redriven');
    await pass();
    expect((await store.get('q', 'redriven'))?.status).toBe('dead');

    // An operator's redrive moves the message back to the dispatch queue.
    const [message] = await peekDlq();
    await sqs.client.send(
      new SendMessageCommand({ QueueUrl: dispatch.queueUrl, MessageBody: message?.Body }),
    );
    await sqs.client.send(
      new DeleteMessageCommand({ QueueUrl: dispatch.deadLetterUrl, ReceiptHandle: message?.ReceiptHandle }),
    );
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
    expect(await pass()).toMatchObject({ deadJobs: 0 });
    expect(deadJobsGauge()).toEqual({ q: 0 });
    expect(await dlqDepth()).toBe(0);
  });
});
