import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { addClientHook } from '../functions/core/clients.ts';
import {
  DuplicateIdempotencyKeyError,
  InvalidTransitionError,
  JobExistsError,
  JobNotFoundError,
  LeaseLostError,
  StoreBusyError,
} from '../functions/jobs/errors.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let clock: TestClock;
let store: JobStore;
let another: (clock?: () => number) => JobStore;
let fresh: TestStore;

beforeEach(async () => {
  clock = new TestClock();
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
  another = fresh.another;
});

afterEach(async () => {
  await fresh.dispose();
});

describe('enqueue', () => {
  it('stores the job as pending with its retry budget', async () => {
    await store.enqueue(job('a', { max_retries: 2, state: { step: 1 } }));
    const found = await store.get('q', 'a');
    expect(found).toMatchObject({
      status: 'pending',
      payload: { n: 'a' },
      state: { step: 1 },
      max_retries: 2,
      retries_remaining: 2,
      attempts: 0,
      run_at: clock.now,
    });
  });

  it('rejects a second live job with the same id', async () => {
    await store.enqueue(job('a'));
    await expect(store.enqueue(job('a'))).rejects.toBeInstanceOf(JobExistsError);
  });

  it('lets exactly one of 20 concurrent enqueues of one id succeed', async () => {
    const stores = Array.from({ length: 20 }, () => another());
    const results = await Promise.allSettled(stores.map((s) => s.enqueue(job('same'))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof JobExistsError);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
  });

  it('frees the id of a completed job for a new enqueue', async () => {
    await store.enqueue(job('a'));
    await store.claim('q', 1);
    await store.complete('q', 'a');
    await store.enqueue(job('a', { payload: 'second' }));
    expect(await store.get('q', 'a')).toMatchObject({ status: 'pending', payload: 'second' });
  });

  it('in ignore mode keeps the existing job', async () => {
    await store.enqueue(job('a', { payload: 'first' }));
    const result = await store.enqueue(job('a', { payload: 'second' }), 'ignore');
    expect(result.created).toBe(false);
    expect((await store.get('q', 'a'))?.payload).toBe('first');
  });

  it('in replace mode overwrites a running job, fences its run and keeps created_at', async () => {
    await store.enqueue(job('a', { payload: 'first' }));
    const created = (await store.get('q', 'a'))?.created_at;
    clock.advance(1000);
    const [run] = await store.claim('q', 1);
    await store.enqueue(job('a', { payload: 'second' }), 'replace');
    const replaced = await store.get('q', 'a');
    expect(replaced).toMatchObject({
      status: 'pending',
      payload: 'second',
      run_id: null,
      created_at: created,
    });
    await expect(store.complete('q', 'a', run?.run_id ?? '')).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('rejects a unique batch whole when one id exists, writing none of it', async () => {
    await store.enqueue(job('b'));
    await expect(store.enqueueMany([job('a'), job('b'), job('c')], 'unique')).rejects.toBeInstanceOf(
      JobExistsError,
    );
    expect(await store.get('q', 'a')).toBeUndefined();
    expect(await store.get('q', 'c')).toBeUndefined();
  });

  it.each([
    [150, 'in its second transaction'],
    [101, 'its last job, alone in its write'],
  ])('rejects a unique batch of %i whose conflict is %s, leaving nothing behind', async (size) => {
    await store.enqueue(job(`j${size - 1}`));
    const batch = Array.from({ length: size }, (_, i) => job(`j${i}`));
    await expect(store.enqueueMany(batch, 'unique')).rejects.toBeInstanceOf(JobExistsError);
    expect(await store.get('q', 'j0')).toBeUndefined();
    expect(await store.get('q', 'j99')).toBeUndefined();
  });

  it('writes a unique batch larger than one 4 MB transaction', async () => {
    const big = 'x'.repeat(200 * 1024);
    const batch = Array.from({ length: 30 }, (_, i) => job(`big${i}`, { payload: big }));
    await store.enqueueMany(batch, 'unique');
    expect((await store.get('q', 'big29'))?.payload).toBe(big);
  });

  it('writes a unique batch of one job as one conditional put, not a transaction billed twice', async () => {
    const operations: string[] = [];
    onTestFinished(
      addClientHook(async (call, next) => {
        operations.push(call.operation);
        return next();
      }),
    );
    await store.enqueueMany([job('a')], 'unique');
    expect(operations).toContain('PutItem');
    expect(operations).not.toContain('TransactWriteItems');
    expect(await store.get('q', 'a')).toMatchObject({ status: 'pending', payload: { n: 'a' } });
  });

  it('rejects a unique batch of one whose id is live, leaving the live job as it was', async () => {
    await store.enqueue(job('a', { payload: 'first' }));
    await expect(store.enqueueMany([job('a', { payload: 'second' })], 'unique')).rejects.toBeInstanceOf(
      JobExistsError,
    );
    expect((await store.get('q', 'a'))?.payload).toBe('first');
  });

  it('rejects a unique batch that names one id twice', async () => {
    await expect(store.enqueueMany([job('a'), job('a')], 'unique')).rejects.toBeInstanceOf(JobExistsError);
    expect(await store.get('q', 'a')).toBeUndefined();
  });

  it('rejects a reused idempotency key with the first job id, within the key lifetime', async () => {
    await store.enqueue(job('a', { idempotency_key: 'k' }));
    const second = store.enqueue(job('b', { idempotency_key: 'k' }));
    await expect(second).rejects.toBeInstanceOf(DuplicateIdempotencyKeyError);
    await expect(second).rejects.toMatchObject({ existingJobId: 'a' });
    expect(await store.get('q', 'b')).toBeUndefined();
  });

  it('accepts a reused idempotency key once the key lifetime is over', async () => {
    await store.enqueue(job('a', { idempotency_key: 'k' }));
    clock.advance(86_400_000 + 1000);
    await store.enqueue(job('b', { idempotency_key: 'k' }));
    expect(await store.get('q', 'b')).toBeDefined();
  });
});

describe('claim', () => {
  it('hands each of 200 jobs to exactly one of 20 concurrent claimers', async () => {
    await store.enqueueMany(
      Array.from({ length: 200 }, (_, i) => job(`j${i}`)),
      'ignore',
    );
    const claimers = Array.from({ length: 20 }, () => another());
    const seen: string[] = [];
    await Promise.all(
      claimers.map(async (claimer) => {
        for (;;) {
          const jobs = await claimer.claim('q', 3);
          if (!jobs.length) return;
          seen.push(...jobs.map((j) => j.id));
        }
      }),
    );
    expect(seen).toHaveLength(200);
    expect(new Set(seen).size).toBe(200);
  });

  it('returns the highest priority first, then the earliest run_at, then enqueue order', async () => {
    await store.enqueue(job('low-early', { priority: 0, run_at: clock.now - 5000 }));
    await store.enqueue(job('high-late', { priority: 5, run_at: clock.now - 1000 }));
    await store.enqueue(job('high-early', { priority: 5, run_at: clock.now - 2000 }));
    await store.enqueue(job('fifo-1'));
    await store.enqueue(job('fifo-2'));
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push(...(await store.claim('q', 1)).map((j) => j.id));
    expect(order).toEqual(['high-early', 'high-late', 'low-early', 'fifo-1', 'fifo-2']);
  });

  it('keeps jobs with a future run_at invisible until due', async () => {
    await store.enqueue(job('later', { priority: 9, run_at: clock.now + 60_000 }));
    await store.enqueue(job('now', { timeout: 600 }));
    expect((await store.claim('q', 5)).map((j) => j.id)).toEqual(['now']);
    clock.advance(60_000);
    expect((await store.claim('q', 5)).map((j) => j.id)).toEqual(['later']);
  });

  it('starts a run: running status, new run id, one more attempt, lease from now', async () => {
    await store.enqueue(job('a'));
    const [claimed] = await store.claim('q', 1);
    expect(claimed).toMatchObject({ status: 'running', attempts: 1, lease_expires_at: clock.now + 30_000 });
    expect(claimed?.run_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('returns nothing for an unknown queue', async () => {
    expect(await store.claim('nope', 10)).toEqual([]);
  });
});

describe('run fencing', () => {
  it('lets only the current run heartbeat, complete or fail', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    const [first] = await store.claim('q', 1);
    clock.advance(2000);
    const [second] = await store.claim('q', 1); // lazy expiry re-claims it
    expect(second?.run_id).not.toBe(first?.run_id);
    const stale = first?.run_id ?? '';
    await expect(store.heartbeat('q', 'a', { x: 1 }, stale)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.complete('q', 'a', stale)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.fail('q', 'a', { error: 'boom', runId: stale })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await store.complete('q', 'a', second?.run_id ?? '');
    expect((await store.get('q', 'a'))?.status).toBe('completed');
  });

  it('extends the lease by the timeout on heartbeat and replaces the state', async () => {
    await store.enqueue(job('a', { state: 'old' }));
    const [run] = await store.claim('q', 1);
    clock.advance(10_000);
    const beat = await store.heartbeat('q', 'a', { progress: 50 }, run?.run_id ?? undefined);
    expect(beat.lease_expires_at).toBe(clock.now + 30_000);
    expect(beat.state).toEqual({ progress: 50 });
    const cleared = await store.heartbeat('q', 'a', undefined);
    expect(cleared.state).toBeNull();
  });

  it('refuses a heartbeat for a job that is not running', async () => {
    await store.enqueue(job('a'));
    await expect(store.heartbeat('q', 'a', null)).rejects.toBeInstanceOf(JobNotFoundError);
  });
});

describe('retries and expiry', () => {
  it('runs a job with max_retries=2 three times, then makes it dead', async () => {
    await store.enqueue(
      job('a', {
        max_retries: 2,
        backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
      }),
    );
    let runs = 0;
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      const [run] = await store.claim('q', 1);
      if (!run) continue;
      runs++;
      await store.fail('q', 'a', { error: `boom ${runs}`, runId: run.run_id ?? '' });
    }
    expect(runs).toBe(3);
    expect(await store.get('q', 'a')).toMatchObject({
      status: 'dead',
      dead_reason: 'retries_exhausted',
      last_error: 'boom 3',
      attempts: 3,
    });
  });

  it('marks a failed run failed and schedules the retry after its backoff', async () => {
    await store.enqueue(
      job('a', { backoff: { strategy: 'fixed', base_seconds: 10, max_seconds: 10, jitter: 'none' } }),
    );
    const [run] = await store.claim('q', 1);
    const failed = await store.fail('q', 'a', { error: 'boom', runId: run?.run_id ?? '' });
    expect(failed).toMatchObject({ status: 'failed', run_at: clock.now + 10_000, retries_remaining: 2 });
    expect(await store.claim('q', 1)).toEqual([]);
    clock.advance(10_000);
    expect((await store.claim('q', 1)).map((j) => j.id)).toEqual(['a']);
  });

  it('makes a job dead at once when the failure says not to retry', async () => {
    await store.enqueue(job('a'));
    const [run] = await store.claim('q', 1);
    const dead = await store.fail('q', 'a', { error: 'bad input', runId: run?.run_id ?? '', retry: false });
    expect(dead).toMatchObject({
      status: 'dead',
      dead_reason: 'failed_permanently',
      last_error: 'bad input',
    });
  });

  it('puts an expired run back at the head of its band with one retry spent', async () => {
    await store.enqueue(job('a', { timeout: 1, run_at: clock.now - 10_000 }));
    await store.enqueue(job('b'));
    await store.claim('q', 1); // takes a (earlier run_at)
    clock.advance(1500);
    const swept = await store.sweep();
    expect(swept).toEqual({ requeued: 1, dead: 0, refreshed: 0, orphanedTasks: [] });
    expect(await store.get('q', 'a')).toMatchObject({
      status: 'pending',
      retries_remaining: 2,
      run_id: null,
    });
    expect((await store.claim('q', 1)).map((j) => j.id)).toEqual(['a']);
  });

  it('never counts one expiry twice when sweeps and lazy claims race', async () => {
    await store.enqueue(job('a', { timeout: 1, max_retries: 5 }));
    await store.claim('q', 1);
    clock.advance(1500);
    const racers = [
      ...Array.from({ length: 5 }, () => another().sweep()),
      ...Array.from({ length: 5 }, () => another().claim('q', 1)),
    ];
    await Promise.all(racers);
    const after = await store.get('q', 'a');
    expect(after?.retries_remaining).toBe(4);
    expect(after?.attempts).toBeLessThanOrEqual(2);
  });

  it('makes an expired run with no retry left dead, on sweep or on claim', async () => {
    await store.enqueue(job('a', { timeout: 1, max_retries: 0 }));
    await store.enqueue(job('b', { timeout: 1, max_retries: 0 }));
    await store.claim('q', 2);
    clock.advance(1500);
    expect(await store.claim('q', 5)).toEqual([]);
    await store.sweep();
    const dead = { status: 'dead', dead_reason: 'lease_expired', last_error: 'lease expired' };
    expect(await store.get('q', 'a')).toMatchObject(dead);
    expect(await store.get('q', 'b')).toMatchObject(dead);
  });

  it('retries forever when max_retries is unlimited', async () => {
    await store.enqueue(job('a', { timeout: 1, max_retries: null }));
    for (let i = 0; i < 5; i++) {
      expect(await store.claim('q', 1)).toHaveLength(1);
      clock.advance(1500);
      await store.sweep();
    }
    expect(await store.get('q', 'a')).toMatchObject({
      status: 'pending',
      retries_remaining: null,
      attempts: 5,
    });
  });

  it('does not expire a run that heartbeated; the sweep moves its lease entry forward', async () => {
    await store.enqueue(job('a', { timeout: 2 }));
    const [run] = await store.claim('q', 1);
    clock.advance(1500);
    await store.heartbeat('q', 'a', null, run?.run_id ?? undefined);
    clock.advance(1500); // past the first deadline, inside the extended one
    expect(await store.sweep()).toEqual({ requeued: 0, dead: 0, refreshed: 1, orphanedTasks: [] });
    expect(await store.claim('q', 1)).toEqual([]);
    expect((await store.get('q', 'a'))?.run_id).toBe(run?.run_id);
  });
});

describe('reschedule', () => {
  it('replaces a running job with new content, takes it out of flight and keeps created_at', async () => {
    await store.enqueue(job('a', { payload: 'first', state: 'old' }));
    const created = (await store.get('q', 'a'))?.created_at;
    clock.advance(5000);
    const [run] = await store.claim('q', 1);
    await store.fail('q', 'a', { error: 'x', runId: run?.run_id ?? '' }); // spends a retry
    clock.advance(5000);
    const [again] = await store.claim('q', 1);
    const rescheduled = await store.reschedule(
      job('a', { payload: 'second', max_retries: 5 }),
      again?.run_id ?? undefined,
    );
    expect(rescheduled).toMatchObject({
      status: 'pending',
      payload: 'second',
      state: null,
      run_id: null,
      retries_remaining: 5,
      created_at: created,
      updated_at: clock.now,
    });
  });

  it('refuses a job that is not in flight', async () => {
    await store.enqueue(job('a'));
    await expect(store.reschedule(job('a', { payload: 'x' }))).rejects.toBeInstanceOf(JobNotFoundError);
  });
});

describe('replaceRun', () => {
  it('refuses more jobs than one transaction holds beside the end of the run', async () => {
    await store.enqueue(job('a'));
    const [run] = await store.claim('q', 1);
    const jobs = Array.from({ length: 100 }, (_, i) => job(`next-${i}`));
    await expect(store.replaceRun('q', 'a', run?.run_id ?? '', jobs, 'unique')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'jobs',
    });
    expect(await store.get('q', 'a')).toMatchObject({ status: 'running', run_id: run?.run_id });
  });
});

describe('operator transitions', () => {
  it('cancels a running job so its run can no longer complete', async () => {
    await store.enqueue(job('a'));
    const [run] = await store.claim('q', 1);
    await store.cancel('q', 'a');
    await expect(store.complete('q', 'a', run?.run_id ?? '')).rejects.toBeInstanceOf(JobNotFoundError);
    expect((await store.get('q', 'a'))?.status).toBe('cancelled');
  });

  it('refuses to cancel a completed job', async () => {
    await store.enqueue(job('a'));
    await store.claim('q', 1);
    await store.complete('q', 'a');
    await expect(store.cancel('q', 'a')).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('retries a dead job with a fresh budget and refuses a completed one', async () => {
    await store.enqueue(job('a', { max_retries: 0 }));
    const [run] = await store.claim('q', 1);
    await store.fail('q', 'a', { error: 'x', runId: run?.run_id ?? '' });
    expect(await store.retry('q', 'a')).toMatchObject({
      status: 'pending',
      retries_remaining: 0,
      dead_reason: null,
    });
    const [again] = await store.claim('q', 1);
    await store.complete('q', 'a', again?.run_id ?? '');
    await expect(store.retry('q', 'a')).rejects.toThrow('cannot retry job with status: completed');
  });

  it('lists dead jobs and requeues them all', async () => {
    for (const id of ['a', 'b', 'c']) await store.enqueue(job(id, { max_retries: 0 }));
    for (const run of await store.claim('q', 3)) {
      clock.advance(1);
      await store.fail('q', run.id, { error: 'x', runId: run.run_id ?? '' });
    }
    const dlq = await store.deadLetters('q', 10);
    expect(dlq.items.map((j) => j.id).sort()).toEqual(['a', 'b', 'c']);
    expect(await store.requeueAllDead('q')).toEqual({ requeued: 3, skipped: 0 });
    expect((await store.deadLetters('q', 10)).items).toEqual([]);
    expect(await store.claim('q', 5)).toHaveLength(3);
  });
});

describe('batch reads DynamoDB leaves unprocessed', () => {
  /**
   * Makes DynamoDB answer the first `times` BatchGetItem calls as if it had processed none of
   * their keys: what it does, partly or wholly, when a partition is short of capacity.
   */
  function leaveKeysUnprocessed(times: number): void {
    let left = times;
    const remove = addClientHook(async (call, next) => {
      const output = (await next()) as { Responses?: Record<string, unknown[]>; UnprocessedKeys?: unknown };
      if (call.operation !== 'BatchGetItem' || left <= 0) return output;
      left--;
      output.UnprocessedKeys = call.input.RequestItems;
      output.Responses = {};
      return output;
    });
    onTestFinished(remove);
  }

  it('reads the keys again until DynamoDB has processed them', async () => {
    await store.enqueue(job('a'));
    leaveKeysUnprocessed(2);
    expect((await store.list({ queue: 'q', limit: 10 })).items.map((j) => j.id)).toEqual(['a']);
  });

  it('fails with StoreBusyError rather than answer with part of a page', async () => {
    await store.enqueue(job('a'));
    leaveKeysUnprocessed(Number.POSITIVE_INFINITY);
    await expect(store.list({ queue: 'q', limit: 10 })).rejects.toBeInstanceOf(StoreBusyError);
  });
});

describe('list and stats', () => {
  it('lists newest first across shards, page by page', async () => {
    for (let i = 0; i < 7; i++) {
      clock.advance(1);
      await store.enqueue(job(`j${i}`));
    }
    const first = await store.list({ queue: 'q', limit: 3 });
    expect(first.items.map((j) => j.id)).toEqual(['j6', 'j5', 'j4']);
    const second = await store.list({ queue: 'q', limit: 3, cursor: first.cursor ?? undefined });
    expect(second.items.map((j) => j.id)).toEqual(['j3', 'j2', 'j1']);
    const third = await store.list({ queue: 'q', limit: 3, cursor: second.cursor ?? undefined });
    expect(third.items.map((j) => j.id)).toEqual(['j0']);
    expect(third.cursor).toBeNull();
  });

  it('filters a listing by status', async () => {
    await store.enqueue(job('a'));
    await store.enqueue(job('b'));
    await store.enqueue(job('later', { run_at: clock.now + 60_000 }));
    await store.claim('q', 1);
    const running = await store.list({ queue: 'q', status: 'running', limit: 10 });
    expect(running.items.map((j) => j.id)).toEqual(['a']);
    const scheduled = await store.list({ queue: 'q', status: 'scheduled', limit: 10 });
    expect(scheduled.items.map((j) => j.id)).toEqual(['later']);
  });

  it('counts jobs per status, summing every shard', async () => {
    // 12 of each kind spreads every status over all four shards.
    const ids = (kind: string) => Array.from({ length: 12 }, (_, i) => `${kind}-${i}`);
    for (const id of ids('fail')) await store.enqueue(job(id, { run_at: clock.now - 3000 }));
    for (const id of ids('dead')) await store.enqueue(job(id, { run_at: clock.now - 2000, max_retries: 0 }));
    for (const id of ids('run')) await store.enqueue(job(id, { run_at: clock.now - 1000 }));
    for (const id of ids('later')) await store.enqueue(job(id, { run_at: clock.now + 60_000 }));
    for (const id of ids('wait')) await store.enqueue(job(id));
    const runs = await store.claim('q', 36); // fail-*, dead-*, run-* (earliest run_at first)
    expect(runs).toHaveLength(36);
    for (const run of runs.filter((r) => !r.id.startsWith('run'))) {
      await store.fail('q', run.id, { error: 'x', runId: run.run_id ?? '' });
    }
    expect(await store.stats('q')).toEqual({ pending: 12, scheduled: 12, running: 12, failed: 12, dead: 12 });
  });
});
