/**
 * relay-rs's v1 RESTful routes over real HTTP: the statuses, bodies and job shape its clients
 * (the Rust client, the Go client) depend on, and relay-rs's own scenarios. What they share with
 * the seed routes (enqueue, claim, heartbeat, complete and reschedule answers) is tested on both
 * in api-relay-rs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf, tableItems } from './support/api.ts';
import { relayV1Job as job } from './support/jobs.ts';

const t = apiPerTest();

const enqueue = (...jobs: Record<string, unknown>[]) => t.api.send('POST', '/v1/queues/jobs', jobs);
const claim = (queue = 'q', query = '') => t.api.fetch(`/v1/queues/${queue}/jobs${query}`);
const getJob = (id: string, queue = 'q') => t.api.fetch(`/v1/queues/${queue}/jobs/${id}`);
const heartbeat = (id: string, state?: unknown) =>
  state === undefined
    ? t.api.fetch(`/v1/queues/q/jobs/${id}`, { method: 'PATCH' })
    : t.api.send('PATCH', `/v1/queues/q/jobs/${id}`, state);
const remove = (id: string) => t.api.fetch(`/v1/queues/q/jobs/${id}`, { method: 'DELETE' });
const reschedule = (body: Record<string, unknown>) => t.api.send('PUT', '/v1/queues/jobs', body);

async function claimOne(queue = 'q'): Promise<Record<string, unknown>> {
  const res = await claim(queue);
  expect(res.status).toBe(200);
  const [first] = (await jsonOf(res)) as Record<string, unknown>[];
  return first as Record<string, unknown>;
}

describe('POST /v1/queues/jobs', () => {
  it('keeps the first of two jobs with one id in a batch', async () => {
    const res = await enqueue(job('a', { payload: 'first' }), job('a', { payload: 'second' }));

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.payload).toBe('first');
  });

  it('accepts an empty array with 202', async () => {
    const res = await enqueue();

    expect(res.status).toBe(202);
  });

  it('stores the state given on enqueue', async () => {
    await enqueue(job('a', { state: { step: 2 } }));

    const body = await jsonOf(getJob('a'));

    expect(body.state).toEqual({ step: 2 });
  });

  it('defaults max_retries to 0', async () => {
    await enqueue(job('a'));

    const body = await jsonOf(getJob('a'));

    expect(body.max_retries).toBe(0);
    expect((await t.api.store.get('q', 'a'))?.retries_remaining).toBe(0);
  });

  it('reads a negative max_retries as unlimited and reports it as -1', async () => {
    await enqueue(job('a', { max_retries: -1 }), job('b', { max_retries: -7 }));

    const a = await jsonOf(getJob('a'));
    const b = await jsonOf(getJob('b'));

    expect([a.max_retries, b.max_retries]).toEqual([-1, -1]);
    expect((await t.api.store.get('q', 'a'))?.max_retries).toBeNull();
  });

  it("accepts the Go client's job: RFC 3339 nano run_at, updated_at null, max_retries omitted", async () => {
    const res = await enqueue(job('a', { run_at: '2025-12-31T23:59:58.123456789Z', updated_at: null }));

    expect(res.status).toBe(202);
    const body = await jsonOf(getJob('a'));
    expect(body.run_at).toBe('2025-12-31T23:59:58.123456789Z');
    expect(body.updated_at).toBe(new Date(t.clock.now).toISOString());
  });

  it('ignores unknown fields', async () => {
    const res = await enqueue(job('a', { colour: 'red', unknown: true }));

    expect(res.status).toBe(202);
    expect(await t.api.store.get('q', 'a')).toMatchObject({ priority: 0 });
  });

  it('accepts an id again once its job completed', async () => {
    await enqueue(job('a'));
    await claimOne();
    await remove('a');

    const res = await enqueue(job('a', { payload: 'again' }));

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.payload).toBe('again');
  });
});

describe('PUT /v1/queues/jobs (reschedule)', () => {
  it('overwrites timeout, max_retries, payload, state and run_at of an in-flight job with 202', async () => {
    await enqueue(job('a', { timeout: 30, max_retries: 1, payload: 'p1', state: 's1' }));
    await claimOne();
    const runAt = new Date(t.clock.now + 60_000).toISOString();

    const res = await reschedule(
      job('a', { timeout: 60, max_retries: 5, payload: 'p2', state: 's2', run_at: runAt }),
    );

    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    expect(await jsonOf(getJob('a'))).toMatchObject({
      timeout: 60,
      max_retries: 5,
      payload: 'p2',
      state: 's2',
      run_at: runAt,
    });
  });

  it('takes the job out of flight and resets its retry budget', async () => {
    await enqueue(job('a', { max_retries: 3, timeout: 1 }));
    await claimOne();
    t.clock.advance(2000);
    await claimOne(); // the lease expired: this claim spent a retry
    expect((await t.api.store.get('q', 'a'))?.retries_remaining).toBe(2);

    await reschedule(job('a', { max_retries: 3 }));

    expect(await t.api.store.get('q', 'a')).toMatchObject({
      status: 'pending',
      run_id: null,
      retries_remaining: 3,
    });
  });

  it('makes the job claimable again once its run_at is due', async () => {
    await enqueue(job('a'));
    await claimOne();
    await reschedule(job('a', { run_at: new Date(t.clock.now + 10_000).toISOString() }));
    expect((await claim()).status).toBe(204);

    t.clock.advance(10_000);
    const again = await claimOne();

    expect(again.id).toBe('a');
  });

  it('clears the state when the reschedule carries none', async () => {
    await enqueue(job('a', { state: 'kept?' }));
    await claimOne();

    await reschedule(job('a'));

    expect((await jsonOf(getJob('a'))).state).toBeNull();
  });

  it('returns 404 when the job does not exist, writing nothing', async () => {
    const res = await reschedule(job('ghost'));

    expect(res.status).toBe(404);
    expect(await tableItems(t.api)).toEqual([]);
  });
});

describe('GET /v1/queues/{queue}/jobs (claim)', () => {
  it('claims one job by default and answers a JSON array', async () => {
    await enqueue(job('a'), job('b'));

    const res = await claim();

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await jsonOf(res);
    expect(body).toHaveLength(1);
    expect(body[0].id).toBe('a');
  });

  it('hands out the jobs of one batch in array order', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `j${i}`);
    await enqueue(...ids.map((id) => job(id)));

    const body = await jsonOf(claim('q', '?num_jobs=12'));

    expect(body.map((j: { id: string }) => j.id)).toEqual(ids);
  });

  it('answers 204 to num_jobs=0, as relay-rs does', async () => {
    await enqueue(job('a'));

    const res = await claim('q', '?num_jobs=0');

    expect(res.status).toBe(204);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('pending');
  });

  it('stamps updated_at with the claim time', async () => {
    await enqueue(job('a'));
    t.clock.advance(5000);

    const claimed = await claimOne();

    expect(claimed.updated_at).toBe(new Date(t.clock.now).toISOString());
  });
});

describe('HEAD /v1/queues/{queue}/jobs/{id}', () => {
  it('answers 200 with no body for a live job', async () => {
    await enqueue(job('a'));

    const res = await t.api.fetch('/v1/queues/q/jobs/a', { method: 'HEAD' });

    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('answers 404 for an unknown job', async () => {
    const res = await t.api.fetch('/v1/queues/q/jobs/ghost', { method: 'HEAD' });

    expect(res.status).toBe(404);
  });

  it('answers 404 for a completed job', async () => {
    await enqueue(job('a'));
    await claimOne();
    await remove('a');

    const res = await t.api.fetch('/v1/queues/q/jobs/a', { method: 'HEAD' });

    expect(res.status).toBe(404);
  });
});

describe('GET /v1/queues/{queue}/jobs/{id}', () => {
  it("returns exactly relay-rs's fields, in its order", async () => {
    await enqueue(job('a', { max_retries: 2, state: { s: 1 } }));

    const res = await getJob('a');

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await jsonOf(res);
    expect(Object.keys(body)).toEqual([
      'id',
      'queue',
      'timeout',
      'max_retries',
      'payload',
      'state',
      'run_at',
      'updated_at',
    ]);
    expect(body).toEqual({
      id: 'a',
      queue: 'q',
      timeout: 30,
      max_retries: 2,
      payload: { n: 'a' },
      state: { s: 1 },
      run_at: new Date(t.clock.now).toISOString(),
      updated_at: new Date(t.clock.now).toISOString(),
    });
  });

  it('returns state null when the job has none', async () => {
    await enqueue(job('a'));

    const body = await jsonOf(getJob('a'));

    expect(body).toHaveProperty('state', null);
  });

  it('returns an in-flight job too', async () => {
    await enqueue(job('a'));
    await claimOne();

    const res = await getJob('a');

    expect(res.status).toBe(200);
  });

  it('answers 404 with an empty body for an unknown job', async () => {
    const res = await getJob('ghost');

    expect(res.status).toBe(404);
    expect(await res.text()).toBe('');
  });

  it('answers 404 for a completed job', async () => {
    await enqueue(job('a'));
    await claimOne();
    await remove('a');

    const res = await getJob('a');

    expect(res.status).toBe(404);
  });
});

describe('PATCH /v1/queues/{queue}/jobs/{id} (heartbeat)', () => {
  it('extends the lease by the job timeout from now', async () => {
    await enqueue(job('a', { timeout: 30 }));
    await claimOne();
    t.clock.advance(20_000);

    await heartbeat('a', 'alive');

    expect((await t.api.store.get('q', 'a'))?.lease_expires_at).toBe(t.clock.now + 30_000);
  });

  it('answers 404 for an unknown job', async () => {
    const res = await heartbeat('ghost');

    expect(res.status).toBe(404);
  });

  it('answers 413 when the new state does not fit beside the payload, keeping the old state', async () => {
    await enqueue(job('a', { payload: 'p'.repeat(200 * 1024), state: 'old' }));
    await claimOne();

    const res = await heartbeat('a', 's'.repeat(100 * 1024));

    expect(res.status).toBe(413);
    expect((await t.api.store.get('q', 'a'))?.state).toBe('old');
  });
});

describe('GET /health', () => {
  it('answers 200 with an empty body', async () => {
    const res = await t.api.fetch('/health');

    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe("relay-rs's scenarios", () => {
  it('runs a oneshot job: enqueue, exists, get, next, heartbeat, get, delete', async () => {
    expect((await enqueue(job('1', { max_retries: -1 }))).status).toBe(202);
    expect((await t.api.fetch('/v1/queues/q/jobs/1', { method: 'HEAD' })).status).toBe(200);
    expect(await jsonOf(getJob('1'))).toMatchObject({ id: '1', state: null, max_retries: -1 });

    const next = await claim('q', '?num_jobs=10');
    expect(next.status).toBe(200);
    expect((await jsonOf(next)).map((j: { id: string }) => j.id)).toEqual(['1']);

    expect((await heartbeat('1', { progress: 'half' })).status).toBe(202);
    expect((await jsonOf(getJob('1'))).state).toEqual({ progress: 'half' });

    expect((await remove('1')).status).toBe(200);
    expect((await t.api.fetch('/v1/queues/q/jobs/1', { method: 'HEAD' })).status).toBe(404);
    expect((await getJob('1')).status).toBe(404);
    expect((await claim()).status).toBe(204);
  });

  it('reschedules a claimed job, which then runs again with its new content', async () => {
    await enqueue(job('1', { payload: 'first' }));
    await claimOne();

    expect((await reschedule(job('1', { payload: 'second', state: 'from reschedule' }))).status).toBe(202);
    const again = await claimOne();

    expect(again).toMatchObject({ id: '1', payload: 'second', state: 'from reschedule' });
  });
});

/**
 * The request sequences relay-rs's clients send, replayed over HTTP: relay-client-go's consumer
 * (one poller asking for as many jobs as it has idle workers, each worker completing its job with
 * DELETE when autocomplete is on, exiting on any answer but 200) and the Rust client, whose jobs
 * carry every field, `run_at` with microseconds.
 */
describe('replayed relay-rs clients', () => {
  const HOUR = 3_600_000;
  /** A Go client job: `max_retries` and `state` omitted when zero, `updated_at` always null. */
  const goJob = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    queue: 'q',
    timeout: 30,
    payload: { n: id },
    updated_at: null,
    ...extra,
  });
  /** `ms` as chrono writes a `DateTime<Utc>` with microseconds. */
  const micros = (ms: number) => `${new Date(ms).toISOString().slice(0, -1)}283Z`;
  const poll = (numJobs: number) => claim('q', `?num_jobs=${numJobs}`);
  const ids = async (res: Response) => ((await jsonOf(res)) as { id: string }[]).map((j) => j.id);
  const nativeStatus = (id: string) => jsonOf(t.api.fetch(`/v1/queues/q/jobs/${id}/status`));

  it('Go consumer with autocomplete: completing a job whose lease expired meanwhile answers 200', async () => {
    await enqueue(goJob('a', { timeout: 1 }));
    expect(await ids(await poll(1))).toEqual(['a']);
    t.clock.advance(2000);
    await t.api.store.sweep();

    const completed = await remove('a');

    expect(completed.status).toBe(200);
    expect(await completed.text()).toBe('');
    expect((await poll(1)).status).toBe(204);
    expect(await nativeStatus('a')).toMatchObject({ status: 'dead', dead_reason: 'lease_expired' });
  });

  it('Go consumer with autocomplete: completing a job deleted while it ran answers 200', async () => {
    await enqueue(goJob('a'));
    await poll(1);
    await t.api.fetch('/v2/queues/q/jobs/a', { method: 'DELETE' });

    const completed = await remove('a');

    expect(completed.status).toBe(200);
    expect((await getJob('a')).status).toBe(404);
  });

  it('Go poller with 128 idle workers: num_jobs=128 gets 100 jobs, then the 28 it still asks for', async () => {
    const all = Array.from({ length: 130 }, (_, i) => `j${String(i).padStart(3, '0')}`);
    await enqueue(...all.map((id) => goJob(id)));

    const first = await ids(await poll(128));
    const second = await ids(await poll(128 - first.length));
    for (const id of first.slice(0, 5)) await remove(id);
    const afterFiveCompleted = await ids(await poll(5));

    expect(first).toEqual(all.slice(0, 100));
    expect(second).toEqual(all.slice(100, 128));
    expect(afterFiveCompleted).toEqual(all.slice(128));
  });

  it('Rust client: run_at comes back to the microsecond from get and from a poll', async () => {
    const runAt = micros(t.clock.now - 1000);
    await enqueue({ ...goJob('a'), max_retries: -1, state: null, run_at: runAt });

    const got = await jsonOf(getJob('a'));
    const [polled] = await jsonOf(poll(10));
    const completed = await remove('a');

    expect([got.run_at, polled.run_at]).toEqual([runAt, runAt]);
    expect(completed.status).toBe(200);
    expect((await t.api.fetch('/v1/queues/q/jobs/a', { method: 'HEAD' })).status).toBe(404);
  });

  it('a job with a 24 h timeout stays in flight past 12 h, heartbeats, and returns once its lease ends', async () => {
    await enqueue(goJob('a', { timeout: 86_400, max_retries: -1 }));
    await poll(1);
    t.clock.advance(13 * HOUR);
    await t.api.store.sweep();

    const meanwhile = await poll(1);
    const beat = await heartbeat('a', { step: 1 });
    t.clock.advance(24 * HOUR + 1000);
    const afterLease = await poll(1);

    expect([meanwhile.status, beat.status]).toEqual([204, 202]);
    expect(await ids(afterLease)).toEqual(['a']);
  });

  it("a mixed fleet: a producer's priority 9 job is claimed before the Go producer's earlier ones", async () => {
    await enqueue(goJob('first'), goJob('second'));
    await enqueue(goJob('urgent', { priority: 9 }));

    const next = await poll(1);

    expect(await ids(next)).toEqual(['urgent']);
    expect(await nativeStatus('urgent')).toMatchObject({ priority: 9 });
  });
});

describe('percent-encoded names', () => {
  const queue = 'my queue/α';
  const id = 'a/b c';
  const path = `/v1/queues/${encodeURIComponent(queue)}/jobs`;
  const jobPath = `${path}/${encodeURIComponent(id)}`;

  it('round-trips queue `my queue/α` and id `a/b c` through every job route', async () => {
    await enqueue({ id, queue, timeout: 30, payload: 1 });

    expect((await t.api.fetch(jobPath, { method: 'HEAD' })).status).toBe(200);
    expect(await jsonOf(t.api.fetch(jobPath))).toMatchObject({ id, queue });
    expect(await jsonOf(t.api.fetch(path))).toMatchObject([{ id, queue }]);
    expect((await t.api.send('PATCH', jobPath, 'beat')).status).toBe(202);
    expect((await t.api.fetch(jobPath, { method: 'DELETE' })).status).toBe(200);
    expect((await t.api.store.get(queue, id))?.status).toBe('completed');
  });

  it('keeps + in a path literal rather than reading it as a space', async () => {
    await enqueue({ id: 'x', queue: 'a+b', timeout: 30, payload: 1 });

    expect((await t.api.fetch('/v1/queues/a+b/jobs/x')).status).toBe(200);
    expect((await t.api.fetch('/v1/queues/a%20b/jobs/x')).status).toBe(404);
  });
});
