/**
 * The backlog gauges of the maintenance pass over DynamoDB Local: per queue, the jobs due and
 * waiting, how long the oldest of them has waited, the runs in flight and the dead jobs, so a
 * queue nobody serves shows as a rising backlog rather than as no data.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emfMetrics } from '../functions/core/metrics.ts';
import { maintain } from '../functions/dispatch/maintenance.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let clock: TestClock;
let fresh: TestStore;
let store: JobStore;
let lines: string[];

beforeEach(async () => {
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  fresh = await freshStore({ clock: clock.read, shards: 2 });
  store = fresh.store;
  lines = [];
});

afterEach(async () => {
  await fresh.dispose();
});

/** One maintenance pass; returns its result and the gauges it recorded, by queue. */
async function pass() {
  lines.length = 0;
  const metrics = emfMetrics((line) => lines.push(line), clock.read, { relay: 'Test/Relay' });
  const result = await maintain({ store, metrics, now: clock.read });
  const gauges: Record<string, Record<string, number>> = {};
  for (const line of lines) {
    const { queue, PendingJobs, OldestPendingAge, RunningJobs, DeadJobs } = JSON.parse(line);
    if (PendingJobs !== undefined) gauges[queue] = { PendingJobs, OldestPendingAge, RunningJobs, DeadJobs };
  }
  return { result, gauges };
}

describe('the maintenance pass backlog gauges', () => {
  it('report per queue the jobs due and waiting, the oldest one’s wait, the runs in flight and the dead jobs', async () => {
    await store.enqueue(job('a'));
    await store.enqueue(job('b'));
    await store.enqueue(job('later', { run_at: clock.now + 3_600_000 }));
    await store.enqueue(job('doomed', { queue: 'other', max_retries: 0 }));
    clock.advance(90_000);
    await store.claim('q', 1);
    const [doomed] = await store.claim('other', 1);
    await store.fail('other', doomed?.id ?? '', { error: 'boom' });

    const { gauges } = await pass();

    expect(gauges).toEqual({
      q: { PendingJobs: 1, OldestPendingAge: 90_000, RunningJobs: 1, DeadJobs: 0 },
      other: { PendingJobs: 0, OldestPendingAge: 0, RunningJobs: 0, DeadJobs: 1 },
    });
  });

  it('rise pass after pass while nobody claims: all workers gone is a growing age, not silence', async () => {
    await store.enqueue(job('a'));
    clock.advance(60_000);
    const first = await pass();
    clock.advance(60_000);
    const second = await pass();

    expect(first.gauges.q).toMatchObject({ PendingJobs: 1, OldestPendingAge: 60_000 });
    expect(second.gauges.q).toMatchObject({ PendingJobs: 1, OldestPendingAge: 120_000 });
    expect(second.result).toMatchObject({ pendingJobs: 1, oldestPendingMs: 120_000, deadJobs: 0 });
  });

  it('report a paused queue’s age as 0: it holds its jobs on purpose, and its jobs still count', async () => {
    await store.enqueue(job('a'));
    await store.pauseQueue('q');
    clock.advance(3_600_000);

    const { gauges, result } = await pass();

    expect(gauges.q).toMatchObject({ PendingJobs: 1, OldestPendingAge: 0 });
    expect(result.oldestPendingMs).toBe(0);
  });

  it('are scoped to their Relay: each line carries the relay dimension', async () => {
    await store.enqueue(job('a'));

    await pass();

    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({ relay: 'Test/Relay', queue: 'q' });
    expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay', 'queue'], ['relay']]);
  });
  it('are skipped when the metrics go nowhere (the local stack, every second): only dead jobs are counted', async () => {
    await store.enqueue(job('doomed', { max_retries: 0 }));
    await store.enqueue(job('a'));
    const [doomed] = await store.claim('q', 1);
    await store.fail('q', doomed?.id ?? '', { error: 'boom' });

    const result = await maintain({ store, now: clock.read });

    expect(result).toMatchObject({ deadJobs: 1 });
    expect(result).not.toHaveProperty('pendingJobs');
  });
});

describe('JobStore backlog', () => {
  it('reads at most the limit of entries per partition, in claim order, and says the count is a floor', async () => {
    const strict = await freshStore({ clock: clock.read, shards: 1 });
    try {
      for (const [id, priority] of [
        ['low', 0],
        ['high', 5],
        ['mid', 1],
      ] as const) {
        await strict.store.enqueue(job(id, { priority }));
        clock.advance(10_000);
      }

      const head = await strict.store.backlog('q', 2);
      const all = await strict.store.backlog('q');

      // The two read are those claimed next (high, mid): their oldest waited 20 s, not low's 30 s.
      expect(head).toMatchObject({ pending: 2, oldestPendingMs: 20_000, complete: false });
      expect(all).toMatchObject({ pending: 3, oldestPendingMs: 30_000, complete: true });
    } finally {
      await strict.dispose();
    }
  });
});
