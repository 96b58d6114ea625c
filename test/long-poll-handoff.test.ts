/**
 * Long polls woken in their own process: an enqueue hands the claims waiting on its queue the jobs
 * it wrote, and they claim them with the claim's usual conditional write but without reading the
 * `ready` index first. Every figure here is counted from the real DynamoDB calls.
 */
import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ArrivedJob,
  announce,
  arrivedOf,
  nextArrival,
  waitingClaims,
} from '../functions/jobs/arrivals.ts';
import type { JobItem } from '../functions/jobs/item.ts';
import { jobKey } from '../functions/jobs/keys.ts';
import { onClient } from './support/faults.ts';
import { pullJob } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let fresh: TestStore;
let clock: TestClock;
/** DynamoDB calls of every store over the table since the test began. */
let calls: { operation: string; index?: string; refused: boolean }[];

beforeEach(async () => {
  clock = new TestClock();
  fresh = await freshStore({ clock: clock.read, strictQueues: ['strict'] });
  calls = [];
  onClient(fresh.db, async (call, next) => {
    const entry = {
      operation: call.operation,
      index: call.input.IndexName as string | undefined,
      refused: false,
    };
    calls.push(entry);
    try {
      return await next();
    } catch (error) {
      entry.refused = (error as Error).name === 'ConditionalCheckFailedException';
      throw error;
    }
  });
});

afterEach(async () => {
  await fresh.dispose();
});

const newQueue = () => `handoff-${randomUUID().slice(0, 8)}`;
const readyQueries = () => calls.filter((c) => c.operation === 'Query' && c.index === 'ready').length;

/** Starts `n` long polls of one job each, and returns once all of them wait for an enqueue. */
async function waitingPolls(queue: string, n: number) {
  const polls = Array.from({ length: n }, () => fresh.store.claimLimited(queue, 1, undefined, 10_000));
  await expect.poll(() => waitingClaims(fresh.config.tableName, queue)).toBe(n);
  return polls;
}

/** The queue, registered and known to the store's caches, with nothing waiting in it. */
async function emptyQueue(queue = newQueue()) {
  await fresh.store.enqueue(pullJob('registers-the-queue', { queue }));
  const [run] = await fresh.store.claim(queue, 1);
  await fresh.store.complete(queue, 'registers-the-queue', run?.run_id ?? undefined);
  return queue;
}

describe('a long poll woken by an enqueue in its process', () => {
  it('claims the job it is handed without reading the ready index', async () => {
    const queue = await emptyQueue();
    const [poll] = await waitingPolls(queue, 1);
    const before = readyQueries();

    await fresh.store.enqueue(pullJob('handed', { queue }));
    const got = await poll;

    expect(got?.jobs.map((job) => job.id)).toEqual(['handed']);
    expect(readyQueries()).toBe(before);
  });

  it('hands each poll woken by one batch its own job, so none loses a race', async () => {
    const queue = await emptyQueue();
    const polls = await waitingPolls(queue, 3);

    await fresh.store.enqueueMany(
      ['a', 'b', 'c'].map((id) => pullJob(id, { queue })),
      'unique',
    );
    const got = await Promise.all(polls);

    expect(got.flatMap((claimed) => claimed.jobs.map((job) => job.id)).sort()).toEqual(['a', 'b', 'c']);
    expect(calls.filter((c) => c.refused)).toEqual([]);
  });

  it('reads the queue and claims what waits there when another claimer took its job first', async () => {
    const queue = await emptyQueue();
    // Taken: enqueued and claimed before the poll starts, its waiting item read to make a stale hint.
    await fresh.store.enqueue(pullJob('taken', { queue, timeout: 3_600 }));
    const waiting = await fresh.db.send(
      new GetCommand({ TableName: fresh.config.tableName, Key: jobKey(queue, 'taken') }),
    );
    const [run] = await fresh.store.claim(queue, 1);
    // Later: not due when the poll reads, due once the clock moves.
    await fresh.store.enqueue(pullJob('later', { queue, run_at: clock.now + 60_000 }));
    const [poll] = await waitingPolls(queue, 1);
    clock.advance(120_000);

    announce(fresh.config.tableName, queue, 1, arrivedOf([waiting.Item as JobItem]));
    const got = await poll;

    expect(got?.jobs.map((job) => job.id)).toEqual(['later']);
    expect((await fresh.store.get(queue, 'taken'))?.run_id).toBe(run?.run_id);
  });

  it('passes over a job that became due while it waited, on a priority queue; a strict queue reads it first', async () => {
    const claimedFirst: Record<string, string | undefined> = {};
    for (const queue of [newQueue(), 'strict']) {
      await emptyQueue(queue);
      await fresh.store.enqueue(pullJob('became-due', { queue, priority: 5, run_at: clock.now + 60_000 }));
      const [poll] = await waitingPolls(queue, 1);
      clock.advance(120_000);

      await fresh.store.enqueue(pullJob('arrived', { queue }));
      claimedFirst[queue === 'strict' ? 'strict' : 'priority'] = (await poll)?.jobs[0]?.id;
    }

    expect(claimedFirst).toEqual({ priority: 'arrived', strict: 'became-due' });
  });
});

describe('jobs handed to a claim that was still reading the queue', () => {
  const table = 'no-table';
  const job = (id: string): ArrivedJob => ({
    id,
    key: jobKey('q', id),
    readyPk: '0#q',
    readySk: `0000000000#000000000000000#${id}`,
    timeoutMs: 30_000,
  });

  it('go to a claim still waiting when that claim answers with jobs of its own read', async () => {
    const queue = newQueue();
    const reading = nextArrival(table, queue, 1); // registered, its read in flight
    announce(table, queue, 1, [job('handed')]);
    const waiting = nextArrival(table, queue, 1).until(2_000);

    reading.cancel(['found-by-its-read']);

    expect((await waiting).map((j) => j.key)).toEqual([jobKey('q', 'handed')]);
  });

  it('go nowhere when that claim took them itself', async () => {
    const queue = newQueue();
    const reading = nextArrival(table, queue, 1);
    announce(table, queue, 1, [job('handed')]);
    const waiting = nextArrival(table, queue, 1).until(300);

    reading.cancel(['handed']);

    expect(await waiting).toEqual([]);
  });
});
