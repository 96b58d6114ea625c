/**
 * The dispatcher over DynamoDB Local and fauxqs: what each dispatch hint does to a job, and how a
 * batch reports its failures to the SQS event source.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { documentClient } from '../functions/core/clients.ts';
import { DEAD_LETTERED } from '../functions/dispatch/dead-letters.ts';
import { createDispatcher, type DispatcherDeps, dispatchOne } from '../functions/dispatch/dispatcher.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import { jobKey } from '../functions/jobs/keys.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { toRecord } from '../functions/local/sqs-poller.ts';
import { runJob } from '../functions/runner/job.ts';
import { runCommand } from '../functions/runner/run.ts';
import { completes, type RecordingExecutor, recordingExecutor } from './support/dispatch.ts';
import { failCalls, onClient, throttled } from './support/faults.ts';
import { shellJob } from './support/jobs.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

const sqs = sqsForFile();
let clock: TestClock;
let fresh: TestStore;
let store: JobStore;
let dispatch: DispatchQueue;
let executor: RecordingExecutor;

beforeEach(async () => {
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
  dispatch = await sqs.dispatchQueue();
  executor = recordingExecutor(completes(store));
});

const deps = (over: Partial<DispatcherDeps> = {}): DispatcherDeps => ({
  store,
  execute: executor.execute,
  dispatch,
  now: clock.read,
  ...over,
});

let messages = 0;
/** The record Lambda would hand the dispatcher for a message with this body. */
const message = (body: string): SQSRecord => {
  messages++;
  return toRecord(
    { MessageId: `message-${messages}`, ReceiptHandle: `receipt-${messages}`, Body: body },
    'arn:aws:sqs:us-east-1:000000000000:dispatch',
    'us-east-1',
  );
};
const hint = (id: string, queue = 'q') => message(JSON.stringify({ v: 1, kind: 'hint', queue, id }));

/** Claims a job as another dispatcher would have, failing the test when it is not claimable. */
async function claimed(id: string) {
  const run = await store.claimById('q', id);
  if (!run?.run_id) throw new Error(`expected q/${id} to be claimable`);
  return { ...run, run_id: run.run_id };
}

/**
 * The hint of a job that an operator moves back from the SQS dead-letter queue: the very body the
 * dispatch queue carried, read back from fauxqs.
 */
async function redriven(id: string): Promise<SQSRecord> {
  await sqs.client.send(
    new SendMessageCommand({
      QueueUrl: dispatch.deadLetterUrl,
      MessageBody: JSON.stringify({ queue: 'q', id }),
    }),
  );
  const { Messages } = await sqs.client.send(
    new ReceiveMessageCommand({ QueueUrl: dispatch.deadLetterUrl, MaxNumberOfMessages: 1 }),
  );
  return message(Messages?.[0]?.Body ?? '');
}

/** A managed job whose hint SQS dead-lettered, as the dead-letter reconciler leaves it. */
async function deadLettered(id: string, extra: Partial<NewJob> = {}) {
  await store.enqueue(shellJob(id, extra));
  const dead = await store.markDead('q', id, DEAD_LETTERED, `dead-letter-${id}`);
  expect(dead).toMatchObject({ status: 'dead', dead_message_id: `dead-letter-${id}` });
}

/** A managed job that used its only run and failed: dead. */
async function deadJob(id: string) {
  await store.enqueue(shellJob(id, { max_retries: 0 }));
  const run = await claimed(id);
  await store.failRun('q', id, run.run_id, { error: 'exited with code 1', exit_code: 1 });
  expect((await store.get('q', id))?.status).toBe('dead');
}

describe('dispatchOne', () => {
  it('starts exactly one run of a due waiting managed job', async () => {
    await store.enqueue(shellJob('m'));
    expect(await dispatchOne(hint('m'), deps())).toBe('started');
    expect(executor.runs).toMatchObject([{ id: 'm', attempt: 1 }]);
    expect(await store.get('q', 'm')).toMatchObject({
      status: 'completed',
      attempts: 1,
      run_id: executor.runs[0]?.runId,
    });
  });

  const notClaimable: Record<string, () => Promise<void>> = {
    running: async () => {
      await store.enqueue(shellJob('m'));
      await claimed('m');
    },
    completed: async () => {
      await store.enqueue(shellJob('m'));
      const run = await claimed('m');
      await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1 });
    },
    cancelled: async () => {
      await store.enqueue(shellJob('m'));
      await store.cancel('q', 'm');
    },
    unknown: async () => {},
    'pull (unmanaged)': async () => {
      await store.enqueue({ ...shellJob('m'), type: undefined });
    },
  };

  it.each(Object.keys(notClaimable))('drops a hint for a %s job without running it', async (status) => {
    await notClaimable[status]?.();
    const before = await store.get('q', 'm');
    expect(await dispatchOne(hint('m'), deps())).toBe('stale');
    expect(executor.runs).toEqual([]);
    expect(await store.get('q', 'm')).toEqual(before);
  });

  it('re-sends the hint of a job not yet due with the remaining delay, without running it', async () => {
    await store.enqueue(shellJob('m', { run_at: clock.now + 90_000 }));
    const sent: Record<string, unknown>[] = [];
    const restore = onClient(sqs.client, async (call, next) => {
      if (call.operation === 'SendMessage') sent.push({ ...call.input });
      return next();
    });
    clock.advance(30_000);
    try {
      expect(await dispatchOne(hint('m'), deps())).toBe('not-due');
    } finally {
      restore();
    }
    expect(sent).toEqual([
      {
        QueueUrl: dispatch.queueUrl,
        MessageBody: JSON.stringify({ v: 1, kind: 'hint', queue: 'q', id: 'm' }),
        DelaySeconds: 60,
      },
    ]);
    expect(await messagesIn(sqs.client, dispatch.queueUrl, ['delayed'])).toBe(1);
    expect(executor.runs).toEqual([]);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('requeues a dead-lettered job named by its redriven hint with a fresh retry budget and runs it', async () => {
    await store.enqueue(shellJob('m', { max_retries: 2 }));
    const run = await claimed('m');
    await store.failRun('q', 'm', run.run_id, { error: 'exited with code 1', exit_code: 1 });
    await store.markDead('q', 'm', DEAD_LETTERED, 'dead-letter-m');
    clock.advance(3_600_000);
    const seen: { retries: number | null }[] = [];
    const execute = async (job: Job) => {
      seen.push({ retries: job.retries_remaining });
      await executor.execute(job);
    };
    expect(await dispatchOne(await redriven('m'), deps({ execute }))).toBe('requeued');
    expect(executor.runs).toMatchObject([{ id: 'm', attempt: 2 }]);
    expect(seen).toEqual([{ retries: 2 }]);
    // It keeps the message it died of, so the next maintenance pass deletes that message.
    expect(await store.get('q', 'm')).toMatchObject({
      status: 'completed',
      dead_message_id: 'dead-letter-m',
    });
    expect((await store.deadLetters('q', 10)).items).toEqual([]);
  });
});

describe('dispatch messages', () => {
  it('reads a versioned hint and the unversioned hint of an older sender alike', async () => {
    await store.enqueue(shellJob('new'));
    await store.enqueue(shellJob('old'));

    expect(await dispatchOne(hint('new'), deps())).toBe('started');
    expect(await dispatchOne(message(JSON.stringify({ queue: 'q', id: 'old' })), deps())).toBe('started');
    expect(executor.runs.map((r) => r.id)).toEqual(['new', 'old']);
  });

  it('refuses a message of a kind it does not know, so SQS redelivers it and in the end dead-letters it', async () => {
    await store.enqueue(shellJob('m'));
    const unknown = message(JSON.stringify({ v: 2, kind: 'reschedule', queue: 'q', id: 'm' }));

    await expect(dispatchOne(unknown, deps())).rejects.toThrow();
    expect(executor.runs).toEqual([]);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'pending' });
  });
});

describe('dispatchOne and dead jobs', () => {
  it('drops a late hint for a job that died by failing its runs', async () => {
    await deadJob('late');
    expect(await dispatchOne(hint('late'), deps())).toBe('stale');
    expect((await store.get('q', 'late'))?.status).toBe('dead');
    expect(executor.runs).toEqual([]);
  });

  it('drops a redriven hint for a job dead for another reason', async () => {
    await deadJob('failed');
    const before = await store.get('q', 'failed');
    expect(await dispatchOne(await redriven('failed'), deps())).toBe('stale');
    expect(await store.get('q', 'failed')).toEqual(before);
    expect(executor.runs).toEqual([]);
  });

  it('drops a redriven hint for a job that was revived after being dead-lettered and then died of its runs', async () => {
    await deadLettered('again', { max_retries: 0 });
    await store.requeueDead('q', 'again', 'managed');
    const run = await claimed('again');
    await store.failRun('q', 'again', run.run_id, { error: 'exited with code 1', exit_code: 1 });
    expect(await dispatchOne(await redriven('again'), deps())).toBe('stale');
    expect(await store.get('q', 'again')).toMatchObject({ status: 'dead', last_error: 'exited with code 1' });
    expect(executor.runs).toEqual([]);
  });

  it('runs again a job made dead because SQS dead-lettered its hint, when that hint is redriven', async () => {
    await deadLettered('poison');
    expect(await dispatchOne(await redriven('poison'), deps())).toBe('requeued');
    expect((await store.get('q', 'poison'))?.status).toBe('completed');
  });
});

describe('dispatchOne and failing executors', () => {
  it('gives the run back when the executor fails, so the redelivered hint runs it', async () => {
    await store.enqueue(shellJob('flaky', { max_retries: 2 }));
    const failing = async () => {
      throw new Error('could not start');
    };
    await expect(dispatchOne(hint('flaky'), deps({ execute: failing }))).rejects.toThrow('could not start');
    expect(await store.get('q', 'flaky')).toMatchObject({
      status: 'pending',
      attempts: 0,
      retries_remaining: 2,
    });
    expect(await dispatchOne(hint('flaky'), deps())).toBe('started');
    expect(await store.get('q', 'flaky')).toMatchObject({ status: 'completed', attempts: 1 });
  });
});

describe('createDispatcher', () => {
  it('starts one run for a hint delivered twice in one batch and acknowledges both copies', async () => {
    await store.enqueue(shellJob('m'));
    const response = await createDispatcher(deps())({ Records: [hint('m'), hint('m')] });
    expect(response.batchItemFailures).toEqual([]);
    expect(executor.runs).toHaveLength(1);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('starts one run for a hint delivered again in a later batch and acknowledges the copy', async () => {
    await store.enqueue(shellJob('m'));
    const handler = createDispatcher(deps());
    expect((await handler({ Records: [hint('m')] })).batchItemFailures).toEqual([]);
    expect((await handler({ Records: [hint('m')] })).batchItemFailures).toEqual([]);
    expect(executor.runs).toHaveLength(1);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('runs a dead-lettered job once when two copies of its redriven hint arrive in one batch', async () => {
    await deadLettered('m');
    const record = await redriven('m');
    const response = await createDispatcher(deps())({ Records: [record, message(record.body)] });
    expect(response.batchItemFailures).toEqual([]);
    expect(executor.runs).toMatchObject([{ id: 'm', attempt: 1 }]);
    expect((await store.get('q', 'm'))?.status).toBe('completed');
  });

  it('reports malformed bodies as batch item failures and runs the rest of the batch', async () => {
    await store.enqueue(shellJob('m'));
    const notJson = message('not json');
    const noId = message(JSON.stringify({ queue: 'q' }));
    const good = hint('m');
    const response = await createDispatcher(deps())({ Records: [notJson, good, noId] });
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: notJson.messageId },
      { itemIdentifier: noId.messageId },
    ]);
    expect(executor.runs.map((r) => r.id)).toEqual(['m']);
  });

  it('fails only the message whose claim meets an injected DynamoDB throttling fault, then runs it on redelivery', async () => {
    for (const id of ['a', 'b', 'c']) await store.enqueue(shellJob(id));
    // The dispatcher's own client, as a Lambda has: throttle every call that touches job b.
    const db = documentClient(fresh.config.dynamodbEndpoint);
    const throttledKey = jobKey('q', 'b');
    const restore = onClient(
      db,
      failCalls((call) => {
        const key = call.input.Key as { pk?: unknown; sk?: unknown } | undefined;
        return key?.pk === throttledKey.pk && key?.sk === throttledKey.sk ? throttled(call) : undefined;
      }),
    );
    const handler = createDispatcher(deps({ store: new JobStore(db, fresh.config, clock.read) }));
    const b = hint('b');

    const response = await handler({ Records: [hint('a'), b, hint('c')] });

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: b.messageId }]);
    expect(executor.runs.map((r) => r.id).sort()).toEqual(['a', 'c']);
    expect(await store.get('q', 'b')).toMatchObject({ status: 'pending', attempts: 0 });

    restore();
    expect((await handler({ Records: [b] })).batchItemFailures).toEqual([]);
    expect(executor.runs.map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
    expect(await store.get('q', 'b')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('completes an inline run whose runner meets injected DynamoDB throttling faults at its start and end', async () => {
    // No retry left: a run lost to throttling would make this job dead although its command succeeded.
    await store.enqueue(shellJob('m', { max_retries: 0 }));
    const db = documentClient(fresh.config.dynamodbEndpoint);
    const runnerStore = new JobStore(db, fresh.config, clock.read);
    let throttle = 0;
    onClient(
      db,
      failCalls((call) => (throttle-- > 0 ? throttled(call) : undefined)),
    );
    const inline = recordingExecutor(async (job) => {
      throttle = 2; // the runner's first read of the job
      const result = await runJob(
        { queue: job.queue, id: job.id, runId: job.run_id },
        {
          store: runnerStore,
          dispatch,
          run: async (...args) => {
            const outcome = await runCommand(...args);
            throttle = 2; // the write that records the outcome
            return outcome;
          },
        },
      );
      return { completed: result.kind === 'ended' && result.stored.job.status === 'completed' };
    });

    const response = await createDispatcher(deps({ execute: inline.execute }))({ Records: [hint('m')] });

    expect(response.batchItemFailures).toEqual([]);
    expect(inline.runs).toMatchObject([{ id: 'm', attempt: 1, completed: true }]);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'completed', result: { exit_code: 0 } });
  });
});
