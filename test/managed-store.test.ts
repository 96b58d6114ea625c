import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  JobNotFoundError,
  LeaseLostError,
  StoreBusyError,
} from '../functions/jobs/errors.ts';
import { childId, utf8Bytes } from '../functions/jobs/keys.ts';
import type { Backoff, Job, LogEntryInput, NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { pullJob as pull } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

const shell = (id: string, extra: Partial<NewJob> = {}): NewJob => ({
  queue: 'q',
  id,
  payload: { command: ['echo', id] },
  timeout: 30,
  max_retries: 3,
  type: 'SHELL',
  ...extra,
});

const fixed = (seconds: number): Backoff => ({
  strategy: 'fixed',
  base_seconds: seconds,
  max_seconds: seconds,
  jitter: 'none',
});

const GRACE = 60_000;
const KIB = 1024;

let clock: TestClock;
let store: JobStore;
let another: (clock?: () => number) => JobStore;
let fresh: TestStore;

beforeEach(async () => {
  // Terminal jobs and log items carry a TTL computed from this clock, and DynamoDB Local deletes
  // expired items in the background, so the clock starts at the real time rather than in the past.
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
  another = fresh.another;
});

afterEach(async () => {
  await fresh.dispose();
});

/** Claims a managed job by id, failing the test when it is not claimable. */
async function start(id: string, queue = 'q'): Promise<Job & { run_id: string }> {
  const run = await store.claimById(queue, id);
  if (!run?.run_id) throw new Error(`expected ${queue}/${id} to be claimable`);
  return run as Job & { run_id: string };
}

describe('managed jobs and pull claims', () => {
  it('never hands a waiting managed job to a pull claim', async () => {
    await store.enqueue(shell('m'));
    await store.enqueue(pull('p'));
    const claimed = await store.claim('q', 10);
    expect(claimed.map((j) => j.id)).toEqual(['p']);
    expect((await store.get('q', 'm'))?.status).toBe('pending');
  });

  it('still counts managed jobs in stats and lists them', async () => {
    await store.enqueue(shell('due'));
    await store.enqueue(shell('later', { run_at: clock.now + 60_000 }));
    await store.enqueue(shell('busy'));
    await store.enqueue(pull('p'));
    await start('busy');
    expect(await store.stats('q')).toEqual({ pending: 2, scheduled: 1, running: 1, failed: 0, dead: 0 });
    const listed = await store.list({ queue: 'q', limit: 10 });
    expect(listed.items.map((j) => j.id).sort()).toEqual(['busy', 'due', 'later', 'p']);
  });

  it('exposes a managed job with its type and empty chain fields', async () => {
    await store.enqueue(shell('m'));
    expect(await store.get('q', 'm')).toMatchObject({
      type: 'SHELL',
      parent: null,
      children: [],
      result: null,
    });
    await store.enqueue(pull('p'));
    expect((await store.get('q', 'p'))?.type).toBeNull();
  });
});

describe('claimById', () => {
  it('starts a run of a due managed job: running, new run id, one attempt, lease from now', async () => {
    await store.enqueue(shell('m'));
    const run = await store.claimById('q', 'm');
    expect(run).toMatchObject({ status: 'running', attempts: 1, lease_expires_at: clock.now + 30_000 });
    expect(run?.run_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('starts exactly one run when 10 dispatchers claim one job concurrently', async () => {
    await store.enqueue(shell('m'));
    const dispatchers = Array.from({ length: 10 }, () => another());
    const runs = await Promise.all(dispatchers.map((d) => d.claimById('q', 'm')));
    const started = runs.filter((r) => r !== undefined);
    expect(started).toHaveLength(1);
    expect(await store.get('q', 'm')).toMatchObject({
      status: 'running',
      attempts: 1,
      run_id: started[0]?.run_id,
    });
  });

  it('rejects a duplicate message for a job that is already running', async () => {
    await store.enqueue(shell('m'));
    const run = await start('m');
    expect(await store.claimById('q', 'm')).toBeUndefined();
    expect((await store.get('q', 'm'))?.run_id).toBe(run.run_id);
  });

  it('rejects a stale message for a completed job', async () => {
    await store.enqueue(shell('m'));
    const run = await start('m');
    await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 5 });
    expect(await store.claimById('q', 'm')).toBeUndefined();
  });

  it('rejects a job that is not due yet, then starts it once due', async () => {
    await store.enqueue(shell('m', { run_at: clock.now + 10_000 }));
    expect(await store.claimById('q', 'm')).toBeUndefined();
    clock.advance(10_000);
    expect((await store.claimById('q', 'm'))?.status).toBe('running');
  });

  it('rejects an unknown job and a pull job', async () => {
    await store.enqueue(pull('p'));
    expect(await store.claimById('q', 'nope')).toBeUndefined();
    expect(await store.claimById('nope', 'p')).toBeUndefined();
    expect(await store.claimById('q', 'p')).toBeUndefined();
    expect((await store.get('q', 'p'))?.status).toBe('pending');
  });

  it('requeues a managed run whose lease expired, on sweep, for claimById again', async () => {
    await store.enqueue(shell('m', { timeout: 1 }));
    const first = await start('m');
    clock.advance(1500);
    expect(await store.sweep()).toEqual({ requeued: 1, dead: 0, refreshed: 0, orphanedTasks: [] });
    expect(await store.get('q', 'm')).toMatchObject({
      status: 'pending',
      run_id: null,
      retries_remaining: 2,
    });
    expect(await store.claim('q', 5)).toEqual([]);
    const second = await start('m');
    expect(second.run_id).not.toBe(first.run_id);
    await expect(
      store.completeRun('q', 'm', first.run_id, { exit_code: 0, duration_ms: 1 }),
    ).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('makes a requeued expired run due for a re-dispatch at once', async () => {
    await store.enqueue(shell('m', { timeout: 1 }));
    await start('m');
    clock.advance(GRACE + 1000);
    await store.sweep();
    expect((await store.dueUndispatched(clock.now, GRACE, 10)).map((j) => j.id)).toEqual(['m']);
  });

  it('puts an expired managed run that a pull claim meets back to wait, without running it', async () => {
    await store.enqueue(shell('m', { timeout: 1 }));
    await start('m');
    clock.advance(1500);
    expect(await store.claim('q', 5)).toEqual([]);
    expect(await store.get('q', 'm')).toMatchObject({ status: 'pending', attempts: 1, retries_remaining: 2 });
    expect((await store.claimById('q', 'm'))?.attempts).toBe(2);
  });
});

describe('completeRun', () => {
  it('completes the job and stores the result', async () => {
    await store.enqueue(shell('m'));
    const run = await start('m');
    const { job, child } = await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1234 });
    expect(job).toMatchObject({
      status: 'completed',
      result: { exit_code: 0, duration_ms: 1234 },
      children: [],
    });
    expect(child).toBeNull();
    expect(await store.get('q', 'm')).toMatchObject({
      status: 'completed',
      result: { exit_code: 0, duration_ms: 1234 },
    });
  });

  it('enqueues the on_success job with a run-derived id and a link to its parent run', async () => {
    await store.enqueue(
      shell('m', {
        on_success: { payload: { command: ['next'] }, type: 'SHELL', queue: 'after', timeout: 60 },
      }),
    );
    const run = await start('m');
    const { job, child } = await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1 });
    const id = `m~${run.run_id}~success`;
    expect(job.children).toEqual([id]);
    expect(child).toMatchObject({ queue: 'after', id, type: 'SHELL', status: 'pending', timeout: 60 });
    expect(await store.get('after', id)).toMatchObject({
      payload: { command: ['next'] },
      parent: { queue: 'q', id: 'm', run_id: run.run_id },
      max_retries: 3,
    });
    expect((await store.get('q', 'm'))?.children).toEqual([id]);
  });

  it('creates one on_success job when two completions of one run race', async () => {
    await store.enqueue(shell('m', { on_success: { payload: 'next' } }));
    const run = await start('m');
    const results = await Promise.allSettled(
      [another(), another()].map((s) =>
        s.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1 }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected');
    // The loser either saw the completed job (404) or collided inside DynamoDB's transaction (retry).
    expect([JobNotFoundError, StoreBusyError].some((e) => loser?.reason instanceof e)).toBe(true);
    expect((await store.get('q', 'm'))?.children).toEqual([`m~${run.run_id}~success`]);
    const children = await store.list({ queue: 'q', limit: 10 });
    expect(children.items.filter((j) => j.parent !== null)).toHaveLength(1);
  });

  it('refuses a repeated completion and creates no second child', async () => {
    await store.enqueue(shell('m', { on_success: { payload: 'next' } }));
    const run = await start('m');
    await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1 });
    await expect(
      store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 1 }),
    ).rejects.toBeInstanceOf(JobNotFoundError);
    expect((await store.get('q', 'm'))?.children).toHaveLength(1);
    expect((await store.list({ queue: 'q', limit: 10 })).items).toHaveLength(2);
  });

  it('refuses a run that is no longer current and creates no child', async () => {
    await store.enqueue(shell('m', { timeout: 1, on_success: { payload: 'next' } }));
    const stale = await start('m');
    clock.advance(1500);
    await store.sweep();
    await start('m');
    await expect(
      store.completeRun('q', 'm', stale.run_id, { exit_code: 0, duration_ms: 1 }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.get('q', 'm'))?.children).toEqual([]);
  });

  it('derives a child id within 1,024 bytes from a long parent id', async () => {
    const long = 'é'.repeat(510); // 1,020 bytes
    await store.enqueue(shell(long, { on_success: { payload: 'next' } }));
    const run = await start(long);
    const { child } = await store.completeRun('q', long, run.run_id, { exit_code: 0, duration_ms: 1 });
    expect(child?.id).toBe(childId(long, run.run_id, 'success'));
    expect(utf8Bytes(child?.id ?? '')).toBeLessThanOrEqual(1024);
    expect(child?.id.endsWith(`~${run.run_id}~success`)).toBe(true);
  });
});

describe('failRun', () => {
  it('with a retry left marks the job failed after its backoff and records the exit code', async () => {
    await store.enqueue(shell('m', { backoff: fixed(10), on_failure: { payload: 'cleanup' } }));
    const run = await start('m');
    const { job, child } = await store.failRun('q', 'm', run.run_id, {
      error: 'exit 2',
      exit_code: 2,
      duration_ms: 40,
    });
    expect(job).toMatchObject({
      status: 'failed',
      run_at: clock.now + 10_000,
      retries_remaining: 2,
      last_error: 'exit 2',
      result: { exit_code: 2, duration_ms: 40 },
      children: [],
    });
    expect(child).toBeNull();
    expect(await store.claimById('q', 'm')).toBeUndefined();
    clock.advance(10_000);
    expect((await store.claimById('q', 'm'))?.status).toBe('running');
  });

  it('with no retry left makes the job dead and enqueues its on_failure job', async () => {
    await store.enqueue(shell('m', { max_retries: 0, on_failure: { payload: 'cleanup', queue: 'ops' } }));
    const run = await start('m');
    const { job, child } = await store.failRun('q', 'm', run.run_id, { error: 'exit 1', exit_code: 1 });
    const id = `m~${run.run_id}~failure`;
    expect(job).toMatchObject({
      status: 'dead',
      dead_reason: 'retries_exhausted',
      result: { exit_code: 1, duration_ms: null },
      children: [id],
    });
    expect(child).toMatchObject({
      queue: 'ops',
      id,
      type: null,
      parent: { queue: 'q', id: 'm', run_id: run.run_id },
    });
    expect((await store.deadLetters('q', 10)).items.map((j) => j.id)).toEqual(['m']);
  });

  it('makes the job dead when told not to retry, with retries left', async () => {
    await store.enqueue(shell('m', { on_failure: { payload: 'cleanup' } }));
    const run = await start('m');
    const { job, child } = await store.failRun('q', 'm', run.run_id, {
      error: 'bad',
      exit_code: 1,
      retry: false,
    });
    expect(job).toMatchObject({ status: 'dead', dead_reason: 'failed_permanently' });
    expect(child?.id).toBe(`m~${run.run_id}~failure`);
  });

  it('refuses a repeated failure of a dead job and creates no second on_failure job', async () => {
    await store.enqueue(shell('m', { max_retries: 0, on_failure: { payload: 'cleanup' } }));
    const run = await start('m');
    await store.failRun('q', 'm', run.run_id, { error: 'x', exit_code: 1 });
    await expect(store.failRun('q', 'm', run.run_id, { error: 'x', exit_code: 1 })).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
    expect((await store.get('q', 'm'))?.children).toHaveLength(1);
  });

  it('enqueues on_failure when the sweep expires the last run', async () => {
    await store.enqueue(shell('m', { timeout: 1, max_retries: 0, on_failure: { payload: 'cleanup' } }));
    const run = await start('m');
    clock.advance(1500);
    expect(await store.sweep()).toEqual({ requeued: 0, dead: 1, refreshed: 0, orphanedTasks: [] });
    const id = `m~${run.run_id}~failure`;
    expect(await store.get('q', 'm')).toMatchObject({ status: 'dead', children: [id] });
    expect((await store.get('q', id))?.parent).toEqual({ queue: 'q', id: 'm', run_id: run.run_id });
  });
});

describe('markDead', () => {
  it('makes a live job dead of its failed dispatch, keeping the message and the reason given', async () => {
    await store.enqueue(shell('m'));
    const dead = await store.markDead('q', 'm', 'the hint was dead-lettered', 'message-1');
    expect(dead).toMatchObject({
      status: 'dead',
      dead_reason: 'dispatch_failed',
      last_error: 'the hint was dead-lettered',
      dead_message_id: 'message-1',
    });
  });

  it('leaves a job this very message made dead before alone', async () => {
    await store.enqueue(shell('m'));
    await store.markDead('q', 'm', 'dead-lettered', 'message-1');
    await store.requeueDead('q', 'm', 'managed');
    expect(await store.markDead('q', 'm', 'dead-lettered', 'message-1')).toBeUndefined();
    expect(await store.get('q', 'm')).toMatchObject({ status: 'pending', dead_reason: null });
  });
});

describe('lost-dispatch repair', () => {
  it('finds a due managed job once its grace has passed, not before', async () => {
    await store.enqueue(shell('m'));
    clock.advance(GRACE - 1);
    expect(await store.dueUndispatched(clock.now, GRACE, 10)).toEqual([]);
    clock.advance(1);
    expect((await store.dueUndispatched(clock.now, GRACE, 10)).map((j) => j.id)).toEqual(['m']);
  });

  it('ignores scheduled, running and pull jobs', async () => {
    await store.enqueue(shell('later', { run_at: clock.now + 3_600_000 }));
    await store.enqueue(shell('busy', { timeout: 600 }));
    await start('busy');
    await store.enqueue(pull('p'));
    clock.advance(2 * GRACE);
    expect(await store.dueUndispatched(clock.now, GRACE, 10)).toEqual([]);
  });

  it('searches every queue and every shard, up to the limit', async () => {
    for (let i = 0; i < 6; i++) await store.enqueue(shell(`a${i}`, { queue: 'a' }));
    for (let i = 0; i < 6; i++) await store.enqueue(shell(`b${i}`, { queue: 'b' }));
    clock.advance(GRACE);
    expect(await store.dueUndispatched(clock.now, GRACE, 100)).toHaveLength(12);
    expect(await store.dueUndispatched(clock.now, GRACE, 8)).toHaveLength(8);
  });

  it('hides a re-dispatched job until the grace passes again', async () => {
    await store.enqueue(shell('m'));
    clock.advance(GRACE);
    expect(await store.markRedispatched('q', 'm', clock.now)).toBe(true);
    expect(await store.dueUndispatched(clock.now, GRACE, 10)).toEqual([]);
    clock.advance(GRACE);
    expect((await store.dueUndispatched(clock.now, GRACE, 10)).map((j) => j.id)).toEqual(['m']);
  });

  it('refuses to mark a job that is no longer waiting', async () => {
    await store.enqueue(shell('m'));
    await start('m');
    expect(await store.markRedispatched('q', 'm', clock.now)).toBe(false);
    expect(await store.markRedispatched('q', 'unknown', clock.now)).toBe(false);
  });

  it('keeps a re-dispatched job claimable and counted as pending', async () => {
    await store.enqueue(shell('m'));
    clock.advance(GRACE);
    await store.markRedispatched('q', 'm', clock.now);
    expect((await store.stats('q')).pending).toBe(1);
    expect((await store.claimById('q', 'm'))?.status).toBe('running');
  });
});

describe('run logs', () => {
  const entries = (from: number, n: number, text = (seq: number) => `line ${seq}\n`): LogEntryInput[] =>
    Array.from({ length: n }, (_, i) => ({
      seq: from + i,
      stream: i % 2 ? 'stderr' : 'stdout',
      text: text(from + i),
      at: clock.now + from + i,
    }));
  const texts = (page: { items: { text: string }[] }) => page.items.map((e) => e.text);

  it('reads entries back in order across two runs, the older run first', async () => {
    await store.enqueue(shell('m', { backoff: fixed(1) }));
    const first = await start('m');
    await store.appendLogs(
      'q',
      'm',
      first.run_id,
      1,
      entries(0, 3, (s) => `first ${s}`),
    );
    await store.failRun('q', 'm', first.run_id, { error: 'x', exit_code: 1 });
    clock.advance(1000);
    const second = await start('m');
    await store.appendLogs(
      'q',
      'm',
      second.run_id,
      2,
      entries(0, 2, (s) => `second ${s}`),
    );
    const page = await store.readLogs('q', 'm', { limit: 100 });
    expect(texts(page)).toEqual(['first 0', 'first 1', 'first 2', 'second 0', 'second 1']);
    expect(page.items[3]).toMatchObject({ run_id: second.run_id, attempt: 2, seq: 0, stream: 'stdout' });
    expect(page.items[1]).toMatchObject({ run_id: first.run_id, attempt: 1, seq: 1, stream: 'stderr' });
  });

  it("reads one run's entries when asked for that run", async () => {
    await store.appendLogs(
      'q',
      'm',
      'run-a',
      1,
      entries(0, 2, (s) => `a ${s}`),
    );
    await store.appendLogs(
      'q',
      'm',
      'run-b',
      2,
      entries(0, 2, (s) => `b ${s}`),
    );
    expect(texts(await store.readLogs('q', 'm', { runId: 'run-b', limit: 10 }))).toEqual(['b 0', 'b 1']);
  });

  it('stores a retried append once', async () => {
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 3));
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 3));
    expect(texts(await store.readLogs('q', 'm', { limit: 10 }))).toEqual([
      'line 0\n',
      'line 1\n',
      'line 2\n',
    ]);
  });

  it('does not count a retried append against the bound twice', async () => {
    const chunk = (s: number) => `${s}`.padEnd(16 * KIB, '.');
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 10, chunk)); // 160 KiB
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 10, chunk)); // the same append, retried
    const rest = await store.appendLogs('q', 'm', 'run', 1, entries(10, 6, chunk)); // 256 KiB in all
    expect(rest).toEqual({ stored: 6, truncated: false });
    expect((await store.readLogs('q', 'm', { limit: 100 })).items).toHaveLength(16);
  });

  it("cuts a run's log at 256 KiB with one truncated marker and drops later appends", async () => {
    const chunk = (s: number) => `${s}`.padEnd(16 * KIB, '.');
    expect(await store.appendLogs('q', 'm', 'run', 1, entries(0, 10, chunk))).toEqual({
      stored: 10,
      truncated: false,
    });
    expect(await store.appendLogs('q', 'm', 'run', 1, entries(10, 10, chunk))).toEqual({
      stored: 6,
      truncated: true,
    });
    expect(await store.appendLogs('q', 'm', 'run', 1, entries(20, 5, chunk))).toEqual({
      stored: 0,
      truncated: true,
    });
    const page = await store.readLogs('q', 'm', { limit: 100 });
    expect(page.items).toHaveLength(17);
    const kept = page.items.filter((e) => !e.truncated);
    expect(kept.reduce((n, e) => n + utf8Bytes(e.text), 0)).toBe(256 * KIB);
    expect(page.items.at(-1)).toMatchObject({ seq: 16, truncated: true, stream: 'stderr' });
  });

  it("replaces a cut run's log by a marker of what was dropped and the run's tail", async () => {
    const chunk = (s: number) => `${s}`.padEnd(16 * KIB, '.');
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 20, chunk)); // 320 KiB: cut at 256
    const tail = entries(30, 16, chunk); // the run's last 256 KiB, as the runner kept them

    await store.keepLogTail('q', 'm', 'run', 1, { droppedBytes: 30 * 16 * KIB, entries: tail });

    const page = await store.readLogs('q', 'm', { limit: 100 });
    expect(page.items[0]).toMatchObject({
      seq: 29,
      truncated: true,
      stream: 'stderr',
      text: expect.stringContaining(`${30 * 16 * KIB} bytes dropped from the front`),
    });
    expect(page.items.slice(1).map((e) => e.seq)).toEqual(tail.map((e) => e.seq));
    expect(page.items.at(-1)?.text).toBe(chunk(45));
  });

  it('keeps the bound per run', async () => {
    const chunk = (s: number) => `${s}`.padEnd(128 * KIB, '.');
    await store.appendLogs('q', 'm', 'run-a', 1, entries(0, 3, chunk));
    expect(await store.appendLogs('q', 'm', 'run-b', 2, entries(0, 2, chunk))).toEqual({
      stored: 2,
      truncated: false,
    });
  });

  it('pages with a cursor and follows entries appended later', async () => {
    await store.appendLogs('q', 'm', 'run', 1, entries(0, 5));
    const first = await store.readLogs('q', 'm', { limit: 2 });
    const second = await store.readLogs('q', 'm', { limit: 2, after: first.cursor ?? undefined });
    const third = await store.readLogs('q', 'm', { limit: 2, after: second.cursor ?? undefined });
    expect([first, second, third].flatMap((p) => p.items.map((e) => e.seq))).toEqual([0, 1, 2, 3, 4]);
    const idle = await store.readLogs('q', 'm', { limit: 2, after: third.cursor ?? undefined });
    expect(idle).toEqual({ items: [], cursor: third.cursor });
    await store.appendLogs('q', 'm', 'run', 1, entries(5, 2));
    const followed = await store.readLogs('q', 'm', { limit: 10, after: idle.cursor ?? undefined });
    expect(followed.items.map((e) => e.seq)).toEqual([5, 6]);
  });

  it('continues a cursor into the next run', async () => {
    await store.appendLogs(
      'q',
      'm',
      'run-a',
      1,
      entries(0, 2, (s) => `a ${s}`),
    );
    clock.advance(1000);
    await store.appendLogs(
      'q',
      'm',
      'run-b',
      2,
      entries(0, 2, (s) => `b ${s}`),
    );
    const first = await store.readLogs('q', 'm', { limit: 3 });
    const rest = await store.readLogs('q', 'm', { limit: 3, after: first.cursor ?? undefined });
    expect([...texts(first), ...texts(rest)]).toEqual(['a 0', 'a 1', 'b 0', 'b 1']);
  });

  it('returns no entries and no cursor for a job without logs', async () => {
    expect(await store.readLogs('q', 'none', { limit: 10 })).toEqual({ items: [], cursor: null });
  });

  it.each([
    ['without a seq', 'run#'],
    ['without a run', '#3'],
    ['with a seq that is not decimal digits', 'run#1e3'],
    ['with a seq past what a log key holds', 'run#12345678901'],
  ])('refuses a cursor %s as an invalid argument', async (_, after) => {
    await expect(store.readLogs('q', 'm', { limit: 10, after })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      code: 'invalid_argument',
      argument: 'after',
    });
  });

  it('refuses entries whose seq does not ascend as an invalid argument', async () => {
    const [a, b] = entries(0, 2);
    const append = store.appendLogs('q', 'm', 'run', 1, [b, a] as LogEntryInput[]);
    await expect(append).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('releaseRun', () => {
  it('gives a run that never started back without spending a retry or an attempt', async () => {
    await store.enqueue(shell('m', { max_retries: 2 }));
    const run = await store.claimById('q', 'm');
    const released = await store.releaseRun('q', 'm', run?.run_id ?? '', 'no Fargate capacity');
    expect(released).toMatchObject({ status: 'pending', attempts: 0, retries_remaining: 2, run_id: null });
    expect((await store.claimById('q', 'm'))?.attempts).toBe(1);
  });

  it('makes a run it gives back owed a dispatch at once, whatever the repair grace', async () => {
    await store.enqueue(shell('m'));
    const run = await store.claimById('q', 'm');
    await store.releaseRun('q', 'm', run?.run_id ?? '', 'the local stack stopped during the run');

    expect((await store.dueUndispatched(clock.now, GRACE, 10)).map((j) => j.id)).toEqual(['m']);
  });

  it('does nothing for a run that is no longer current', async () => {
    await store.enqueue(shell('m'));
    const run = await store.claimById('q', 'm');
    await store.completeRun('q', 'm', run?.run_id ?? '', { exit_code: 0, duration_ms: 1 });
    expect(await store.releaseRun('q', 'm', run?.run_id ?? '', 'late')).toBeUndefined();
    expect((await store.get('q', 'm'))?.status).toBe('completed');
  });
});
