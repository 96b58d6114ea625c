/**
 * How many index shards a queue has: a new queue starts with few, so a small queue's claims read few
 * partitions, and it doubles them (up to a maximum) when DynamoDB throttles a write of its jobs, so
 * a busy queue is not held to a few partitions' write ceiling. DynamoDB Local never throttles: the
 * throttling here is injected at the client, as AWS would answer.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientCall } from '../functions/core/clients.ts';
import { readConfig } from '../functions/core/config.ts';
import { StoreBusyError } from '../functions/jobs/errors.ts';
import { jobKey } from '../functions/jobs/keys.ts';
import { failCalls, onClient, throttled } from './support/faults.ts';
import { pullJob } from './support/jobs.ts';
import { freshStore, type TestStore } from './support/store.ts';

let fresh: TestStore;

afterEach(async () => {
  await fresh?.dispose();
});

const newQueue = () => `shards-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Throttles the next `n` calls of `operation` on the test's DynamoDB client, as AWS would. */
function throttleNext(operation: string, n: number, error: (call: ClientCall) => Error = throttled) {
  let left = n;
  onClient(
    fresh.db,
    failCalls((call) => (call.operation === operation && left-- > 0 ? error(call) : undefined)),
  );
}

/** The shards the jobs' index entries are in, read from the stored items. */
async function shardsUsed(queue: string, ids: readonly string[]): Promise<number> {
  const items = await Promise.all(
    ids.map(
      async (id) =>
        (await fresh.db.send(new GetCommand({ TableName: fresh.config.tableName, Key: jobKey(queue, id) })))
          .Item,
    ),
  );
  return new Set(items.map((item) => item?.created_pk)).size;
}

async function enqueueMany(queue: string, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await fresh.store.enqueueMany(
    ids.map((id) => pullJob(id, { queue })),
    'ignore',
  );
  return ids;
}

describe('queue shards', () => {
  it('start at 2 for a new queue by default, and may grow to 16', () => {
    const config = readConfig({ RELAY_TABLE_NAME: 'jobs' });

    expect({ start: config.defaultShards, max: config.maxShards }).toEqual({ start: 2, max: 16 });
  });

  it('double when an enqueue is throttled, before it fails, and later jobs spread over them', async () => {
    fresh = await freshStore({ shards: 2, maxShards: 8 });
    const queue = newQueue();
    const before = await enqueueMany(queue, 'before', 40);
    expect(await shardsUsed(queue, before)).toBe(2);

    throttleNext('PutItem', 1);
    await expect(fresh.store.enqueue(pullJob('throttled', { queue }))).rejects.toBeInstanceOf(StoreBusyError);

    expect((await fresh.store.queueInfo(queue))?.shards).toBe(4);
    expect(await shardsUsed(queue, await enqueueMany(queue, 'after', 60))).toBe(4);
  });

  it('double when a batch transaction is cancelled for throttling, and stop at the maximum', async () => {
    fresh = await freshStore({ shards: 2, maxShards: 8 });
    const queue = newQueue();
    await enqueueMany(queue, 'first', 1);
    const cancelled = () =>
      new TransactionCanceledException({
        message: 'injected fault: throttled in a transaction',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }],
      });

    const grown: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      throttleNext('TransactWriteItems', 1, cancelled);
      const batch = [pullJob(`a-${i}`, { queue }), pullJob(`b-${i}`, { queue })];
      await expect(fresh.store.enqueueMany(batch, 'unique')).rejects.toBeInstanceOf(StoreBusyError);
      grown.push((await fresh.store.queueInfo(queue))?.shards);
    }

    expect(grown).toEqual([4, 8, 8]);
  });

  it('double once when throttled enqueues of several processes grow the same layout at once', async () => {
    fresh = await freshStore({ shards: 2, maxShards: 16 });
    const queue = newQueue();
    const stores = Array.from({ length: 5 }, () => fresh.another());
    // Each store has read the queue's layout: 2 shards.
    await Promise.all(stores.map((store, i) => store.enqueue(pullJob(`registers-${i}`, { queue }))));

    throttleNext('PutItem', 5);
    const outcomes = await Promise.allSettled(stores.map((store) => store.enqueue(pullJob('x', { queue }))));

    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
    expect((await fresh.store.queueInfo(queue))?.shards).toBe(4);
  });

  it('keep a strict queue at one shard', async () => {
    fresh = await freshStore({ shards: 2, strictQueues: ['in-order'] });
    await fresh.store.enqueue(pullJob('first', { queue: 'in-order' }));

    throttleNext('PutItem', 1);
    await expect(fresh.store.enqueue(pullJob('x', { queue: 'in-order' }))).rejects.toBeInstanceOf(
      StoreBusyError,
    );

    expect((await fresh.store.queueInfo('in-order'))?.shards).toBe(1);
  });

  it('are all read, within a second, by a store that read the layout before it grew: claims in order, stats and listing', async () => {
    fresh = await freshStore({ shards: 2, maxShards: 8 });
    const queue = newQueue();
    const reader = fresh.another();
    await fresh.store.enqueue(pullJob('first', { queue, priority: 100 }));
    expect((await reader.claim(queue, 1)).map((job) => job.id)).toEqual(['first']);
    throttleNext('PutItem', 1);
    await expect(fresh.store.enqueue(pullJob('x', { queue }))).rejects.toBeInstanceOf(StoreBusyError);
    const ids = Array.from({ length: 24 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    // Priorities fall with the id, so claim order is id order.
    await fresh.store.enqueueMany(
      ids.map((id, i) => pullJob(id, { queue, priority: 50 - i })),
      'ignore',
    );
    expect(await shardsUsed(queue, ids)).toBe(4);

    await sleep(1_100); // the reader's copy of the queue's settings and layout is now stale

    expect((await reader.stats(queue)).pending).toBe(24);
    expect((await reader.list({ queue, limit: 100 })).items.map((job) => job.id).sort()).toEqual(
      ['first', ...ids].sort(),
    );
    expect((await reader.claim(queue, 24)).map((job) => job.id)).toEqual(ids);
  });
});
