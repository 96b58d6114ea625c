/**
 * Priority aging over DynamoDB Local: with `aging_seconds_per_level = A`, a job of priority p
 * sorts by `run_at − p × A`, so a flood of higher-priority jobs holds a lower one back for at most
 * `Δp × A` (plus the wait of the backlog it found), and without aging the bands stay strict.
 */
import { describe, expect, it } from 'vitest';
import { orderKey, runAtOf } from '../functions/jobs/keys.ts';
import { LIMITS } from '../functions/jobs/model.ts';
import { MAX_AGING_SECONDS } from '../functions/jobs/queues.ts';
import { pullJob } from './support/jobs.ts';
import { storePerTest } from './support/store.ts';

const t = storePerTest({ wholeSeconds: true });

const LOW = -1;
const HIGH = 1;
const STEP_MS = 100;

/**
 * Enqueues a low-priority job, then every `STEP_MS` one high-priority job and one claim, so
 * claimers keep pace with a flood that never ends. Returns when the low job was claimed, in ms
 * after it was enqueued, or `undefined` if it still waited after `steps`.
 */
async function floodUntilLowIsClaimed(steps: number): Promise<number | undefined> {
  const start = t.clock.now;
  await t.store.enqueue(pullJob('low', { priority: LOW }));
  for (let step = 1; step <= steps; step++) {
    t.clock.advance(STEP_MS);
    await t.store.enqueue(pullJob(`high-${step}`, { priority: HIGH }));
    const [claimed] = await t.store.claim('q', 1);
    if (claimed?.id === 'low') return t.clock.now - start;
  }
  return undefined;
}

describe('priority aging', () => {
  it('claims a low job within Δpriority × aging of its enqueue while high jobs keep coming', async () => {
    await t.store.setQueueAging('q', 1);
    const waited = await floodUntilLowIsClaimed(60);
    // Bound: (HIGH − LOW) levels × 1 s = 2 s, to within one step of the flood. Before it, the
    // high jobs still go first: aging is a head start for priority, not its removal.
    expect(waited).toBeGreaterThanOrEqual(2_000);
    expect(waited).toBeLessThanOrEqual(2_000 + STEP_MS);
  });

  it('keeps strict priority bands without aging: the flood holds the low job back', async () => {
    expect(await floodUntilLowIsClaimed(60)).toBeUndefined();
  });

  it('passes over a higher job that is not yet due, though its head start sorts it first', async () => {
    await t.store.setQueueAging('q', 1);
    await t.store.enqueue(pullJob('later', { priority: HIGH, run_at: t.clock.now + 500 }));
    await t.store.enqueue(pullJob('now', { priority: LOW }));
    expect((await t.store.claim('q', 2)).map((job) => job.id)).toEqual(['now']);
    t.clock.advance(500);
    expect((await t.store.claim('q', 1)).map((job) => job.id)).toEqual(['later']);
  });

  it('keeps the aging of its enqueue when a failed run waits for its retry', async () => {
    await t.store.setQueueAging('q', 1);
    await t.store.enqueue(pullJob('a', { priority: HIGH }));
    const [run] = await t.store.claim('q', 1);
    await t.store.fail('q', 'a', { error: 'boom', runId: run?.run_id ?? undefined });
    await t.store.setQueueAging('q', null);
    // Strictly ordered jobs sort before aged ones: `b` (enqueued after aging was turned off) first.
    await t.store.enqueue(pullJob('b', { priority: LOW }));
    t.clock.advance(3_600_000);
    expect((await t.store.claim('q', 2)).map((job) => job.id)).toEqual(['b', 'a']);
  });

  it('keeps aged keys fixed-width and in effective-time order across every i32 priority and the widest rate', () => {
    const widest = MAX_AGING_SECONDS * 1000;
    const keys = [
      orderKey(LIMITS.maxPriority, 0, 'x', widest),
      orderKey(1, 10 ** 15 - 1, 'x', widest),
      orderKey(0, 10 ** 15 - 1, 'x', widest),
      orderKey(LIMITS.minPriority, 0, 'x', widest),
      orderKey(LIMITS.minPriority, 10 ** 15 - 1, 'x', widest),
    ];

    expect(new Set(keys.map((key) => key.length)).size).toBe(1);
    expect([...keys].sort()).toEqual(keys);
    expect(keys.map(runAtOf)).toEqual([0, 10 ** 15 - 1, 10 ** 15 - 1, 0, 10 ** 15 - 1]);
  });

  it('shows the setting on the queue', async () => {
    expect(await t.store.setQueueAging('q', 2.5)).toMatchObject({ queue: 'q', aging_seconds_per_level: 2.5 });
    expect((await t.store.setQueueAging('q', null)).aging_seconds_per_level).toBeUndefined();
  });
});
