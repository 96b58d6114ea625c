/**
 * Per-queue rate limits, over DynamoDB Local (and fauxqs for managed jobs): the token bucket is
 * global across claimers, a claim over the limit gets nothing and the wait, and a managed job over
 * the limit stays pending with its hint sent again.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { dispatchOne } from '../functions/dispatch/dispatcher.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import type { Job } from '../functions/jobs/model.ts';
import { toRecord } from '../functions/local/sqs-poller.ts';
import { completes, recordingExecutor } from './support/dispatch.ts';
import { pullJob, shellJob } from './support/jobs.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { freshStore, storePerTest } from './support/store.ts';

const sqs = sqsForFile();
const t = storePerTest({ wholeSeconds: true });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rate limit (store)', () => {
  it('hands out the burst, then nothing with the wait until a token is free', async () => {
    await t.store.enqueueMany(
      Array.from({ length: 5 }, (_, i) => pullJob(`j${i}`)),
      'unique',
    );
    await t.store.setQueueLimits('q', { rate_per_second: 2, burst: 2 });

    expect((await t.store.claimLimited('q', 5)).jobs).toHaveLength(2);
    expect(await t.store.claimLimited('q', 1)).toEqual({ jobs: [], retryAfterMs: 500 });

    t.clock.advance(500);
    expect((await t.store.claimLimited('q', 5)).jobs).toHaveLength(1);
    t.clock.advance(10_000); // a long quiet spell earns no more than the burst
    expect((await t.store.claimLimited('q', 5)).jobs).toHaveLength(2);
  });

  it('spends no token on an empty queue', async () => {
    await t.store.setQueueLimits('q', { rate_per_second: 1, burst: 1 });
    expect(await t.store.claimLimited('q', 1)).toEqual({ jobs: [] });

    await t.store.enqueue(pullJob('a'));
    expect((await t.store.claimLimited('q', 1)).jobs).toHaveLength(1);
  });

  it('sets, keeps and clears the rate and burst', async () => {
    expect(await t.store.setQueueLimits('q', { rate_per_second: 5 })).toMatchObject({ rate_per_second: 5 });
    expect(await t.store.setQueueLimits('q', { burst: 3 })).toMatchObject({ rate_per_second: 5, burst: 3 });
    const cleared = await t.store.setQueueLimits('q', { rate_per_second: null, burst: null });
    expect(cleared.rate_per_second).toBeUndefined();
    expect(cleared.burst).toBeUndefined();

    await t.store.enqueueMany(
      Array.from({ length: 20 }, (_, i) => pullJob(`j${i}`)),
      'unique',
    );
    expect((await t.store.claimLimited('q', 20)).jobs).toHaveLength(20);
  });

  it('keeps 16 concurrent claimers within the rate plus the burst, counted from the claims themselves', async () => {
    const rate = 5;
    const burst = 2;
    const seconds = 3;
    const real = await freshStore({ clock: Date.now });
    try {
      await real.store.enqueueMany(
        Array.from({ length: 200 }, (_, i) => pullJob(`j${i}`)),
        'unique',
      );
      await real.store.setQueueLimits('q', { rate_per_second: rate, burst });
      const started = Date.now();
      const claimed: Job[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          const claimer = real.another(Date.now);
          while (Date.now() - started < seconds * 1000) {
            const got = await claimer.claimLimited('q', 3);
            claimed.push(...got.jobs);
            if (!got.jobs.length) await sleep(Math.min(got.retryAfterMs ?? 20, 50));
          }
        }),
      );

      // Every token was taken between `started` and the last claim's write (its job's `updated_at`,
      // the claim's own record), so no more than `rate · that span + burst` jobs may have started.
      const last = Math.max(...claimed.map((job) => job.updated_at));
      expect(claimed.length).toBeLessThanOrEqual(Math.floor((rate * (last - started)) / 1000) + burst);
      expect(claimed.length).toBeGreaterThanOrEqual(rate * (seconds - 1));
      expect(new Set(claimed.map((job) => job.id)).size).toBe(claimed.length);
    } finally {
      await real.dispose();
    }
  });
});

describe('max_running (store)', () => {
  /** Ends the run of `job` one way; each way must free its slot. */
  const ENDS: Record<string, (job: Job) => Promise<unknown>> = {
    complete: (job) => t.store.complete('q', job.id, job.run_id ?? ''),
    'fail with a retry left': (job) => t.store.fail('q', job.id, { error: 'x', runId: job.run_id ?? '' }),
    'fail for good': (job) =>
      t.store.fail('q', job.id, { error: 'x', runId: job.run_id ?? '', retry: false }),
    cancel: (job) => t.store.cancel('q', job.id),
    delete: (job) => t.store.delete('q', job.id),
    'lease expiry (the sweep)': async () => {
      t.clock.advance(120_000);
      await t.store.sweep();
    },
  };

  it.each(Object.keys(ENDS))('holds a slot until the run ends by %s', async (end) => {
    await t.store.enqueueMany([pullJob('a'), pullJob('b'), pullJob('c')], 'unique');
    await t.store.setQueueLimits('q', { max_running: 1 });
    const [first] = (await t.store.claimLimited('q', 2)).jobs;
    expect(first).toBeDefined();

    expect(await t.store.claimLimited('q', 1)).toEqual({ jobs: [], retryAfterMs: 1_000 });
    await ENDS[end]?.(first as Job);
    expect((await t.store.claimLimited('q', 1)).jobs).toHaveLength(1);
    expect(await t.store.claimLimited('q', 1)).toEqual({ jobs: [], retryAfterMs: 1_000 });
  });

  it('frees the slot of a released managed run, and refuses a managed job over the limit', async () => {
    await t.store.enqueue(shellJob('a'));
    await t.store.enqueue(shellJob('b'));
    await t.store.setQueueLimits('q', { max_running: 1 });
    const run = await t.store.claimByIdLimited('q', 'a');
    expect(run.job?.id).toBe('a');

    expect(await t.store.claimByIdLimited('q', 'b')).toEqual({ retryAfterMs: 1_000 });
    await t.store.releaseRun('q', 'a', run.job?.run_id ?? '', 'could not start');
    expect((await t.store.claimByIdLimited('q', 'b')).job?.id).toBe('b');
  });

  it('never has more than max_running runs at once under 16 concurrent claimers, counted from the runs themselves', async () => {
    const max = 3;
    const real = await freshStore({ clock: Date.now });
    try {
      await real.store.enqueueMany(
        Array.from({ length: 48 }, (_, i) => pullJob(`j${i}`)),
        'unique',
      );
      await real.store.setQueueLimits('q', { max_running: max });
      const runs: { start: number; end: number }[] = [];
      // A safety valve only: the loop ends when all 48 ran, however loaded the machine is.
      const deadline = Date.now() + 100_000;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          const claimer = real.another(Date.now);
          while (runs.length < 48 && Date.now() < deadline) {
            const { jobs } = await claimer.claimLimited('q', 2);
            if (!jobs.length) await sleep(20);
            await Promise.all(
              jobs.map(async (job) => {
                await sleep(30);
                // Runs end both ways: by completion, and by failing for good.
                const ended =
                  Number(job.id.slice(1)) % 2
                    ? await claimer.fail('q', job.id, { error: 'no', runId: job.run_id ?? '', retry: false })
                    : await claimer.complete('q', job.id, job.run_id ?? '');
                runs.push({ start: job.updated_at, end: ended.updated_at });
              }),
            );
          }
        }),
      );

      // Each run lasted from its claim's write to its end's write (the jobs' own `updated_at`).
      const edges = runs.flatMap((r) => [
        [r.start, 1],
        [r.end, -1],
      ]);
      edges.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0));
      let running = 0;
      let most = 0;
      for (const [, step] of edges) {
        running += step ?? 0;
        most = Math.max(most, running);
      }
      expect(most).toBe(max);
      expect(runs).toHaveLength(48);
    } finally {
      await real.dispose();
    }
  }, 120_000);
});

describe('rate limit (managed dispatch)', () => {
  let dispatch: DispatchQueue;
  beforeEach(async () => {
    dispatch = await sqs.dispatchQueue();
  });

  /** The next hint on the dispatch queue, as the SQS event source would hand it over. */
  async function nextHint() {
    const { Messages = [] } = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: dispatch.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2 }),
    );
    const message = Messages[0];
    if (!message) throw new Error('expected a dispatch hint');
    return toRecord(
      { MessageId: message.MessageId ?? 'm', ReceiptHandle: 'r', Body: message.Body ?? '' },
      'arn:aws:sqs:us-east-1:000000000000:dispatch',
      'us-east-1',
    );
  }

  it('delays a managed job over the rate instead of failing it, and starts it from the delayed hint', async () => {
    const executor = recordingExecutor(completes(t.store));
    const deps = { store: t.store, execute: executor.execute, dispatch, now: t.clock.read };
    await t.store.setQueueLimits('q', { rate_per_second: 1, burst: 1 });
    await t.store.enqueue(shellJob('a'));
    await t.store.enqueue(shellJob('b'));
    await dispatch.dispatch({ queue: 'q', id: 'a', run_at: t.clock.now }, t.clock.now);
    await dispatch.dispatch({ queue: 'q', id: 'b', run_at: t.clock.now }, t.clock.now);

    expect(await dispatchOne(await nextHint(), deps)).toBe('started');
    expect(await dispatchOne(await nextHint(), deps)).toBe('limited');
    expect(await t.store.get('q', 'b')).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await messagesIn(sqs.client, dispatch.queueUrl, ['delayed'])).toBe(1);

    t.clock.advance(1_000);
    expect(await dispatchOne(await nextHint(), deps)).toBe('started');
    expect(executor.runs.map((run) => run.id)).toEqual(['a', 'b']);
  });
});
