/**
 * Pausing a queue, over DynamoDB Local (and fauxqs for managed jobs): a paused queue accepts
 * enqueues and hands out nothing, its running jobs finish, and everything waiting is claimed or
 * dispatched after resume.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { addClientHook } from '../functions/core/clients.ts';
import { dispatchOne } from '../functions/dispatch/dispatcher.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import { SETTINGS_MAX_AGE_MS } from '../functions/jobs/queues.ts';
import { JobService } from '../functions/jobs/service.ts';
import { toRecord } from '../functions/local/sqs-poller.ts';
import { completes, recordingExecutor } from './support/dispatch.ts';
import { pullJob, shellJob } from './support/jobs.ts';
import { sqsForFile } from './support/sqs.ts';
import { storePerTest } from './support/store.ts';

const sqs = sqsForFile();
const t = storePerTest({ wholeSeconds: true });

/** Waits out the staleness bound of the settings other processes hold. */
const pastStaleness = () => new Promise((resolve) => setTimeout(resolve, SETTINGS_MAX_AGE_MS + 100));

describe('pause and resume (store)', () => {
  it('pauses a queue once: a second pause keeps the first pause time', async () => {
    const first = await t.store.pauseQueue('q');
    t.clock.advance(5_000);
    const second = await t.store.pauseQueue('q');
    expect(first).toMatchObject({ queue: 'q', paused: true, paused_at: t.clock.now - 5_000 });
    expect(second).toEqual(first);
  });

  it('registers a queue paused before its first job, and resuming a running queue changes nothing', async () => {
    expect(await t.store.resumeQueue('new')).toMatchObject({ queue: 'new', paused: false });
    await t.store.pauseQueue('new');
    expect(await t.store.queueState('new')).toMatchObject({ paused: true, shards: 4 });
    const resumed = await t.store.resumeQueue('new');
    expect(resumed.paused).toBe(false);
    expect(resumed.paused_at).toBeUndefined();
  });

  it('accepts enqueues while paused and counts them as pending', async () => {
    await t.store.pauseQueue('q');
    await t.store.enqueue(pullJob('a'));
    expect(await t.store.stats('q')).toMatchObject({ pending: 1 });
    expect(await t.store.claim('q', 1)).toEqual([]);
  });

  it('hands out nothing to 16 concurrent claimers while paused; running jobs finish; all is claimed after resume', async () => {
    await t.store.enqueueMany(
      Array.from({ length: 40 }, (_, i) => pullJob(`j${i}`)),
      'unique',
    );
    const running = await t.store.claim('q', 5);
    expect(running).toHaveLength(5);
    await t.store.pauseQueue('q');
    const claimers = Array.from({ length: 16 }, () => t.fresh.another());

    // Claims race enqueues that keep coming while paused: neither old nor new jobs are handed out.
    const [whilePaused] = await Promise.all([
      Promise.all(
        claimers.map(async (claimer) => [
          ...(await claimer.claim('q', 10)),
          ...(await claimer.claim('q', 10)),
        ]),
      ),
      Promise.all(Array.from({ length: 10 }, (_, i) => t.fresh.another().enqueue(pullJob(`new${i}`)))),
    ]);
    for (const job of running) await t.store.complete('q', job.id, job.run_id ?? undefined);

    expect(whilePaused.flat()).toEqual([]);
    for (const job of running) expect((await t.store.get('q', job.id))?.status).toBe('completed');
    await t.store.resumeQueue('q');
    await pastStaleness();
    const after = await Promise.all(claimers.map((claimer) => claimer.claim('q', 5)));
    // Claimers that lost races may leave a few behind: one more claim takes whatever is left.
    const ids = [...after.flat(), ...(await t.store.claim('q', 100))].map((job) => job.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(45);
  });

  it('reads the queue item once for 16 concurrent claims of one process, once its copy is stale', async () => {
    await t.store.enqueue(pullJob('a'));
    await pastStaleness();
    const queueReads: string[] = [];
    onTestFinished(
      addClientHook(async (call, next) => {
        const key = call.input.Key as { pk?: string } | undefined;
        if (call.operation === 'GetItem' && key?.pk === 'queues') queueReads.push(call.operation);
        return next();
      }),
    );

    await Promise.all(Array.from({ length: 16 }, () => t.store.claim('q', 1)));

    expect(queueReads).toHaveLength(1);
  });

  it('reaches a claimer that saw the queue running within the staleness bound', async () => {
    await t.store.enqueue(pullJob('a'));
    await t.store.enqueue(pullJob('b'));
    const other = t.fresh.another();
    expect(await other.claim('q', 1)).toHaveLength(1);
    await t.store.pauseQueue('q');
    await pastStaleness();
    expect(await other.claim('q', 1)).toEqual([]);
  });
});

describe('pause and resume (managed dispatch)', () => {
  let dispatch: DispatchQueue;
  beforeEach(async () => {
    dispatch = await sqs.dispatchQueue();
  });

  let received = 0;
  /** The next hint on the dispatch queue, as the SQS event source would hand it over. */
  async function nextHint() {
    const { Messages = [] } = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: dispatch.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2 }),
    );
    const message = Messages[0];
    if (!message) throw new Error('expected a dispatch hint');
    received++;
    return toRecord(
      {
        MessageId: message.MessageId ?? `m${received}`,
        ReceiptHandle: `r${received}`,
        Body: message.Body ?? '',
      },
      'arn:aws:sqs:us-east-1:000000000000:dispatch',
      'us-east-1',
    );
  }

  it('keeps a managed job waiting while paused and dispatches it from the hint resume sends', async () => {
    const jobs = new JobService(t.store, dispatch, t.clock.read);
    const executor = recordingExecutor(completes(t.store));
    const deps = { store: t.store, execute: executor.execute, dispatch, now: t.clock.read };
    await t.store.pauseQueue('q');
    await jobs.submitManaged(shellJob('m'));

    expect(await dispatchOne(await nextHint(), deps)).toBe('stale');
    expect(await t.store.get('q', 'm')).toMatchObject({ status: 'pending', attempts: 0 });
    t.clock.advance(60_000);
    expect(await t.store.dueUndispatched(t.clock.now, 30_000, 10)).toEqual([]);

    await jobs.resumeQueue('q');
    expect(await dispatchOne(await nextHint(), deps)).toBe('started');
    expect(executor.runs).toMatchObject([{ id: 'm', attempt: 1 }]);
    expect((await t.store.get('q', 'm'))?.status).toBe('completed');
  });

  it('lets a job running when the queue is paused finish', async () => {
    await t.store.enqueue(shellJob('m'));
    const run = await t.store.claimById('q', 'm');
    await t.store.pauseQueue('q');
    await t.store.completeRun('q', 'm', run?.run_id ?? '', { exit_code: 0, duration_ms: 1 });
    expect((await t.store.get('q', 'm'))?.status).toBe('completed');
  });

  it('leaves a paused queue to resume: the lost-dispatch repair finds its jobs only after it', async () => {
    await t.store.enqueue(shellJob('m'));
    await t.store.pauseQueue('q');
    t.clock.advance(60_000);
    expect(await t.store.dueUndispatched(t.clock.now, 30_000, 10)).toEqual([]);
    await t.store.resumeQueue('q');
    expect((await t.store.dueUndispatched(t.clock.now, 30_000, 10)).map((job) => job.id)).toEqual(['m']);
  });
});
