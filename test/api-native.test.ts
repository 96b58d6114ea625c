/**
 * Relay's native job API over real HTTP: enqueue with defaults and idempotency, the status view of
 * every status, listing, explicit failure, cancel and retry, the dead-letter queue, and stats.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';

interface View {
  queue: string;
  id: string;
  status: string;
  payload: unknown;
  state: unknown;
  timeout: number;
  max_retries: number | null;
  retries_remaining: number | null;
  attempts: number;
  run_id: string | null;
  last_error: string | null;
  run_at: string;
  created_at: string;
  updated_at: string;
}

interface ErrorBody {
  error: { code: string; message: string; job_id?: string };
}

const t = apiPerTest();

const iso = (ms: number) => new Date(ms).toISOString();

const create = (body: Record<string, unknown>) => t.api.send('POST', '/v1/jobs', body);
const status = (id: string, queue = 'q') => t.api.fetch(`/v1/queues/${queue}/jobs/${id}/status`);
const post = (path: string, body?: unknown) =>
  body === undefined ? t.api.fetch(path, { method: 'POST' }) : t.api.send('POST', path, body);
const fail = (id: string, body: Record<string, unknown>) => post(`/v1/queues/q/jobs/${id}/fail`, body);

async function enqueued(id: string, extra: Record<string, unknown> = {}): Promise<View> {
  const res = await create({ queue: 'q', id, payload: { n: id }, ...extra });
  expect(res.status).toBe(201);
  return (await jsonOf(res)) as View;
}

/** Claims the next job of queue `q` (through relay's v2 route, which shows the run id). */
async function claimNext(): Promise<string> {
  const res = await t.api.fetch('/v2/queues/q/jobs');
  expect(res.status).toBe(200);
  const [claimed] = (await jsonOf(res)) as { run_id: string }[];
  return claimed?.run_id as string;
}

async function statusOf(id: string): Promise<View> {
  const res = await status(id);
  expect(res.status).toBe(200);
  return (await jsonOf(res)) as View;
}

async function dead(id: string): Promise<void> {
  await enqueued(id, { max_retries: 0 });
  const runId = await claimNext();
  t.clock.advance(1);
  expect((await fail(id, { error: `${id} broke`, run_id: runId })).status).toBe(202);
}

describe('POST /v1/jobs', () => {
  it('answers 201 with the job view, filling every default', async () => {
    const res = await create({ payload: { x: 1 } });

    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await jsonOf(res);
    expect(body).toMatchObject({
      queue: 'default',
      status: 'pending',
      payload: { x: 1 },
      state: null,
      priority: 0,
      timeout: 300,
      max_retries: 3,
      retries_remaining: 3,
      attempts: 0,
      run_id: null,
      last_error: null,
      run_at: iso(t.clock.now),
      created_at: iso(t.clock.now),
    });
    expect(body.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('generates ids that sort in enqueue order', async () => {
    const first = await jsonOf(create({ payload: 1 }));
    const second = await jsonOf(create({ payload: 2 }));

    expect(second.id > first.id).toBe(true);
  });

  it('schedules the job `delay` seconds from now', async () => {
    const res = await create({ queue: 'q', id: 'a', payload: 1, delay: 90 });

    expect(await jsonOf(res)).toMatchObject({ status: 'scheduled', run_at: iso(t.clock.now + 90_000) });
  });

  it('schedules the job at `run_at`', async () => {
    const runAt = iso(t.clock.now + 3_600_000);

    const res = await create({ queue: 'q', id: 'a', payload: 1, run_at: runAt });

    expect(await jsonOf(res)).toMatchObject({ status: 'scheduled', run_at: runAt });
  });

  it('answers 422 when both delay and run_at are given', async () => {
    const res = await create({ queue: 'q', id: 'a', payload: 1, delay: 1, run_at: iso(t.clock.now) });

    expect(res.status).toBe(422);
    expect((await status('a')).status).toBe(404);
  });

  it('answers 409 job_exists for an id that is live', async () => {
    await enqueued('a');

    const res = await create({ queue: 'q', id: 'a', payload: 2 });

    expect(res.status).toBe(409);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('job_exists');
  });

  it('answers 409 with the existing job id when an idempotency key is used again', async () => {
    await enqueued('a', { idempotency_key: 'order-42' });

    const res = await create({ queue: 'q', id: 'b', payload: 1, idempotency_key: 'order-42' });

    expect(res.status).toBe(409);
    expect(await jsonOf(res)).toMatchObject({
      error: { code: 'duplicate_idempotency_key', job_id: 'a' },
    });
    expect((await status('b')).status).toBe(404);
  });

  it('expands a backoff strategy name to the full backoff', async () => {
    const body = await enqueued('a', { backoff: 'fixed' });

    expect(body).toMatchObject({
      backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 600, jitter: 'full' },
    });
  });

  it('reads a negative max_retries as unlimited', async () => {
    const body = await enqueued('a', { max_retries: -1 });

    expect(body).toMatchObject({ max_retries: null, retries_remaining: null });
  });

  it('answers 422 to an unknown field', async () => {
    const res = await create({ queue: 'q', id: 'a', payload: 1, priorty: 5 });

    expect(res.status).toBe(422);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('invalid_request');
  });

  it.each([0, 2 ** 31, 1.5])('answers 422 to timeout %s', async (timeout) => {
    const res = await create({ queue: 'q', id: 'a', payload: 1, timeout });

    expect(res.status).toBe(422);
  });

  it('accepts timeouts from 1 second to the largest int32 for a pull job: its lease may be long', async () => {
    const short = await create({ queue: 'q', id: 'a', payload: 1, timeout: 1 });
    const day = await create({ queue: 'q', id: 'b', payload: 1, timeout: 86_400 });
    const longest = await create({ queue: 'q', id: 'c', payload: 1, timeout: 2 ** 31 - 1 });

    expect([short.status, day.status, longest.status]).toEqual([201, 201, 201]);
    expect(await jsonOf(day)).toMatchObject({ timeout: 86_400 });
  });

  it('counts the 1,024-byte limit on queue names in UTF-8 bytes', async () => {
    const fits = await create({ queue: 'α'.repeat(512), payload: 1 });
    const tooLong = await create({ queue: 'α'.repeat(513), payload: 1 });

    expect([fits.status, tooLong.status]).toEqual([201, 422]);
  });

  it('answers 413 when payload and state exceed 256 KiB', async () => {
    const res = await create({
      queue: 'q',
      id: 'a',
      payload: 'p'.repeat(200 * 1024),
      state: 's'.repeat(60 * 1024),
    });

    expect(res.status).toBe(413);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('payload_too_large');
    expect((await status('a')).status).toBe(404);
  });
});

describe('GET /v1/queues/{queue}/jobs/{id}/status', () => {
  it('shows a waiting job as pending', async () => {
    await enqueued('a');

    expect((await statusOf('a')).status).toBe('pending');
  });

  it('shows a job due later as scheduled, and as pending once due', async () => {
    await enqueued('a', { delay: 60 });
    expect((await statusOf('a')).status).toBe('scheduled');

    t.clock.advance(60_000);

    expect((await statusOf('a')).status).toBe('pending');
  });

  it('shows a claimed job as running with its run, attempt and lease', async () => {
    await enqueued('a', { timeout: 30 });
    const runId = await claimNext();

    expect(await statusOf('a')).toMatchObject({
      status: 'running',
      run_id: runId,
      attempts: 1,
      lease_expires_at: iso(t.clock.now + 30_000),
    });
  });

  it('shows a failed run waiting for its retry as failed, with the error and one retry spent', async () => {
    await enqueued('a', { max_retries: 2 });
    const runId = await claimNext();
    await fail('a', { error: 'disk full', run_id: runId });

    expect(await statusOf('a')).toMatchObject({
      status: 'failed',
      last_error: 'disk full',
      retries_remaining: 1,
      attempts: 1,
      run_id: null,
    });
  });

  it('shows a job with no retry left as dead', async () => {
    await dead('a');

    expect(await statusOf('a')).toMatchObject({
      status: 'dead',
      last_error: 'a broke',
      retries_remaining: 0,
    });
  });

  it('shows a cancelled job as cancelled', async () => {
    await enqueued('a');
    await post('/v1/queues/q/jobs/a/cancel');

    expect((await statusOf('a')).status).toBe('cancelled');
  });

  it('shows a completed job as completed', async () => {
    await enqueued('a');
    const runId = await claimNext();
    t.clock.advance(1000);
    await t.api.fetch(`/v2/queues/q/jobs/a/run-id/${runId}`, { method: 'DELETE' });

    expect(await statusOf('a')).toMatchObject({ status: 'completed', updated_at: iso(t.clock.now) });
  });

  it('answers 404 job_not_found as a JSON error for an unknown job', async () => {
    const res = await status('ghost');

    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await jsonOf(res)).toEqual({
      error: { code: 'job_not_found', message: 'job with id `ghost` not found in queue `q`.' },
    });
  });
});

describe('GET /v1/jobs', () => {
  async function fiveJobs() {
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1);
      await enqueued(`j${i}`);
    }
  }

  it('lists jobs newest first, page by page, until next_cursor is null', async () => {
    await fiveJobs();

    const first = await jsonOf(t.api.fetch('/v1/jobs?queue=q&limit=2'));
    const second = await jsonOf(t.api.fetch(`/v1/jobs?queue=q&limit=2&cursor=${first.next_cursor}`));
    const third = await jsonOf(t.api.fetch(`/v1/jobs?queue=q&limit=2&cursor=${second.next_cursor}`));

    const ids = (page: { jobs: View[] }) => page.jobs.map((j) => j.id);
    expect([ids(first), ids(second), ids(third)]).toEqual([['j4', 'j3'], ['j2', 'j1'], ['j0']]);
    expect(typeof first.next_cursor).toBe('string');
    expect(third.next_cursor).toBeNull();
  });

  it('filters by status', async () => {
    await fiveJobs();
    await claimNext();

    const body = await jsonOf(t.api.fetch('/v1/jobs?queue=q&status=running'));

    expect(body.jobs.map((j: View) => j.id)).toEqual(['j0']);
  });

  it('lists every queue when no queue is given', async () => {
    await enqueued('a');
    t.clock.advance(1);
    await create({ queue: 'other', id: 'b', payload: 1 });

    const body = await jsonOf(t.api.fetch('/v1/jobs'));

    expect(body.jobs.map((j: View) => `${j.queue}/${j.id}`)).toEqual(['other/b', 'q/a']);
  });

  it('answers an empty page for an unknown queue', async () => {
    const res = await t.api.fetch('/v1/jobs?queue=nowhere');

    expect(await jsonOf(res)).toEqual({ jobs: [], next_cursor: null });
  });

  it('answers 400 to a cursor it did not issue', async () => {
    const res = await t.api.fetch('/v1/jobs?cursor=not*a*cursor');

    expect(res.status).toBe(400);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('bad_request');
  });
});

describe('POST /v1/queues/{queue}/jobs/{id}/fail', () => {
  it('answers 202 with the failed job, which is retried after its backoff', async () => {
    await enqueued('a', {
      backoff: { strategy: 'fixed', base_seconds: 10, max_seconds: 10, jitter: 'none' },
    });
    const runId = await claimNext();

    const res = await fail('a', { error: 'timeout talking to S3', run_id: runId });

    expect(res.status).toBe(202);
    expect(await jsonOf(res)).toMatchObject({ status: 'failed', run_at: iso(t.clock.now + 10_000) });
    expect((await t.api.fetch('/v2/queues/q/jobs')).status).toBe(204);
    t.clock.advance(10_000);
    expect((await t.api.fetch('/v2/queues/q/jobs')).status).toBe(200);
  });

  it('makes the job dead at once with retry: false', async () => {
    await enqueued('a');
    const runId = await claimNext();

    const res = await fail('a', { error: 'bad input', run_id: runId, retry: false });

    expect(await jsonOf(res)).toMatchObject({ status: 'dead', last_error: 'bad input' });
  });

  it('fails the current run when no run_id is given', async () => {
    await enqueued('a');
    await claimNext();

    const res = await fail('a', { error: 'boom' });

    expect(res.status).toBe(202);
    expect((await statusOf('a')).status).toBe('failed');
  });

  it('answers 404 for a job that is not running', async () => {
    await enqueued('a');

    const res = await fail('a', { error: 'boom' });

    expect(res.status).toBe(404);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('job_not_found');
    expect((await statusOf('a')).status).toBe('pending');
  });

  it('answers 409 when run_id is not the current run, leaving the run alone', async () => {
    await enqueued('a', { timeout: 1 });
    const stale = await claimNext();
    t.clock.advance(2000);
    const current = await claimNext();

    const res = await fail('a', { error: 'late', run_id: stale });

    expect(res.status).toBe(409);
    expect(((await jsonOf(res)) as ErrorBody).error.code).toBe('lease_lost');
    expect(await statusOf('a')).toMatchObject({ status: 'running', run_id: current });
  });
});

describe('POST /v1/queues/{queue}/jobs/{id}/cancel', () => {
  it('cancels a waiting job with 200', async () => {
    await enqueued('a');

    const res = await post('/v1/queues/q/jobs/a/cancel');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({ id: 'a', status: 'cancelled' });
    expect((await t.api.fetch('/v2/queues/q/jobs')).status).toBe(204);
  });

  it("makes a cancelled running job's heartbeat and complete fail", async () => {
    await enqueued('a');
    const runId = await claimNext();

    await post('/v1/queues/q/jobs/a/cancel');

    expect((await t.api.send('PATCH', `/v2/queues/q/jobs/a/run-id/${runId}`, 'beat')).status).toBe(404);
    expect((await t.api.fetch('/v1/queues/q/jobs/a', { method: 'PATCH' })).status).toBe(404);
    // relay-rs's DELETE is idempotent: it answers 200 and leaves the cancelled job as it is.
    expect((await t.api.fetch('/v1/queues/q/jobs/a', { method: 'DELETE' })).status).toBe(200);
    await t.api.fetch(`/v2/queues/q/jobs/a/run-id/${runId}`, { method: 'DELETE' });
    expect((await statusOf('a')).status).toBe('cancelled');
  });

  it('answers 409 for a job that already ended', async () => {
    await enqueued('a');
    await post('/v1/queues/q/jobs/a/cancel');

    const res = await post('/v1/queues/q/jobs/a/cancel');

    expect(res.status).toBe(409);
    expect(await jsonOf(res)).toMatchObject({
      error: { code: 'invalid_transition', message: 'cannot cancel job with status: cancelled' },
    });
  });

  it('answers 404 for an unknown job', async () => {
    const res = await post('/v1/queues/q/jobs/ghost/cancel');

    expect(res.status).toBe(404);
  });
});

describe('POST /v1/queues/{queue}/jobs/{id}/retry', () => {
  it('runs a dead job again with 200 and a fresh retry budget', async () => {
    await dead('a');

    const res = await post('/v1/queues/q/jobs/a/retry');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({
      status: 'pending',
      retries_remaining: 0,
      run_at: iso(t.clock.now),
    });
    expect((await t.api.fetch('/v2/queues/q/jobs')).status).toBe(200);
  });

  it('runs a cancelled job again', async () => {
    await enqueued('a');
    await post('/v1/queues/q/jobs/a/cancel');

    const res = await post('/v1/queues/q/jobs/a/retry');

    expect(res.status).toBe(200);
    expect((await statusOf('a')).status).toBe('pending');
  });

  it('answers 409 "cannot retry job with status: completed" for a completed job', async () => {
    await enqueued('a');
    const runId = await claimNext();
    await t.api.fetch(`/v2/queues/q/jobs/a/run-id/${runId}`, { method: 'DELETE' });

    const res = await post('/v1/queues/q/jobs/a/retry');

    expect(res.status).toBe(409);
    expect(await jsonOf(res)).toMatchObject({
      error: { code: 'invalid_transition', message: 'cannot retry job with status: completed' },
    });
  });

  it('answers 404 for an unknown job', async () => {
    const res = await post('/v1/queues/q/jobs/ghost/retry');

    expect(res.status).toBe(404);
  });
});

describe('run_at finer than a millisecond', () => {
  /** `ms` in RFC 3339 with more digits: the microseconds Go and Rust clients send. */
  const finer = (ms: number, digits = '009') => `${iso(ms).slice(0, -1)}${digits}Z`;
  const claim = () => t.api.fetch('/v2/queues/q/jobs');

  it('echoes the text it was given, to the microsecond, on every view', async () => {
    const runAt = finer(t.clock.now - 1000);

    const created = await enqueued('a', { run_at: runAt });

    expect(created.run_at).toBe(runAt);
    expect((await statusOf('a')).run_at).toBe(runAt);
    expect((await jsonOf(t.api.fetch('/v1/jobs?queue=q'))).jobs[0].run_at).toBe(runAt);
  });

  it('shows a time given with an offset in UTC, keeping its digits', async () => {
    const created = await enqueued('a', { run_at: '2026-01-01T02:00:00.500001+02:00' });

    expect(created.run_at).toBe('2026-01-01T00:00:00.500001Z');
  });

  it('shows a time with no digits past the millisecond as before: three digits', async () => {
    const created = await enqueued('a', { run_at: '2026-01-01T00:00:00.5000Z' });

    expect(created.run_at).toBe('2026-01-01T00:00:00.500Z');
  });

  it('is not due before its microseconds: it is claimable from the next millisecond', async () => {
    await enqueued('a', { run_at: finer(t.clock.now, '001') });

    const early = await claim();
    const shown = await statusOf('a');
    t.clock.advance(1);
    const due = await claim();

    expect([early.status, shown.status, due.status]).toEqual([204, 'scheduled', 200]);
  });

  it('forgets the text when a failed run waits for its backoff', async () => {
    const backoff = { strategy: 'fixed', base_seconds: 10, jitter: 'none' };
    await enqueued('a', { run_at: finer(t.clock.now - 1000), backoff });
    const runId = await claimNext();

    await fail('a', { error: 'again', run_id: runId });

    expect(await statusOf('a')).toMatchObject({ status: 'failed', run_at: iso(t.clock.now + 10_000) });
  });

  it('forgets the text when a retry makes the job due now', async () => {
    await enqueued('a', { run_at: finer(t.clock.now - 1000), max_retries: 0 });
    const runId = await claimNext();
    await fail('a', { error: 'broke', run_id: runId });

    const res = await post('/v1/queues/q/jobs/a/retry');

    expect(await jsonOf(res)).toMatchObject({ status: 'pending', run_at: iso(t.clock.now) });
  });
});

describe('dead-letter queue', () => {
  async function threeDead() {
    for (const id of ['a', 'b', 'c']) await dead(id);
  }

  it('lists dead jobs, most recently dead first', async () => {
    await threeDead();
    await enqueued('alive');

    const res = await t.api.fetch('/v1/queues/q/dlq');

    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body.jobs.map((j: View) => j.id)).toEqual(['c', 'b', 'a']);
    expect(body.next_cursor).toBeNull();
  });

  it('pages the listing with next_cursor', async () => {
    await threeDead();

    const first = await jsonOf(t.api.fetch('/v1/queues/q/dlq?limit=2'));
    const second = await jsonOf(t.api.fetch(`/v1/queues/q/dlq?limit=2&cursor=${first.next_cursor}`));

    expect(first.jobs.map((j: View) => j.id)).toEqual(['c', 'b']);
    expect(second.jobs.map((j: View) => j.id)).toEqual(['a']);
  });

  it('requeues one dead job with 200', async () => {
    await threeDead();

    const res = await post('/v1/queues/q/dlq/b/requeue');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({ id: 'b', status: 'pending' });
    const left = await jsonOf(t.api.fetch('/v1/queues/q/dlq'));
    expect(left.jobs.map((j: View) => j.id)).toEqual(['c', 'a']);
  });

  it('answers 409 when requeueing a job that is not dead', async () => {
    await enqueued('a');

    const res = await post('/v1/queues/q/dlq/a/requeue');

    expect(res.status).toBe(409);
  });

  it('requeues every dead job and says how many', async () => {
    await threeDead();

    const res = await post('/v1/queues/q/dlq/requeue');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({ requeued: 3, skipped_managed: 0 });
    expect((await jsonOf(t.api.fetch('/v1/queues/q/dlq'))).jobs).toEqual([]);
  });

  it('requeues at most `limit` dead jobs', async () => {
    await threeDead();

    const res = await post('/v1/queues/q/dlq/requeue', { limit: 2 });

    expect(await jsonOf(res)).toEqual({ requeued: 2, skipped_managed: 0 });
    expect((await jsonOf(t.api.fetch('/v1/queues/q/dlq'))).jobs).toHaveLength(1);
  });

  it('deletes a dead job for good', async () => {
    await dead('a');

    const res = await t.api.fetch('/v1/queues/q/dlq/a', { method: 'DELETE' });

    expect(res.status).toBe(204);
    expect((await status('a')).status).toBe(404);
  });

  it('answers 409 when deleting a job that is not dead, and 404 for an unknown one', async () => {
    await enqueued('a');

    const live = await t.api.fetch('/v1/queues/q/dlq/a', { method: 'DELETE' });
    const unknown = await t.api.fetch('/v1/queues/q/dlq/ghost', { method: 'DELETE' });

    expect([live.status, unknown.status]).toEqual([409, 404]);
    expect((await statusOf('a')).status).toBe('pending');
  });
});

describe('queues and stats', () => {
  async function oneOfEach() {
    await dead('d');
    await enqueued('p1');
    await enqueued('p2');
    await enqueued('s', { delay: 60 });
    await enqueued('r');
    await claimNext(); // p1
    await enqueued('f', { run_at: iso(t.clock.now - 10_000) });
    const runId = await claimNext(); // f, the earliest run_at
    await fail('f', { error: 'x', run_id: runId });
  }

  it('counts the jobs of a queue per status', async () => {
    await oneOfEach();

    const res = await t.api.fetch('/v1/queues/q/stats');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({ pending: 2, scheduled: 1, running: 1, failed: 1, dead: 1 });
  });

  it('counts nothing for an unknown queue', async () => {
    const res = await t.api.fetch('/v1/queues/nowhere/stats');

    expect(await jsonOf(res)).toMatchObject({ pending: 0, scheduled: 0, running: 0, failed: 0, dead: 0 });
  });

  it('lists every queue with its layout and counts', async () => {
    await oneOfEach();
    await create({ queue: 'other', id: 'x', payload: 1 });

    const res = await t.api.fetch('/v1/queues');

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({
      queues: [
        {
          name: 'other',
          ordering: 'priority',
          shards: 4,
          paused: false,
          paused_at: null,
          aging_seconds_per_level: null,
          rate_per_second: null,
          burst: null,
          max_running: null,
          pending: 1,
          scheduled: 0,
          running: 0,
          failed: 0,
          dead: 0,
        },
        {
          name: 'q',
          ordering: 'priority',
          shards: 4,
          paused: false,
          paused_at: null,
          aging_seconds_per_level: null,
          rate_per_second: null,
          burst: null,
          max_running: null,
          pending: 2,
          scheduled: 1,
          running: 1,
          failed: 1,
          dead: 1,
        },
      ],
    });
  });
});
