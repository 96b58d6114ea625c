/**
 * relay-rs's seed routes (`/enqueue`, `/next`, `/heartbeat`, `/complete`, `/reschedule`), which its
 * README documents under `/v1` and its code mounts bare: both are served, with the same behaviour.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonOf, startTestApi, type TestApi } from './support/api.ts';
import { TestClock } from './support/store.ts';

const job = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  queue: 'q',
  timeout: 30,
  payload: { n: id },
  ...extra,
});

let clock: TestClock;
let api: TestApi;

beforeEach(async () => {
  clock = new TestClock();
  api = await startTestApi({ clock: clock.read });
});

afterEach(async () => {
  await api.dispose();
});

describe.each(['', '/v1'])('seed routes under "%s"', (prefix) => {
  const enqueue = (body: unknown) => api.send('POST', `${prefix}/enqueue`, body);
  const next = (query = '?queue=q') => api.fetch(`${prefix}/next${query}`);
  const heartbeat = (query: string, state?: unknown) =>
    state === undefined
      ? api.fetch(`${prefix}/heartbeat${query}`, { method: 'PATCH' })
      : api.send('PATCH', `${prefix}/heartbeat${query}`, state);
  const complete = (query: string) => api.fetch(`${prefix}/complete${query}`, { method: 'DELETE' });

  async function claimed(id: string) {
    await enqueue(job(id));
    const res = await next();
    expect(res.status).toBe(200);
  }

  describe('POST /enqueue', () => {
    it('accepts a single job object with 202 and an empty body', async () => {
      const res = await enqueue(job('a', { state: 's' }));

      expect(res.status).toBe(202);
      expect(await res.text()).toBe('');
      expect(await api.store.get('q', 'a')).toMatchObject({
        status: 'pending',
        payload: { n: 'a' },
        state: 's',
      });
    });

    it('accepts persist_data and ignores it', async () => {
      const res = await enqueue(job('a', { persist_data: true }));

      expect(res.status).toBe(202);
      expect(await api.store.get('q', 'a')).toBeDefined();
    });

    it("returns 409 with relay-rs's text when the id exists", async () => {
      await enqueue(job('a'));

      const res = await enqueue(job('a', { payload: 'second' }));

      expect(res.status).toBe(409);
      expect(await res.text()).toBe('job with id `a` already exists in queue `q`.');
      expect((await api.store.get('q', 'a'))?.payload).toEqual({ n: 'a' });
    });

    it('returns 422 for an array body', async () => {
      const res = await enqueue([job('a')]);

      expect(res.status).toBe(422);
      expect(await api.store.get('q', 'a')).toBeUndefined();
    });
  });

  describe('POST /enqueue/batch', () => {
    it('enqueues every job of the array with 202, skipping existing ids', async () => {
      await enqueue(job('a', { payload: 'first' }));

      const res = await api.send('POST', `${prefix}/enqueue/batch`, [
        job('a', { payload: 'second' }),
        job('b'),
      ]);

      expect(res.status).toBe(202);
      expect((await api.store.get('q', 'a'))?.payload).toBe('first');
      expect(await api.store.get('q', 'b')).toBeDefined();
    });

    it('returns 202 for a single-job array whose id exists', async () => {
      await enqueue(job('a'));

      const res = await api.send('POST', `${prefix}/enqueue/batch`, [job('a')]);

      expect(res.status).toBe(202);
    });
  });

  describe('GET /next', () => {
    it('returns a single job object when num_jobs is absent', async () => {
      await enqueue(job('a'));
      await enqueue(job('b'));

      const res = await next();

      expect(res.status).toBe(200);
      const body = await jsonOf(res);
      expect(Array.isArray(body)).toBe(false);
      expect(body).toMatchObject({ id: 'a', queue: 'q', payload: { n: 'a' }, state: null });
      expect((await api.store.get('q', 'a'))?.status).toBe('running');
      expect((await api.store.get('q', 'b'))?.status).toBe('pending');
    });

    it('returns an array when num_jobs is given', async () => {
      await enqueue(job('a'));
      await enqueue(job('b'));
      await enqueue(job('c'));

      const res = await next('?queue=q&num_jobs=2');

      expect(res.status).toBe(200);
      expect((await jsonOf(res)).map((j: { id: string }) => j.id)).toEqual(['a', 'b']);
    });

    it('returns an array of one for num_jobs=1', async () => {
      await enqueue(job('a'));

      const body = await jsonOf(next('?queue=q&num_jobs=1'));

      expect(body).toMatchObject([{ id: 'a' }]);
    });

    it('answers 204 with an empty body when no job is due', async () => {
      await enqueue(job('later', { run_at: new Date(clock.now + 60_000).toISOString() }));

      const res = await next();

      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    });

    it('answers 204 when num_jobs is given and no job is due', async () => {
      const res = await next('?queue=q&num_jobs=5');

      expect(res.status).toBe(204);
    });

    it('answers 400 without a queue', async () => {
      const res = await next('');

      expect(res.status).toBe(400);
    });

    it('answers 400 to a num_jobs that is not a number', async () => {
      await enqueue(job('a'));

      const res = await next('?queue=q&num_jobs=many');

      expect(res.status).toBe(400);
      expect((await api.store.get('q', 'a'))?.status).toBe('pending');
    });
  });

  describe('PATCH /heartbeat', () => {
    it('replaces the state of an in-flight job and answers 202', async () => {
      await claimed('a');

      const res = await heartbeat('?queue=q&job_id=a', { step: 2 });

      expect(res.status).toBe(202);
      expect((await api.store.get('q', 'a'))?.state).toEqual({ step: 2 });
    });

    it('clears the state when there is no body', async () => {
      await claimed('a');
      await heartbeat('?queue=q&job_id=a', { step: 2 });

      const res = await heartbeat('?queue=q&job_id=a');

      expect(res.status).toBe(202);
      expect((await api.store.get('q', 'a'))?.state).toBeNull();
    });

    it('clears the state on an empty body sent with Content-Type: application/json (Go client)', async () => {
      await claimed('a');
      await heartbeat('?queue=q&job_id=a', { step: 2 });

      const res = await api.fetch(`${prefix}/heartbeat?queue=q&job_id=a`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
      });

      expect(res.status).toBe(202);
      expect((await api.store.get('q', 'a'))?.state).toBeNull();
    });

    it("answers 404 with relay-rs's text for a job that is not in flight", async () => {
      await enqueue(job('a'));

      const res = await heartbeat('?queue=q&job_id=a', 'x');

      expect(res.status).toBe(404);
      expect(await res.text()).toBe('job with id `a` not found in queue `q`.');
    });

    it('answers 400 without job_id', async () => {
      const res = await heartbeat('?queue=q');

      expect(res.status).toBe(400);
    });
  });

  describe('DELETE /complete', () => {
    it('completes an in-flight job with 200', async () => {
      await claimed('a');

      const res = await complete('?queue=q&job_id=a');

      expect(res.status).toBe(200);
      expect((await api.store.get('q', 'a'))?.status).toBe('completed');
    });

    it('deletes a waiting job with 200', async () => {
      await enqueue(job('a'));

      const res = await complete('?queue=q&job_id=a');

      expect(res.status).toBe(200);
      expect(await api.store.get('q', 'a')).toBeUndefined();
    });

    it('answers 404 for an unknown job', async () => {
      const res = await complete('?queue=q&job_id=ghost');

      expect(res.status).toBe(404);
      expect(await res.text()).toBe('job with id `ghost` not found in queue `q`.');
    });

    it('answers 400 without a queue', async () => {
      const res = await complete('?job_id=a');

      expect(res.status).toBe(400);
    });
  });

  describe('POST /reschedule', () => {
    it('overwrites an in-flight job, takes it out of flight and answers 202', async () => {
      await claimed('a');

      const res = await api.send('POST', `${prefix}/reschedule`, job('a', { payload: 'again', state: 's2' }));

      expect(res.status).toBe(202);
      expect(await api.store.get('q', 'a')).toMatchObject({
        status: 'pending',
        payload: 'again',
        state: 's2',
        run_id: null,
      });
    });

    it("answers 404 with relay-rs's text for a job that is not in flight", async () => {
      await enqueue(job('a'));

      const res = await api.send('POST', `${prefix}/reschedule`, job('a', { payload: 'again' }));

      expect(res.status).toBe(404);
      expect(await res.text()).toBe('job with id `a` not found in queue `q`.');
      expect((await api.store.get('q', 'a'))?.payload).toEqual({ n: 'a' });
    });
  });
});
