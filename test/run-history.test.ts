import { describe, expect, it } from 'vitest';
import { JobNotFoundError } from '../functions/jobs/errors.ts';
import { MAX_RUN_RECORDS } from '../functions/jobs/history.ts';
import { pullJob as job, shellJob } from './support/jobs.ts';
import { storePerTest } from './support/store.ts';

const t = storePerTest();

/** Retries due at once. */
const NO_BACKOFF = { strategy: 'fixed', base_seconds: 0, max_seconds: 0, jitter: 'none' } as const;

/** Claims the one waiting job of `q`, as `worker` when given. */
async function claimOne(worker?: string) {
  const [run] = await t.store.claim('q', 1, worker);
  if (!run?.run_id) throw new Error('nothing to claim');
  return { ...run, run_id: run.run_id };
}

/** Starts a managed job's run, as the dispatcher would. */
async function start(id: string) {
  const run = await t.store.claimById('q', id);
  if (!run?.run_id) throw new Error('not claimable');
  return { ...run, run_id: run.run_id };
}

describe('run history', () => {
  it('keeps every run of a retried job in order: failed, failed, completed', async () => {
    await t.store.enqueue(
      job('a', { backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' } }),
    );
    const runIds: string[] = [];
    for (const error of ['first', 'second']) {
      const run = await claimOne();
      runIds.push(run.run_id);
      t.clock.advance(100);
      await t.store.fail('q', 'a', { error, runId: run.run_id });
      t.clock.advance(2_000);
    }
    const last = await claimOne();
    runIds.push(last.run_id);
    t.clock.advance(100);
    await t.store.complete('q', 'a', last.run_id);

    const runs = await t.store.runs('q', 'a');
    expect(runs.map((r) => [r.run_id, r.attempt, r.outcome, r.error])).toEqual([
      [runIds[0], 1, 'failed', 'first'],
      [runIds[1], 2, 'failed', 'second'],
      [runIds[2], 3, 'completed', null],
    ]);
    for (const r of runs) expect((r.ended_at ?? 0) - (r.claimed_at ?? 0)).toBe(100);
  });

  it('records a run the sweep expired, ended at its lease deadline', async () => {
    await t.store.enqueue(job('a', { timeout: 1 }));
    const run = await claimOne();
    t.clock.advance(5_000);
    await t.store.sweep();
    const [record] = await t.store.runs('q', 'a');
    expect(record).toMatchObject({
      run_id: run.run_id,
      outcome: 'lease_expired',
      error: 'lease expired',
      ended_at: run.lease_expires_at,
    });
  });

  it('records a run a claimer expired lazily, and the new run it started', async () => {
    await t.store.enqueue(job('a', { timeout: 1 }));
    const first = await claimOne('w-1');
    t.clock.advance(5_000);
    const second = await claimOne('w-2');
    await t.store.complete('q', 'a', second.run_id);
    const runs = await t.store.runs('q', 'a');
    expect(runs.map((r) => [r.run_id, r.outcome, r.worker])).toEqual([
      [first.run_id, 'lease_expired', 'w-1'],
      [second.run_id, 'completed', 'w-2'],
    ]);
  });

  it('records an expired run that left no retry, with the job dead', async () => {
    await t.store.enqueue(job('a', { timeout: 1, max_retries: 0 }));
    await claimOne();
    t.clock.advance(5_000);
    await t.store.sweep();
    expect((await t.store.get('q', 'a'))?.status).toBe('dead');
    expect((await t.store.runs('q', 'a')).map((r) => r.outcome)).toEqual(['lease_expired']);
  });

  it('records the run of a job cancelled while running', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    await t.store.cancel('q', 'a');
    expect(await t.store.runs('q', 'a')).toEqual([
      expect.objectContaining({ run_id: run.run_id, outcome: 'cancelled' }),
    ]);
  });

  it('records the run of a running job a bulk cancel ended', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    const bulk = {
      action: 'cancel',
      queue: 'q',
      filter: {},
      kind: 'pull',
      dryRun: false,
      limit: 100,
    } as const;
    await t.store.bulk(bulk);
    expect((await t.store.get('q', 'a'))?.status).toBe('cancelled');
    expect(await t.store.runs('q', 'a')).toEqual([
      expect.objectContaining({ run_id: run.run_id, outcome: 'cancelled' }),
    ]);
  });

  it('writes no record when a waiting job is cancelled', async () => {
    await t.store.enqueue(job('a'));
    await t.store.cancel('q', 'a');
    expect(await t.store.runs('q', 'a')).toEqual([]);
  });

  it('keeps the identity the claiming worker sent, and none for a worker that sent none', async () => {
    await t.store.enqueue(job('a', { backoff: NO_BACKOFF }));
    const named = await claimOne('host-7/pid-42');
    await t.store.fail('q', 'a', { error: 'x', runId: named.run_id });
    const anonymous = await claimOne();
    await t.store.complete('q', 'a', anonymous.run_id);
    expect((await t.store.runs('q', 'a')).map((r) => r.worker)).toEqual(['host-7/pid-42', null]);
  });

  it('records a given-back run as released', async () => {
    await t.store.enqueue(shellJob('m'));
    const run = await start('m');
    await t.store.releaseRun('q', 'm', run.run_id, 'no capacity');
    expect(await t.store.runs('q', 'm')).toEqual([
      expect.objectContaining({ run_id: run.run_id, outcome: 'released', error: 'no capacity' }),
    ]);
  });

  it('writes nothing for a refused end: a stale run leaves one record', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    await t.store.complete('q', 'a', run.run_id);
    await expect(t.store.complete('q', 'a', run.run_id)).rejects.toThrow();
    expect(await t.store.runs('q', 'a')).toHaveLength(1);
  });

  it('shows the run going on, with no end yet, and the same run once completed', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne('w-1');
    const [going] = await t.store.runs('q', 'a');
    expect(going).toMatchObject({
      run_id: run.run_id,
      attempt: 1,
      outcome: null,
      ended_at: null,
      worker: 'w-1',
    });
    t.clock.advance(40);
    await t.store.complete('q', 'a', run.run_id);
    expect(await t.store.runs('q', 'a')).toEqual([
      { ...going, outcome: 'completed', ended_at: (going?.claimed_at ?? 0) + 40 },
    ]);
  });

  it(`keeps the latest ${MAX_RUN_RECORDS} records of a job given back more often than that`, async () => {
    await t.store.enqueue(shellJob('m'));
    const runIds: string[] = [];
    for (let i = 0; i < MAX_RUN_RECORDS + 5; i++) {
      const run = await start('m');
      runIds.push(run.run_id);
      await t.store.releaseRun('q', 'm', run.run_id, `no capacity ${i}`);
    }
    const runs = await t.store.runs('q', 'm');
    expect(runs.map((r) => r.run_id)).toEqual(runIds.slice(-MAX_RUN_RECORDS));
  });

  it("keeps no runs past the job's retention", async () => {
    await t.store.enqueue(job('a'));
    await t.store.complete('q', 'a', (await claimOne()).run_id);
    expect(await t.store.runs('q', 'a')).toHaveLength(1);
    t.clock.advance(8 * 24 * 3600 * 1000);
    await expect(t.store.runs('q', 'a')).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('answers JobNotFoundError for a job that does not exist', async () => {
    await expect(t.store.runs('q', 'nope')).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('shows no run of an earlier job that held the id', async () => {
    await t.store.enqueue(job('a'));
    await t.store.complete('q', 'a', (await claimOne()).run_id);
    t.clock.advance(10);
    await t.store.enqueue(job('a'));
    expect(await t.store.runs('q', 'a')).toEqual([]);
  });
});

describe('run history under races', () => {
  it('writes one record when five sweeps and five claimers race for one expired run', async () => {
    await t.store.enqueue(job('a', { timeout: 1 }));
    const run = await claimOne();
    t.clock.advance(5_000);
    await Promise.all([
      ...Array.from({ length: 5 }, () => t.fresh.another(t.clock.read).sweep()),
      ...Array.from({ length: 5 }, () => t.fresh.another(t.clock.read).claim('q', 1)),
    ]);
    const expired = (await t.store.runs('q', 'a')).filter((r) => r.run_id === run.run_id);
    expect(expired).toEqual([expect.objectContaining({ outcome: 'lease_expired' })]);
  });

  it('writes one record when a cancel races the run completing', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    const ends = await Promise.allSettled([
      t.fresh.another(t.clock.read).cancel('q', 'a'),
      t.fresh.another(t.clock.read).complete('q', 'a', run.run_id),
    ]);
    const records = await t.store.runs('q', 'a');
    expect(records).toHaveLength(1);
    const status = (await t.store.get('q', 'a'))?.status;
    expect(records[0]?.outcome).toBe(status);
    expect(ends.filter((e) => e.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('run history of managed runs', () => {
  it('records the exit code, duration and error of a failed run and a completed one', async () => {
    await t.store.enqueue(shellJob('m', { backoff: NO_BACKOFF }));
    const failed = await start('m');
    t.clock.advance(700);
    await t.store.failRun('q', 'm', failed.run_id, { error: 'exit 3', exit_code: 3, duration_ms: 500 });
    const completed = await start('m');
    t.clock.advance(300);
    await t.store.completeRun('q', 'm', completed.run_id, { exit_code: 0, duration_ms: 250 });

    const [first, second] = await t.store.runs('q', 'm');
    expect(first).toMatchObject({ outcome: 'failed', exit_code: 3, duration_ms: 500, error: 'exit 3' });
    expect(first?.started_at).toBe((first?.ended_at ?? 0) - 500);
    expect(second).toMatchObject({ outcome: 'completed', exit_code: 0, duration_ms: 250, error: null });
  });

  it('records a command stopped at its timeout (exit 124) as timed out', async () => {
    await t.store.enqueue(shellJob('m', { max_retries: 0 }));
    const run = await start('m');
    await t.store.failRun('q', 'm', run.run_id, {
      error: 'timed out after 1s',
      exit_code: 124,
      duration_ms: 1000,
    });
    expect((await t.store.runs('q', 'm'))[0]).toMatchObject({ outcome: 'timed_out', exit_code: 124 });
  });

  it('records the run of a job whose dispatch was dead-lettered while it ran', async () => {
    await t.store.enqueue(shellJob('m'));
    const run = await start('m');
    await t.store.markDead('q', 'm', 'dispatch failed', 'msg-1');
    expect((await t.store.runs('q', 'm'))[0]).toMatchObject({
      run_id: run.run_id,
      outcome: 'dispatch_failed',
    });
  });
});

describe('run history of relay-rs routes', () => {
  it('records a rescheduled run', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    await t.store.reschedule(job('a', { payload: { n: 'again' } }), run.run_id);
    expect((await t.store.runs('q', 'a'))[0]).toMatchObject({ run_id: run.run_id, outcome: 'rescheduled' });
  });

  it('records a replaced run', async () => {
    await t.store.enqueue(job('a'));
    const run = await claimOne();
    expect(await t.store.replaceRun('q', 'a', run.run_id, [job('b')], 'unique')).toBe(true);
    expect((await t.store.runs('q', 'a'))[0]).toMatchObject({ run_id: run.run_id, outcome: 'replaced' });
  });
});
