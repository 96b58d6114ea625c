import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { runView } from '../functions/api/run-schemas.ts';
import type { scheduleView } from '../functions/api/schedule-schemas.ts';
import type { nativeView, relayV2View } from '../functions/api/schemas.ts';
import type { RunOutcomeName } from '../functions/jobs/history.ts';
import { VIEW_STATUSES } from '../functions/jobs/model.ts';
import { freePort } from '../functions/local/dynamodb-local.ts';
import {
  type ClaimedJob,
  JOB_STATUSES,
  type Job,
  LeaseLostError,
  RelayApiError,
  RelayClient,
  RelayConnectionError,
  type Run,
  type Schedule,
} from '../functions/sdk/client.ts';
import { startTestApi, type TestApi } from './support/api.ts';

let api: TestApi;
let client: RelayClient;

beforeAll(async () => {
  api = await startTestApi();
  client = new RelayClient({ endpoint: api.url, retries: 0 });
});

afterAll(async () => {
  await api.close();
});

/** Every test works in its own queue of the shared table. */
const newQueue = () => `q-${randomUUID()}`;

/** A job that has run and failed for good; the queue must hold no other due job. */
async function deadJob(queue: string, id: string): Promise<Job> {
  await client.submit({ queue, id, payload: { id } });
  const [claimed] = await client.claim(queue, 1);
  return client.fail(queue, id, { error: 'boom', runId: claimed?.run_id, retry: false });
}

/** Rejects with whatever `promise` rejects with, or fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('RelayClient producer calls', () => {
  it('submits a job and returns it as stored, with the API defaults', async () => {
    const queue = newQueue();
    const job = await client.submit({ queue, payload: { to: 'a@example.com' } });
    expect(job).toMatchObject({
      queue,
      status: 'pending',
      payload: { to: 'a@example.com' },
      attempts: 0,
      max_retries: 3,
      timeout: 300,
    });
    expect(job.id).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('reads a job back by queue and id', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: 1, priority: 5 });
    expect(await client.status(queue, 'a')).toMatchObject({ id: 'a', payload: 1, priority: 5 });
  });

  it('lists only the jobs of one queue and status', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'waiting', payload: null });
    await client.submit({ queue, id: 'later', payload: null, delay: 3600 });
    const page = await client.list({ queue, status: 'scheduled' });
    expect(page.jobs.map((j) => j.id)).toEqual(['later']);
  });

  it('pages through a queue with next_cursor', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b', 'c']) await client.submit({ queue, id, payload: null });
    const first = await client.list({ queue, limit: 2 });
    const second = await client.list({ queue, limit: 2, cursor: first.next_cursor ?? undefined });
    expect(first.jobs).toHaveLength(2);
    expect([...first.jobs, ...second.jobs].map((j) => j.id).sort()).toEqual(['a', 'b', 'c']);
    expect(second.next_cursor).toBeNull();
  });

  it('cancels a pending job', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    expect(await client.cancel(queue, 'a')).toMatchObject({ status: 'cancelled' });
  });

  it('retries a cancelled job', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    await client.cancel(queue, 'a');
    expect(await client.retry(queue, 'a')).toMatchObject({ status: 'pending' });
  });

  it('fails a running job for good when retry is false', async () => {
    const queue = newQueue();
    const job = await deadJob(queue, 'a');
    expect(job).toMatchObject({
      status: 'dead',
      last_error: 'boom',
      dead_reason: 'failed_permanently',
      attempts: 1,
    });
  });

  it('fails a running job into its backoff while retries remain', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, max_retries: 2 });
    const [claimed] = await client.claim(queue, 1);
    const job = await client.fail(queue, 'a', { error: 'flaky', runId: claimed?.run_id });
    expect(job).toMatchObject({ status: 'failed', retries_remaining: 1, last_error: 'flaky' });
  });

  it('counts a queue’s jobs by status', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await client.submit({ queue, id: 'b', payload: null });
    expect(await client.stats(queue)).toEqual({
      queue,
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
      dead: 1,
    });
  });

  it('lists queues with their counts', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    const { queues } = await client.queues();
    expect(queues.find((q) => q.name === queue)).toMatchObject({ name: queue, pending: 1 });
  });

  it('resolves health when the API answers', async () => {
    await expect(client.health()).resolves.toBeUndefined();
  });
});

describe('RelayClient dead-letter calls', () => {
  it('lists the dead jobs of a queue', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await client.submit({ queue, id: 'alive', payload: null });
    const page = await client.dlqList(queue);
    expect(page.jobs.map((j) => j.id)).toEqual(['a']);
  });

  it('requeues one dead job with a fresh retry budget', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    expect(await client.dlqRequeue(queue, 'a')).toMatchObject({ status: 'pending', retries_remaining: 3 });
  });

  it('requeues every dead job of a queue', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await deadJob(queue, 'b');
    expect(await client.dlqRequeueAll(queue)).toEqual({ requeued: 2 });
    expect((await client.dlqList(queue)).jobs).toEqual([]);
  });

  it('requeues at most limit dead jobs', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await deadJob(queue, 'b');
    expect(await client.dlqRequeueAll(queue, { limit: 1 })).toEqual({ requeued: 1 });
  });

  it('deletes a dead job for good', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await client.dlqDelete(queue, 'a');
    const error = await rejection(client.status(queue, 'a'));
    expect(error).toMatchObject({ status: 404 });
  });
});

describe('RelayClient bulk calls', () => {
  it('lists by error text and creation window', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    const cut = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.submit({ queue, id: 'later', payload: null });

    expect((await client.list({ queue, errorContains: 'boo' })).jobs.map((j) => j.id)).toEqual(['a']);
    expect((await client.list({ queue, createdAfter: cut })).jobs.map((j) => j.id)).toEqual(['later']);
    expect((await client.list({ queue, createdBefore: cut })).jobs.map((j) => j.id)).toEqual(['a']);
  });

  it('sends only the list parameters the API knows', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    const options = { queue, colour: 'red' } as Parameters<RelayClient['list']>[0];
    expect((await client.list(options)).jobs.map((j) => j.id)).toEqual(['a']);
  });

  it('counts on a dry run, then retries page by page with the cursor', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b', 'c']) await deadJob(queue, id);

    const dry = await client.bulk(queue, 'retry', { filter: { status: 'dead' }, dryRun: true });
    expect(dry).toMatchObject({ matched: 3, changed: 0, more: false });
    expect(dry.sample_ids).toEqual(['c', 'b', 'a']);

    const first = await client.bulk(queue, 'retry', { filter: { status: 'dead' }, limit: 2 });
    expect(first).toMatchObject({ matched: 2, changed: 2, more: true });
    const rest = await client.bulk(queue, 'retry', {
      filter: { status: 'dead' },
      limit: 2,
      cursor: first.next_cursor ?? undefined,
    });
    expect(rest).toMatchObject({ matched: 1, changed: 1, more: false });
    expect((await client.dlqList(queue)).jobs).toEqual([]);
  });
});

describe('RelayClient worker calls', () => {
  it('claims due jobs, each running under a run id', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: { n: 1 }, timeout: 30 });
    const [job, ...rest] = await client.claim(queue, 5);
    expect(rest).toEqual([]);
    expect(job).toMatchObject({ queue, id: 'a', payload: { n: 1 }, timeout: 30 });
    expect(job?.run_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('claims nothing from an empty queue', async () => {
    expect(await client.claim(newQueue(), 3)).toEqual([]);
  });

  it('heartbeats a run, storing its state and extending its lease', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, timeout: 60 });
    const [job] = await client.claim(queue);
    const before = await client.status(queue, 'a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.heartbeat(queue, 'a', job?.run_id ?? '', { step: 2 });
    const after = await client.status(queue, 'a');
    expect(after.state).toEqual({ step: 2 });
    expect(Date.parse(after.lease_expires_at ?? '')).toBeGreaterThan(
      Date.parse(before.lease_expires_at ?? ''),
    );
  });

  it('throws LeaseLostError when heartbeating a run that is no longer current', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    const [job] = await client.claim(queue);
    await client.cancel(queue, 'a');
    const error = await rejection(client.heartbeat(queue, 'a', job?.run_id ?? ''));
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ status: 404, code: 'lease_lost', runId: job?.run_id });
  });

  it('completes a run', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    const [job] = await client.claim(queue);
    await client.complete(queue, 'a', job?.run_id ?? '');
    expect(await client.status(queue, 'a')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('round-trips a queue and id holding slashes, spaces and non-ASCII characters', async () => {
    const queue = `my queue/α ${randomUUID()}`;
    const id = 'a/b c?d#e%';
    await client.submit({ queue, id, payload: null });
    expect(await client.status(queue, id)).toMatchObject({ queue, id });
    const [job] = await client.claim(queue);
    expect(job).toMatchObject({ queue, id });
    await client.heartbeat(queue, id, job?.run_id ?? '');
    await client.complete(queue, id, job?.run_id ?? '');
    expect(await client.status(queue, id)).toMatchObject({ status: 'completed' });
  });
});

describe('RelayClient run history', () => {
  it('lists a job runs with how each ended and the worker that claimed it', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, max_retries: 1 });
    const [first] = await client.claim(queue, 1, { worker: 'sdk-worker-1' });
    await client.fail(queue, 'a', { error: 'boom', runId: first?.run_id });
    await client.retry(queue, 'a');
    const [second] = await client.claim(queue);
    await client.complete(queue, 'a', second?.run_id ?? '');
    const runs = await client.runs(queue, 'a');
    expect(runs.map((r) => [r.run_id, r.attempt, r.outcome, r.error, r.worker])).toEqual([
      [first?.run_id, 1, 'failed', 'boom', 'sdk-worker-1'],
      [second?.run_id, 2, 'completed', null, null],
    ]);
  });

  it('throws a 404 RelayApiError for an unknown job', async () => {
    const error = await rejection(client.runs(newQueue(), 'nope'));
    expect(error).toBeInstanceOf(RelayApiError);
    expect(error).toMatchObject({ status: 404, code: 'job_not_found' });
  });
});

describe('RelayClient queue control', () => {
  it('pauses a queue, whose claims then get nothing, and resumes it', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, priority: 'high' });

    expect(await client.pause(queue)).toMatchObject({ name: queue, paused: true });
    expect(await client.claim(queue, 1)).toEqual([]);
    expect(await client.stats(queue)).toMatchObject({ paused: true, pending: 1 });

    expect(await client.resume(queue)).toMatchObject({ name: queue, paused: false, paused_at: null });
    expect((await client.claim(queue, 1)).map((job) => job.id)).toEqual(['a']);
    expect((await client.status(queue, 'a')).priority).toBe(1);
  });

  it('sets and clears the aging rate', async () => {
    const queue = newQueue();

    expect(await client.setQueueSettings(queue, { aging_seconds_per_level: 5 })).toMatchObject({
      aging_seconds_per_level: 5,
    });
    const { queues } = await client.queues();
    expect(queues.find((q) => q.name === queue)).toMatchObject({ aging_seconds_per_level: 5, paused: false });
    expect(await client.setQueueSettings(queue, { aging_seconds_per_level: null })).toMatchObject({
      aging_seconds_per_level: null,
    });
  });

  it('sets, reads and clears a rate limit, over which a claim gets nothing', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b']) await client.submit({ queue, id, payload: null });

    expect(await client.setLimits(queue, { rate_per_second: 0.1, burst: 1 })).toEqual({
      queue,
      rate_per_second: 0.1,
      burst: 1,
      max_running: null,
    });
    expect(await client.limits(queue)).toMatchObject({ queue, rate_per_second: 0.1, burst: 1 });
    expect(await client.claim(queue, 2)).toHaveLength(1);
    expect(await client.claim(queue, 2)).toEqual([]);
    expect(await client.stats(queue)).toMatchObject({ rate_per_second: 0.1, burst: 1, pending: 1 });

    expect(await client.setLimits(queue, { rate_per_second: null })).toEqual({
      queue,
      rate_per_second: null,
      burst: null,
      max_running: null,
    });
    expect(await client.claim(queue, 2)).toHaveLength(1);
  });

  it('sets max_running, with which a claim gets nothing while every slot is taken', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b']) await client.submit({ queue, id, payload: null });

    expect(await client.setLimits(queue, { max_running: 1 })).toMatchObject({ max_running: 1 });
    const [first] = await client.claim(queue, 2);
    expect(await client.claim(queue, 2)).toEqual([]);
    await client.complete(queue, first?.id ?? '', first?.run_id ?? '');
    expect(await client.claim(queue, 2)).toHaveLength(1);
  });
});

describe('RelayClient errors', () => {
  it('throws a 404 job_not_found error for an unknown job', async () => {
    const error = await rejection(client.status(newQueue(), 'nope'));
    expect(error).toBeInstanceOf(RelayApiError);
    expect(error).toMatchObject({ status: 404, code: 'job_not_found' });
    expect((error as Error).message).toContain('`nope` not found');
  });

  it('carries the existing job id on a duplicate idempotency key', async () => {
    const queue = newQueue();
    const first = await client.submit({ queue, payload: 1, idempotency_key: 'k' });
    const error = await rejection(client.submit({ queue, payload: 2, idempotency_key: 'k' }));
    expect(error).toMatchObject({ status: 409, code: 'duplicate_idempotency_key', jobId: first.id });
  });

  it('throws a 422 with the validation message for an invalid job', async () => {
    const error = await rejection(client.submit({ queue: newQueue(), payload: 1, timeout: 0 }));
    expect(error).toMatchObject({ status: 422, code: 'invalid_request' });
    expect((error as Error).message).toContain('timeout must be at least 1 second');
  });

  it('reads a plain-text error body from a relay route', async () => {
    const error = await rejection(client.heartbeat(newQueue(), 'a', 'not-a-uuid'));
    expect(error).toMatchObject({ status: 400, code: 'bad_request' });
    expect((error as Error).message).toContain('Cannot parse `run_id`');
  });

  it('sends its token as a bearer token', async () => {
    const secured = await startTestApi({ token: 's3cret' });
    try {
      const authorized = new RelayClient({ endpoint: secured.url, token: 's3cret' });
      await expect(authorized.queues()).resolves.toEqual({ queues: [] });
    } finally {
      await secured.close();
    }
  });

  it('throws a 401 unauthorized error without the token the API requires', async () => {
    const secured = await startTestApi({ token: 's3cret' });
    try {
      const anonymous = new RelayClient({ endpoint: secured.url, token: '' });
      expect(await rejection(anonymous.queues())).toMatchObject({ status: 401, code: 'unauthorized' });
    } finally {
      await secured.close();
    }
  });
});

describe('RelayClient retries', () => {
  /** fetch that answers `fault` for the first `times` calls, then reaches the API; counts calls. */
  function faulty(times: number, fault: () => Promise<Response>) {
    const calls: string[] = [];
    const fetcher: typeof fetch = async (input, init) => {
      calls.push(init?.method ?? 'GET');
      return calls.length <= times ? fault() : fetch(input, init);
    };
    return { fetcher, calls };
  }
  const busy = async () =>
    new Response('{"error":{"code":"store_busy","message":"busy"}}', {
      status: 503,
      headers: { 'retry-after': '0', 'content-type': 'application/json' },
    });
  const refused = async (): Promise<Response> => {
    throw new TypeError('fetch failed', {
      cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
    });
  };

  it('retries a 503 after its Retry-After and then succeeds', async () => {
    const { fetcher, calls } = faulty(2, busy);
    const retrying = new RelayClient({ endpoint: api.url, fetch: fetcher, retries: 3 });
    const job = await retrying.submit({ queue: newQueue(), payload: null });
    expect(job.status).toBe('pending');
    expect(calls).toEqual(['POST', 'POST', 'POST']);
  });

  it('throws the busy answer once its retries are spent', async () => {
    const { fetcher, calls } = faulty(10, busy);
    const retrying = new RelayClient({ endpoint: api.url, fetch: fetcher, retries: 2 });
    expect(await rejection(retrying.queues())).toMatchObject({ status: 503, code: 'store_busy' });
    expect(calls).toHaveLength(3);
  });

  it('retries a read after a network failure', async () => {
    const { fetcher, calls } = faulty(1, refused);
    const retrying = new RelayClient({ endpoint: api.url, fetch: fetcher, retries: 1 });
    await expect(retrying.queues()).resolves.toHaveProperty('queues');
    expect(calls).toHaveLength(2);
  });

  it('does not resend a write after a network failure', async () => {
    const { fetcher, calls } = faulty(1, refused);
    const retrying = new RelayClient({ endpoint: api.url, fetch: fetcher, retries: 3 });
    const error = await rejection(retrying.submit({ queue: newQueue(), payload: null }));
    expect(error).toBeInstanceOf(RelayConnectionError);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(calls).toHaveLength(1);
  });

  it('throws RelayConnectionError when nothing listens at the endpoint', async () => {
    const nowhere = new RelayClient({ endpoint: `http://127.0.0.1:${await freePort()}`, retries: 0 });
    expect(await rejection(nowhere.health())).toBeInstanceOf(RelayConnectionError);
  });
});

describe('RelayClient schedule calls', () => {
  const job = (queue: string) => ({ queue, payload: { report: 'nightly' } });

  it('creates, reads, redefines and deletes a schedule', async () => {
    const name = `s-${randomUUID()}`;
    const queue = newQueue();

    const created = await client.createSchedule(name, {
      cron: '0 3 * * *',
      timezone: 'Asia/Tokyo',
      job: job(queue),
    });
    const redefined = await client.putSchedule(name, { cron: '0 4 * * *', job: job(queue) });
    const shown = await client.schedule(name);
    const { schedules } = await client.schedules();
    await client.deleteSchedule(name);

    expect(created).toMatchObject({ name, timezone: 'Asia/Tokyo', kind: 'pull' });
    expect(redefined).toMatchObject({ cron: '0 4 * * *', timezone: 'UTC' });
    expect(shown.next_fire_times).toHaveLength(5);
    expect(schedules.map((s) => s.name)).toContain(name);
    expect(await rejection(client.schedule(name))).toMatchObject({ status: 404, code: 'schedule_not_found' });
  });

  it('pauses, resumes and triggers a schedule', async () => {
    const name = `s-${randomUUID()}`;
    const queue = newQueue();
    await client.createSchedule(name, { cron: '* * * * *', job: job(queue) });

    const paused = await client.pauseSchedule(name);
    const resumed = await client.resumeSchedule(name);
    const triggered = await client.triggerSchedule(name);

    expect(paused.next_fire_at).toBeNull();
    expect(resumed.next_fire_at).not.toBeNull();
    expect(triggered).toMatchObject({ queue, status: 'pending', payload: { report: 'nightly' } });
  });

  it('rejects a bad time zone with a RelayApiError of 422', async () => {
    const error = await rejection(
      client.createSchedule(`s-${randomUUID()}`, {
        cron: '* * * * *',
        timezone: 'Nowhere/City',
        job: job('q'),
      }),
    );

    expect(error).toBeInstanceOf(RelayApiError);
    expect(error).toMatchObject({ status: 422 });
  });
});

describe('SDK types', () => {
  it('mirror the server’s schedule view', () => {
    type View = ReturnType<typeof scheduleView>;
    expectTypeOf<keyof Schedule>().toEqualTypeOf<keyof View>();
  });

  it('mirror the server’s native job view and v2 claimed job', () => {
    type NativeView = ReturnType<typeof nativeView>;
    type V2View = ReturnType<typeof relayV2View>;
    expectTypeOf<NativeView>().toExtend<Job>();
    expectTypeOf<keyof Job>().toEqualTypeOf<keyof NativeView>();
    expectTypeOf<V2View>().toExtend<Omit<ClaimedJob, 'run_id'> & { run_id: string | null }>();
    expectTypeOf<keyof ClaimedJob>().toEqualTypeOf<keyof V2View>();
  });

  it('mirror the server’s run view and outcomes', () => {
    expectTypeOf<keyof Run>().toEqualTypeOf<keyof ReturnType<typeof runView>>();
    expectTypeOf<Run['outcome']>().toEqualTypeOf<RunOutcomeName | null>();
  });

  it('list the same job statuses as the server', () => {
    expect([...JOB_STATUSES]).toEqual([...VIEW_STATUSES]);
  });
});
