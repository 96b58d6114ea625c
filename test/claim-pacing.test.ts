/**
 * What a claim spares: it does not query expired leases on every call, yet still takes expired
 * runs; and a claimer that has been losing races spreads its first attempt, then returns to
 * exact order once it stops losing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClaimMemory, LEASE_LOOK_MS, SHORT_LEASE_LOOK_MS } from '../functions/jobs/claim-memory.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let clock: TestClock;
let store: JobStore;
let fresh: TestStore;

beforeEach(async () => {
  clock = new TestClock();
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
});

afterEach(async () => {
  await fresh.dispose();
});

const ids = async (n = 1) => (await store.claim('q', n)).map((j) => j.id);

describe('expired leases', () => {
  it('are taken by the first claim of another process', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    const [first] = await store.claim('q', 1);
    clock.advance(1_500);
    const [again] = await fresh.another().claim('q', 1);
    expect(again).toMatchObject({ id: 'a', attempts: 2 });
    expect(again?.run_id).not.toBe(first?.run_id);
  });

  it('are taken by an idle claimer once the lease has passed', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    await store.claim('q', 1);
    clock.advance(SHORT_LEASE_LOOK_MS + 500);
    expect(await ids()).toEqual(['a']);
  });

  it('are taken by a claimer busy with a backlog within LEASE_LOOK_MS, at the head of their band', async () => {
    await store.enqueue(job('a', { timeout: 1, priority: 5 }));
    await store.enqueueMany(
      Array.from({ length: 10 }, (_, i) => job(`b${i}`)),
      'unique',
    );
    expect(await ids()).toEqual(['a']);
    clock.advance(2_000);
    // The lease has passed, but waiting jobs fill the claim: leases are not queried this time.
    expect(await ids()).toEqual(['b0']);
    clock.advance(LEASE_LOOK_MS);
    expect(await ids()).toEqual(['a']);
    expect(await store.get('q', 'a')).toMatchObject({ status: 'running', attempts: 2, retries_remaining: 2 });
  });
});

describe('spread first attempts', () => {
  it('a claimer that lost a race spreads its next first attempt, and takes the head again once calm', () => {
    const memory = new ClaimMemory();
    expect(memory.spread('q')).toBe(1);
    memory.raced('q', true);
    expect(memory.spread('q')).toBeGreaterThan(1);
    for (let i = 0; i < 10; i++) memory.raced('q', true);
    let calls = 0;
    while (memory.spread('q') > 1) {
      memory.raced('q', false);
      calls++;
    }
    expect(calls).toBeLessThanOrEqual(40);
    expect(memory.spread('other')).toBe(1);
  });

  it('hands every job out once under contention, and sequential claims are in exact order again after', async () => {
    await store.enqueueMany(
      Array.from({ length: 80 }, (_, i) => job(`j${String(i).padStart(2, '0')}`)),
      'unique',
    );
    const racing = await Promise.all(Array.from({ length: 16 }, () => store.claim('q', 1)));
    const taken = new Set(racing.flat().map((j) => j.id));
    expect(taken.size).toBe(racing.flat().length);
    const order: string[][] = [];
    for (let i = 0; i < 45; i++) {
      const waiting = Array.from({ length: 80 }, (_, n) => `j${String(n).padStart(2, '0')}`).filter(
        (id) => !taken.has(id),
      );
      const [got] = await ids();
      expect(taken.has(got ?? '')).toBe(false);
      taken.add(got ?? '');
      order.push([got ?? '', waiting[0] ?? '']);
    }
    // However spread the first calls were, the last ones take the earliest waiting job.
    for (const [got, earliest] of order.slice(40)) expect(got).toBe(earliest);
  });
});
