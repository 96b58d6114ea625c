/**
 * relay's v2 routes over real HTTP: enqueue modes, runs fenced by run id, requeue, and the
 * `Existing` job shape its clients read.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';
import { relayV2Job as job } from './support/jobs.ts';

interface Existing {
  queue: string;
  id: string;
  run_id: string | null;
  state: unknown;
  payload: unknown;
  created_at: string;
  updated_at: string;
  retries_remaining: number | null;
}

const t = apiPerTest();

const enqueue = (jobs: Record<string, unknown>[], mode?: string) =>
  t.api.send('POST', `/v2/queues/jobs${mode ? `?mode=${mode}` : ''}`, jobs);
const next = (query = '') => t.api.fetch(`/v2/queues/q/jobs${query}`);
const getJob = async (id: string): Promise<Existing> => {
  const res = await t.api.fetch(`/v2/queues/q/jobs/${id}`);
  expect(res.status).toBe(200);
  return (await jsonOf(res)) as Existing;
};
const runPath = (id: string, runId: string) => `/v2/queues/q/jobs/${id}/run-id/${runId}`;
const heartbeat = (id: string, runId: string, state?: unknown) =>
  state === undefined
    ? t.api.fetch(runPath(id, runId), { method: 'PATCH' })
    : t.api.send('PATCH', runPath(id, runId), state);
const complete = (id: string, runId: string) => t.api.fetch(runPath(id, runId), { method: 'DELETE' });
const requeue = (id: string, runId: string, jobs: Record<string, unknown>[], mode?: string) =>
  t.api.send('PUT', `${runPath(id, runId)}${mode ? `?mode=${mode}` : ''}`, jobs);

/** Enqueues and claims one job; returns its run id. */
async function running(id: string, extra: Record<string, unknown> = {}): Promise<string> {
  await enqueue([job(id, extra)]);
  const res = await next();
  expect(res.status).toBe(200);
  const [claimed] = (await jsonOf(res)) as Existing[];
  return claimed?.run_id as string;
}

/** A job whose first run's lease expired and was claimed again: returns the stale and the current run. */
async function reclaimed(id: string): Promise<{ stale: string; current: string }> {
  const stale = await running(id, { timeout: 1 });
  t.clock.advance(2000);
  const [again] = (await jsonOf(next())) as Existing[];
  return { stale, current: again?.run_id as string };
}

describe('POST /v2/queues/jobs', () => {
  it('enqueues every job with 202 and an empty body', async () => {
    const res = await enqueue([job('a'), job('b')], 'unique');

    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    expect(await t.api.store.get('q', 'a')).toBeDefined();
    expect(await t.api.store.get('q', 'b')).toBeDefined();
  });

  it('answers 409 in unique mode when an id exists and rejects the whole batch', async () => {
    await enqueue([job('b')]);

    const res = await enqueue([job('a'), job('b', { payload: 'second' }), job('c')], 'unique');

    expect(res.status).toBe(409);
    expect(await res.text()).toBe('job with id `b` already exists in queue `q`.');
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
    expect(await t.api.store.get('q', 'c')).toBeUndefined();
    expect((await t.api.store.get('q', 'b'))?.payload).toEqual({ n: 'b' });
  });

  it('answers 409 in unique mode when the batch names one id twice', async () => {
    const res = await enqueue([job('a'), job('a')], 'unique');

    expect(res.status).toBe(409);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });

  it('treats a missing or unknown mode as unique', async () => {
    await enqueue([job('a')]);

    const missing = await enqueue([job('a')]);
    const unknown = await enqueue([job('a')], 'IGNORE');

    expect([missing.status, unknown.status]).toEqual([409, 409]);
  });

  it('keeps existing jobs and adds the new ones in ignore mode', async () => {
    await enqueue([job('a', { state: 'old' })]);

    const res = await enqueue([job('a', { state: 'new' }), job('b')], 'ignore');

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.state).toBe('old');
    expect(await t.api.store.get('q', 'b')).toBeDefined();
  });

  it('overwrites a waiting job in replace mode', async () => {
    await enqueue([job('a', { state: 'old', timeout: 30 })]);

    const res = await enqueue([job('a', { state: 'new', timeout: 60 })], 'replace');

    expect(res.status).toBe(202);
    expect(await getJob('a')).toMatchObject({ state: 'new', timeout: 60 });
  });

  it('takes an in-flight job out of flight in replace mode: run_id cleared, created_at kept', async () => {
    await running('a', { state: 'old' });
    const before = await getJob('a');
    t.clock.advance(5000);

    const res = await enqueue([job('a', { state: 'new' })], 'replace');

    expect(res.status).toBe(202);
    const after = await getJob('a');
    expect(after).toMatchObject({ run_id: null, state: 'new', created_at: before.created_at });
    expect(after.updated_at).toBe(new Date(t.clock.now).toISOString());
    expect((await t.api.store.get('q', 'a'))?.status).toBe('pending');
  });

  it("fences out the replaced job's run: its heartbeat then answers 404", async () => {
    const runId = await running('a');
    await enqueue([job('a')], 'replace');

    const res = await heartbeat('a', runId, 'late');

    expect(res.status).toBe(404);
  });

  it('stores max_retries null as unlimited, and state and run_at null as none', async () => {
    const res = await enqueue([job('a', { max_retries: null, state: null, run_at: null })]);

    expect(res.status).toBe(202);
    expect(await getJob('a')).toMatchObject({
      max_retries: null,
      retries_remaining: null,
      state: null,
      run_at: new Date(t.clock.now).toISOString(),
    });
  });

  it('reads run_at with any UTC offset', async () => {
    await enqueue([job('a', { run_at: '2026-01-01T02:00:00.5+02:00' })]);

    expect((await getJob('a')) as unknown).toMatchObject({ run_at: '2026-01-01T00:00:00.500Z' });
  });

  it('honours priority, which relay clients never send, and shows it in the native view', async () => {
    await enqueue([job('plain'), job('urgent', { priority: 9 }), job('soon', { priority: 5 })]);

    const claimedIds = (await jsonOf(next('?num_jobs=3'))).map((j: Existing) => j.id);
    const status = await jsonOf(t.api.fetch('/v1/queues/q/jobs/urgent/status'));

    expect(claimedIds).toEqual(['urgent', 'soon', 'plain']);
    expect(status).toMatchObject({ id: 'urgent', priority: 9 });
  });

  it('accepts a timeout over 12 h, up to the largest int32', async () => {
    const res = await enqueue([job('day', { timeout: 86_400 }), job('longest', { timeout: 2 ** 31 - 1 })]);

    expect(res.status).toBe(202);
    expect(await getJob('day')).toMatchObject({ timeout: 86_400 });
    expect(await getJob('longest')).toMatchObject({ timeout: 2 ** 31 - 1 });
  });

  it('answers 422 to a timeout beyond int32', async () => {
    const res = await enqueue([job('a', { timeout: 2 ** 31 })]);

    expect(res.status).toBe(422);
  });

  it('answers 422 to a negative timeout', async () => {
    const res = await enqueue([job('a', { timeout: -1 })]);

    expect(res.status).toBe(422);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });

  it('answers 422 to a max_retries beyond 32767', async () => {
    const res = await enqueue([job('a', { max_retries: 40_000 })]);

    expect(res.status).toBe(422);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });

  it('answers 422 to a single object instead of an array', async () => {
    const res = await t.api.send('POST', '/v2/queues/jobs', job('a'));

    expect(res.status).toBe(422);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });
});

describe('GET /v2/queues/{queue}/jobs (claim)', () => {
  it("returns exactly relay's Existing fields, in its order", async () => {
    await enqueue([job('a', { state: { s: 1 } })]);
    t.clock.advance(1000);

    const res = await next();

    expect(res.status).toBe(200);
    const [claimed] = await jsonOf(res);
    expect(Object.keys(claimed)).toEqual([
      'queue',
      'id',
      'timeout',
      'max_retries',
      'retries_remaining',
      'payload',
      'state',
      'run_id',
      'run_at',
      'updated_at',
      'created_at',
    ]);
    expect(claimed).toEqual({
      queue: 'q',
      id: 'a',
      timeout: 30,
      max_retries: 3,
      retries_remaining: 3,
      payload: { n: 'a' },
      state: { s: 1 },
      run_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      run_at: new Date(t.clock.now - 1000).toISOString(),
      updated_at: new Date(t.clock.now).toISOString(),
      created_at: new Date(t.clock.now - 1000).toISOString(),
    });
  });

  it('claims one job by default', async () => {
    await enqueue([job('a'), job('b')]);

    const body = await jsonOf(next());

    expect(body.map((j: Existing) => j.id)).toEqual(['a']);
  });

  it('claims up to num_jobs jobs', async () => {
    await enqueue([job('a'), job('b'), job('c')]);

    const body = await jsonOf(next('?num_jobs=2'));

    expect(body.map((j: Existing) => j.id)).toEqual(['a', 'b']);
  });

  it.each(['unique', 'ignore', 'replace'])(
    'hands out the jobs of one %s batch in array order',
    async (mode) => {
      const ids = Array.from({ length: 12 }, (_, i) => `j${i}`);
      await enqueue(
        ids.map((id) => job(id)),
        mode,
      );

      const body = await jsonOf(next('?num_jobs=12'));

      expect(body.map((j: Existing) => j.id)).toEqual(ids);
    },
  );

  it('answers 204 with an empty body when no job is due', async () => {
    const res = await next();

    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('serves num_jobs over 100 with 100 jobs, in order, and the rest to the next claim', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `j${String(i).padStart(3, '0')}`);
    await enqueue(ids.map((id) => job(id)));

    const first = await jsonOf(next('?num_jobs=128'));
    const rest = await jsonOf(next('?num_jobs=28'));

    expect(first.map((j: Existing) => j.id)).toEqual(ids.slice(0, 100));
    expect(rest.map((j: Existing) => j.id)).toEqual(['j100']);
  });

  it.each(['0', '-1', 'x', '1.5', ''])('answers 400 to num_jobs=%j', async (value) => {
    await enqueue([job('a')]);

    const res = await next(`?num_jobs=${value}`);

    expect(res.status).toBe(400);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('pending');
  });
});

describe('HEAD and GET /v2/queues/{queue}/jobs/{id}', () => {
  it('answers HEAD with 200 for a live job and 404 for an unknown one', async () => {
    await enqueue([job('a')]);

    const live = await t.api.fetch('/v2/queues/q/jobs/a', { method: 'HEAD' });
    const unknown = await t.api.fetch('/v2/queues/q/jobs/ghost', { method: 'HEAD' });

    expect([live.status, unknown.status]).toEqual([200, 404]);
  });

  it('shows the run id of an in-flight job', async () => {
    const runId = await running('a');

    expect((await getJob('a')).run_id).toBe(runId);
  });

  it('shows run_id null for a waiting job', async () => {
    await enqueue([job('a')]);

    expect((await getJob('a')).run_id).toBeNull();
  });

  it('answers GET with 404 and an empty body for an unknown job', async () => {
    const res = await t.api.fetch('/v2/queues/q/jobs/ghost');

    expect(res.status).toBe(404);
    expect(await res.text()).toBe('');
  });

  it('answers 404 for a completed job', async () => {
    const runId = await running('a');
    await complete('a', runId);

    const res = await t.api.fetch('/v2/queues/q/jobs/a');

    expect(res.status).toBe(404);
  });
});

describe('PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id} (heartbeat)', () => {
  it('replaces the state of the current run and answers 202', async () => {
    const runId = await running('a');

    const res = await heartbeat('a', runId, { step: 2 });

    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    expect((await getJob('a')).state).toEqual({ step: 2 });
  });

  it('clears the state when there is no body', async () => {
    const runId = await running('a', { state: 'old' });

    const res = await heartbeat('a', runId);

    expect(res.status).toBe(202);
    expect((await getJob('a')).state).toBeNull();
  });

  it('accepts the run id in upper case', async () => {
    const runId = await running('a');

    const res = await heartbeat('a', runId.toUpperCase(), 'beat');

    expect(res.status).toBe(202);
  });

  it('answers 404 ending "with <run_id>." when the run is stale, leaving the current run alone', async () => {
    const { stale, current } = await reclaimed('a');

    const res = await heartbeat('a', stale, 'stale');

    expect(res.status).toBe(404);
    expect(await res.text()).toBe(`job with id \`a\` not found in queue \`q\` with ${stale}.`);
    expect(await getJob('a')).toMatchObject({ run_id: current, state: null });
  });

  it('answers 404 ending "with <run_id>." for a job that is not in flight', async () => {
    await enqueue([job('a')]);
    const runId = randomUUID();

    const res = await heartbeat('a', runId);

    expect(res.status).toBe(404);
    expect(await res.text()).toBe(`job with id \`a\` not found in queue \`q\` with ${runId}.`);
  });

  it('answers 400 to a run id that is not a UUID', async () => {
    await running('a');

    const res = await heartbeat('a', 'not-a-uuid', 'x');

    expect(res.status).toBe(400);
    expect(await res.text()).toContain('run_id');
  });
});

describe('DELETE /v2/queues/{queue}/jobs/{id}/run-id/{run_id} (complete)', () => {
  it('completes the current run with 200 and an empty body', async () => {
    const runId = await running('a');

    const res = await complete('a', runId);

    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect((await t.api.store.get('q', 'a'))?.status).toBe('completed');
  });

  it('answers 200 again when the run already completed', async () => {
    const runId = await running('a');
    await complete('a', runId);

    const res = await complete('a', runId);

    expect(res.status).toBe(200);
  });

  it('answers 200 for an unknown job', async () => {
    const res = await complete('ghost', randomUUID());

    expect(res.status).toBe(200);
  });

  it('does not complete the new run when called with a stale run id', async () => {
    const { stale, current } = await reclaimed('a');

    const res = await complete('a', stale);

    expect(res.status).toBe(200);
    expect(await t.api.store.get('q', 'a')).toMatchObject({ status: 'running', run_id: current });
  });

  it('answers 400 to a run id that is not a UUID', async () => {
    await running('a');

    const res = await complete('a', '1234');

    expect(res.status).toBe(400);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('running');
  });
});

describe('DELETE /v2/queues/{queue}/jobs/{id}', () => {
  it('deletes a waiting job with 200', async () => {
    await enqueue([job('a')]);

    const res = await t.api.fetch('/v2/queues/q/jobs/a', { method: 'DELETE' });

    expect(res.status).toBe(200);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });

  it('deletes an in-flight job with 200', async () => {
    await running('a');

    const res = await t.api.fetch('/v2/queues/q/jobs/a', { method: 'DELETE' });

    expect(res.status).toBe(200);
    expect(await t.api.store.get('q', 'a')).toBeUndefined();
  });

  it('answers 200 for an unknown job', async () => {
    const res = await t.api.fetch('/v2/queues/q/jobs/ghost', { method: 'DELETE' });

    expect(res.status).toBe(200);
  });
});

describe('PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id} (requeue)', () => {
  it('requeues the job under its own id as a fresh, waiting job', async () => {
    const runId = await running('a', { max_retries: 3, timeout: 1 });
    const before = await getJob('a');
    t.clock.advance(5000);

    const res = await requeue('a', runId, [job('a', { payload: 'next step', state: 's', max_retries: 5 })]);

    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const after = await getJob('a');
    expect(after).toMatchObject({
      payload: 'next step',
      state: 's',
      run_id: null,
      retries_remaining: 5,
    });
    expect(Date.parse(after.created_at)).toBeGreaterThan(Date.parse(before.created_at));
    expect((await t.api.store.get('q', 'a'))?.status).toBe('pending');
  });

  it('fans out to other ids and ends the run', async () => {
    const runId = await running('a');

    const res = await requeue('a', runId, [job('b'), job('c', { queue: 'other' })]);

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('completed');
    expect((await t.api.store.get('q', 'b'))?.status).toBe('pending');
    expect((await t.api.store.get('other', 'c'))?.status).toBe('pending');
  });

  it('acts as complete when given an empty array', async () => {
    const runId = await running('a');

    const res = await requeue('a', runId, []);

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('completed');
  });

  it('answers 202 and changes nothing when the run is stale', async () => {
    const { stale, current } = await reclaimed('a');

    const res = await requeue('a', stale, [job('a', { payload: 'stale' }), job('b')]);

    expect(res.status).toBe(202);
    expect(await t.api.store.get('q', 'a')).toMatchObject({
      status: 'running',
      run_id: current,
      payload: { n: 'a' },
    });
    expect(await t.api.store.get('q', 'b')).toBeUndefined();
  });

  it('answers 202 and enqueues nothing when the job is gone', async () => {
    const res = await requeue('ghost', randomUUID(), [job('b')]);

    expect(res.status).toBe(202);
    expect(await t.api.store.get('q', 'b')).toBeUndefined();
  });

  it('answers 409 in unique mode when a target id exists, leaving the original in flight', async () => {
    const runId = await running('a');
    await enqueue([job('b', { payload: 'existing' })]);

    const res = await requeue('a', runId, [job('c'), job('b', { payload: 'new' })], 'unique');

    expect(res.status).toBe(409);
    expect(await res.text()).toBe('job with id `b` already exists in queue `q`.');
    expect(await t.api.store.get('q', 'a')).toMatchObject({ status: 'running', run_id: runId });
    expect((await t.api.store.get('q', 'b'))?.payload).toBe('existing');
    expect(await t.api.store.get('q', 'c')).toBeUndefined();
  });

  it('skips existing target ids in ignore mode', async () => {
    const runId = await running('a');
    await enqueue([job('b', { payload: 'existing' })]);

    const res = await requeue('a', runId, [job('b', { payload: 'new' }), job('c')], 'ignore');

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('completed');
    expect((await t.api.store.get('q', 'b'))?.payload).toBe('existing');
    expect(await t.api.store.get('q', 'c')).toBeDefined();
  });

  it('overwrites existing target ids in replace mode', async () => {
    const runId = await running('a');
    await enqueue([job('b', { payload: 'existing' })]);

    const res = await requeue('a', runId, [job('b', { payload: 'new' })], 'replace');

    expect(res.status).toBe(202);
    expect((await t.api.store.get('q', 'b'))?.payload).toBe('new');
  });

  it('answers 422 to more jobs than one transaction can hold, changing nothing', async () => {
    const runId = await running('a');
    const many = Array.from({ length: 100 }, (_, i) => job(`f${i}`));

    const res = await requeue('a', runId, many);

    expect(res.status).toBe(422);
    expect(await t.api.store.get('q', 'a')).toMatchObject({ status: 'running', run_id: runId });
    expect(await t.api.store.get('q', 'f0')).toBeUndefined();
  });

  it('answers 400 to a run id that is not a UUID', async () => {
    await running('a');

    const res = await requeue('a', 'nope', [job('a')]);

    expect(res.status).toBe(400);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('running');
  });
});

/**
 * relay-sdk-go's request sequences, replayed: its suite enqueues with `run_at` set to the time
 * truncated to the microsecond and compares every `Existing` job it reads back field by field; its
 * poller asks for as many jobs as it has idle workers (the CPU count by default).
 */
describe('replayed relay-sdk-go client', () => {
  /** `ms` as Go's `time.Time.Truncate(time.Microsecond)` marshals it (RFC 3339, nano, trimmed). */
  const micros = (ms: number) => `${new Date(ms).toISOString().slice(0, -1)}283Z`;
  const exists = async (id: string) =>
    (await t.api.fetch(`/v2/queues/q/jobs/${id}`, { method: 'HEAD' })).status;
  const sdkJob = (id: string, extra: Record<string, unknown> = {}) =>
    job(id, { max_retries: null, payload: 3, state: null, ...extra });

  it('one-shot job: run_at comes back to the microsecond from get and from next, then completes', async () => {
    const now = micros(t.clock.now - 5);
    expect((await enqueue([sdkJob('a', { run_at: now })], 'unique')).status).toBe(202);
    expect(await exists('a')).toBe(200);

    const got = await getJob('a');
    const [claimed] = (await jsonOf(next('?num_jobs=10'))) as (Existing & { run_at: string })[];
    const completed = await complete('a', claimed?.run_id as string);

    expect(got).toMatchObject({ run_at: now, max_retries: null, retries_remaining: null, run_id: null });
    expect(claimed).toMatchObject({ id: 'a', run_at: now, payload: 3, state: null });
    expect(completed.status).toBe(200);
    expect(await exists('a')).toBe(404);
  });

  it('requeue of a singleton: the next run_at, to the microsecond, is kept and waited for', async () => {
    const runId = await running('a', { max_retries: null });
    const nextRun = micros(t.clock.now + 60_000);

    expect((await requeue('a', runId, [sdkJob('a', { run_at: nextRun })], 'replace')).status).toBe(202);
    const early = await next();
    t.clock.advance(60_001);
    const [due] = (await jsonOf(next())) as (Existing & { run_at: string })[];

    expect(early.status).toBe(204);
    expect(due).toMatchObject({ id: 'a', run_at: nextRun });
  });

  it('keeps run_at as given when an expired run returns to waiting', async () => {
    const runAt = micros(t.clock.now - 5);
    await enqueue([sdkJob('a', { run_at: runAt, timeout: 1 })]);
    await next();
    t.clock.advance(2000);
    await t.api.store.sweep();

    expect(await getJob('a')).toMatchObject({ run_id: null, run_at: runAt });
  });

  it('a poller with 128 idle workers gets 100 jobs, then the 28 it still asks for', async () => {
    const ids = Array.from({ length: 128 }, (_, i) => `j${String(i).padStart(3, '0')}`);
    await enqueue(ids.map((id) => sdkJob(id)));

    const first = (await jsonOf(next('?num_jobs=128'))) as Existing[];
    const second = (await jsonOf(next(`?num_jobs=${128 - first.length}`))) as Existing[];

    expect(first.map((j) => j.id)).toEqual(ids.slice(0, 100));
    expect(second.map((j) => j.id)).toEqual(ids.slice(100));
  });

  it('a job with a lease of a year is held through a day without heartbeats', async () => {
    const runId = await running('a', { timeout: 365 * 86_400 });
    t.clock.advance(86_400_000);
    await t.api.store.sweep();

    const beat = await heartbeat('a', runId, { step: 2 });

    expect(beat.status).toBe(202);
    expect((await next()).status).toBe(204);
  });

  it("a mixed fleet: a producer's priority 9 job is claimed before the SDK's earlier ones", async () => {
    await enqueue([sdkJob('first'), sdkJob('second')]);
    await enqueue([sdkJob('urgent', { priority: 9 })]);

    const [first] = (await jsonOf(next())) as Existing[];

    expect(first?.id).toBe('urgent');
  });
});
