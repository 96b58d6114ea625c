/**
 * Queue control over real HTTP: pause and resume on every claim route (relay-rs v1, seed, v2),
 * the queue list and stats, the aging setting, rate limits on every claim route, and the named
 * priority levels on every route that takes a job.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';
import { relayV1Job, relayV2Job } from './support/jobs.ts';

const t = apiPerTest();

const post = (path: string) => t.api.fetch(path, { method: 'POST' });
const create = (body: Record<string, unknown>) => t.api.send('POST', '/v1/jobs', body);

/** Every route a worker claims from, each as it answers when the queue has nothing due. */
const CLAIMS: Record<string, string> = {
  'relay-rs v1': '/v1/queues/q/jobs?num_jobs=5',
  'seed /next (one job)': '/next?queue=q',
  'seed /v1/next (array)': '/v1/next?queue=q&num_jobs=5',
  'relay v2': '/v2/queues/q/jobs?num_jobs=5',
};

describe('POST /v1/queues/{queue}/pause and /resume', () => {
  it('pauses a queue and shows it paused, with when', async () => {
    const res = await post('/v1/queues/q/pause');

    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body).toMatchObject({ name: 'q', paused: true, aging_seconds_per_level: null });
    expect(new Date(body.paused_at).getTime()).toBe(t.clock.now);
  });

  it('accepts enqueues while paused', async () => {
    await post('/v1/queues/q/pause');

    expect((await create({ queue: 'q', id: 'a', payload: 1 })).status).toBe(201);
    expect(await jsonOf(t.api.fetch('/v1/queues/q/stats'))).toMatchObject({
      queue: 'q',
      paused: true,
      pending: 1,
    });
  });

  it.each(Object.keys(CLAIMS))(
    'answers the %s claim as an empty queue while paused, and hands out after resume',
    async (route) => {
      const path = CLAIMS[route] ?? '';
      await create({ queue: 'q', id: 'a', payload: 1 });
      await post('/v1/queues/q/pause');

      const paused = await t.api.fetch(path);
      expect(paused.status).toBe(204);
      expect(await paused.text()).toBe('');

      expect((await jsonOf(post('/v1/queues/q/resume'))).paused).toBe(false);
      const resumed = await t.api.fetch(path);
      expect(resumed.status).toBe(200);
      expect(JSON.stringify(await resumed.json())).toContain('"id":"a"');
    },
  );

  it('shows paused and running queues in GET /v1/queues', async () => {
    await create({ queue: 'a', id: '1', payload: 1 });
    await create({ queue: 'b', id: '1', payload: 1 });
    await post('/v1/queues/b/pause');

    const { queues } = await jsonOf(t.api.fetch('/v1/queues'));

    expect(queues).toMatchObject([
      { name: 'a', paused: false, paused_at: null, pending: 1 },
      { name: 'b', paused: true, pending: 1 },
    ]);
  });

  it('answers a second pause with the first pause time', async () => {
    const first = await jsonOf(post('/v1/queues/q/pause'));
    t.clock.advance(1_000);
    expect(await jsonOf(post('/v1/queues/q/pause'))).toEqual(first);
  });
});

describe('PUT /v1/queues/{queue}/settings', () => {
  it('sets and clears the aging rate', async () => {
    const set = await t.api.send('PUT', '/v1/queues/q/settings', { aging_seconds_per_level: 30 });
    expect(set.status).toBe(200);
    expect(await jsonOf(set)).toMatchObject({ name: 'q', aging_seconds_per_level: 30 });
    expect(await jsonOf(t.api.fetch('/v1/queues/q/settings'))).toMatchObject({ aging_seconds_per_level: 30 });

    const cleared = await t.api.send('PUT', '/v1/queues/q/settings', { aging_seconds_per_level: null });
    expect(await jsonOf(cleared)).toMatchObject({ aging_seconds_per_level: null });
  });

  it.each([0, -1, 86_401, 'fast'])('answers 422 to aging_seconds_per_level %j', async (value) => {
    const res = await t.api.send('PUT', '/v1/queues/q/settings', { aging_seconds_per_level: value });
    expect(res.status).toBe(422);
  });

  it('answers 422 to an unknown setting', async () => {
    const res = await t.api.send('PUT', '/v1/queues/q/settings', {
      aging_seconds_per_level: 1,
      paused: true,
    });
    expect(res.status).toBe(422);
  });
});

describe('PUT /v1/queues/{queue}/limits', () => {
  it('sets, shows and clears the rate limit, here and in the queue list and stats', async () => {
    const set = await t.api.send('PUT', '/v1/queues/q/limits', { rate_per_second: 5, burst: 10 });
    expect(set.status).toBe(200);
    expect(await jsonOf(set)).toEqual({ queue: 'q', rate_per_second: 5, burst: 10, max_running: null });
    expect(await jsonOf(t.api.fetch('/v1/queues/q/limits'))).toEqual({
      queue: 'q',
      rate_per_second: 5,
      burst: 10,
      max_running: null,
    });
    expect(await jsonOf(t.api.fetch('/v1/queues/q/stats'))).toMatchObject({ rate_per_second: 5, burst: 10 });
    expect((await jsonOf(t.api.fetch('/v1/queues'))).queues).toMatchObject([
      { name: 'q', rate_per_second: 5 },
    ]);

    // A burst cleared falls back to one second of the rate; a rate cleared lifts the limit.
    expect(await jsonOf(t.api.send('PUT', '/v1/queues/q/limits', { burst: null }))).toMatchObject({
      burst: 5,
    });
    const cleared = await t.api.send('PUT', '/v1/queues/q/limits', { rate_per_second: null });
    expect(await jsonOf(cleared)).toEqual({
      queue: 'q',
      rate_per_second: null,
      burst: null,
      max_running: null,
    });
  });

  it('shows no limit on a queue never used', async () => {
    expect(await jsonOf(t.api.fetch('/v1/queues/new/limits'))).toEqual({
      queue: 'new',
      rate_per_second: null,
      burst: null,
      max_running: null,
    });
  });

  it('sets max_running, and a claim with every slot taken answers 204 with Retry-After', async () => {
    for (const id of ['a', 'b']) await create({ queue: 'q', id, payload: 1 });
    const set = await t.api.send('PUT', '/v1/queues/q/limits', { max_running: 1 });
    expect(await jsonOf(set)).toEqual({ queue: 'q', rate_per_second: null, burst: null, max_running: 1 });

    const [first] = await jsonOf(t.api.fetch('/v2/queues/q/jobs?num_jobs=2'));
    const full = await t.api.fetch('/v2/queues/q/jobs?num_jobs=2');
    expect(full.status).toBe(204);
    expect(full.headers.get('retry-after')).toBe('1');

    await t.api.fetch(`/v2/queues/q/jobs/${first.id}/run-id/${first.run_id}`, { method: 'DELETE' });
    expect((await t.api.fetch('/v2/queues/q/jobs?num_jobs=2')).status).toBe(200);
    expect(await jsonOf(t.api.fetch('/v1/queues/q/stats'))).toMatchObject({ max_running: 1, running: 1 });
  });

  it.each([
    {},
    { rate_per_second: 0 },
    { rate_per_second: -1 },
    { rate_per_second: 10_001 },
    { rate_per_second: 'fast' },
    { burst: 0 },
    { burst: 1.5 },
    { rate_per_second: 1, concurrency: 2 },
    { max_running: 0 },
    { max_running: 2.5 },
    { max_running: 1001 },
  ])('answers 422 to %j', async (body) => {
    const res = await t.api.send('PUT', '/v1/queues/q/limits', body);
    expect(res.status).toBe(422);
  });

  it.each(Object.keys(CLAIMS))(
    'answers the %s claim over the rate as an empty queue with Retry-After',
    async (route) => {
      const path = CLAIMS[route] ?? '';
      for (const id of ['a', 'b']) await create({ queue: 'q', id, payload: 1 });
      await t.api.send('PUT', '/v1/queues/q/limits', { rate_per_second: 0.5, burst: 1 });

      expect((await t.api.fetch(path)).status).toBe(200);
      const limited = await t.api.fetch(path);
      expect(limited.status).toBe(204);
      expect(limited.headers.get('retry-after')).toBe('2');
      expect(await limited.text()).toBe('');

      t.clock.advance(2_000);
      expect((await t.api.fetch(path)).status).toBe(200);
    },
  );

  it('answers an empty queue with no Retry-After', async () => {
    await t.api.send('PUT', '/v1/queues/q/limits', { rate_per_second: 1 });
    const res = await t.api.fetch(CLAIMS['relay v2'] ?? '');
    expect(res.status).toBe(204);
    expect(res.headers.get('retry-after')).toBeNull();
  });
});

describe('named priority levels', () => {
  it('stores critical, high, medium and low as 2, 1, 0 and -1, and claims them in that order', async () => {
    for (const level of ['low', 'medium', 'critical', 'high']) {
      await create({ queue: 'q', id: level, payload: 1, priority: level });
    }
    expect(await jsonOf(t.api.fetch('/v1/queues/q/jobs/critical/status'))).toMatchObject({ priority: 2 });

    const claimed = await jsonOf(t.api.fetch('/v2/queues/q/jobs?num_jobs=4'));

    expect(claimed.map((job: { id: string }) => job.id)).toEqual(['critical', 'high', 'medium', 'low']);
  });

  it('accepts them on the relay-rs v1, seed and v2 routes', async () => {
    expect(
      (await t.api.send('POST', '/v1/queues/jobs', [relayV1Job('v1', { priority: 'high' })])).status,
    ).toBe(202);
    expect(
      (await t.api.send('POST', '/enqueue', relayV1Job('seed', { priority: 'low' }))).status,
    ).toBeLessThan(300);
    expect(
      (await t.api.send('POST', '/v2/queues/jobs', [relayV2Job('v2', { priority: 'critical' })])).status,
    ).toBe(202);

    expect((await t.api.store.get('q', 'v1'))?.priority).toBe(1);
    expect((await t.api.store.get('q', 'seed'))?.priority).toBe(-1);
    expect((await t.api.store.get('q', 'v2'))?.priority).toBe(2);
  });

  it('answers 422 to a level it does not know', async () => {
    expect((await create({ queue: 'q', payload: 1, priority: 'urgent' })).status).toBe(422);
  });
});
