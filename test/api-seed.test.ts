/**
 * relay-rs's seed routes (`/enqueue`, `/next`, `/heartbeat`, `/complete`, `/reschedule`), which its
 * README documents under `/v1` and its code mounts bare: both are served, with the same behaviour.
 * What they share with the v1 routes is tested on both in api-relay-rs.test.ts; here is what only
 * the seed routes do: a job object rather than an array, and their query parameters.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';
import { relayV1Job as job } from './support/jobs.ts';

const t = apiPerTest();

describe.each(['', '/v1'])('seed routes under "%s"', (prefix) => {
  const enqueue = (body: unknown) => t.api.send('POST', `${prefix}/enqueue`, body);
  const next = (query = '?queue=q') => t.api.fetch(`${prefix}/next${query}`);

  describe('POST /enqueue', () => {
    it('accepts persist_data and ignores it', async () => {
      const res = await enqueue(job('a', { persist_data: true }));

      expect(res.status).toBe(202);
      expect(await t.api.store.get('q', 'a')).toBeDefined();
    });

    it('returns 422 for an array body', async () => {
      const res = await enqueue([job('a')]);

      expect(res.status).toBe(422);
      expect(await t.api.store.get('q', 'a')).toBeUndefined();
    });
  });

  describe('POST /enqueue/batch', () => {
    it('returns 202 for a single-job array whose id exists', async () => {
      await enqueue(job('a'));

      const res = await t.api.send('POST', `${prefix}/enqueue/batch`, [job('a')]);

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
      expect((await t.api.store.get('q', 'a'))?.status).toBe('running');
      expect((await t.api.store.get('q', 'b'))?.status).toBe('pending');
    });

    it('returns an array of one for num_jobs=1', async () => {
      await enqueue(job('a'));

      const body = await jsonOf(next('?queue=q&num_jobs=1'));

      expect(body).toMatchObject([{ id: 'a' }]);
    });

    it('answers 400 without a queue', async () => {
      const res = await next('');

      expect(res.status).toBe(400);
    });
  });

  describe('PATCH /heartbeat', () => {
    it('answers 400 without job_id', async () => {
      const res = await t.api.fetch(`${prefix}/heartbeat?queue=q`, { method: 'PATCH' });

      expect(res.status).toBe(400);
    });
  });

  describe('DELETE /complete', () => {
    it('answers 400 without a queue', async () => {
      const res = await t.api.fetch(`${prefix}/complete?job_id=a`, { method: 'DELETE' });

      expect(res.status).toBe(400);
    });
  });

  /**
   * relay-client-go v0.6's request sequences, replayed: single-job `/enqueue`, a poller asking
   * `/next` for as many jobs as it has idle workers, and `/complete` with its query written by
   * `url.Values` (keys sorted), which the consumer sends after each job when autocomplete is on and
   * whose failure ends the process.
   */
  describe('replayed relay-client-go v0.6 consumer', () => {
    const poll = (numJobs: number) => next(`?queue=q&num_jobs=${numJobs}`);
    const complete = (id: string) =>
      t.api.fetch(`${prefix}/complete?job_id=${id}&queue=q`, { method: 'DELETE' });
    const ids = async (res: Response) => ((await jsonOf(res)) as { id: string }[]).map((j) => j.id);

    it('completing a job whose lease expired meanwhile answers 200, and the poller goes on', async () => {
      await enqueue(job('a', { timeout: 1, updated_at: null }));
      await poll(1);
      t.clock.advance(2000);
      await t.api.store.sweep();

      const completed = await complete('a');

      expect(completed.status).toBe(200);
      expect(await completed.text()).toBe('');
      expect((await poll(1)).status).toBe(204);
    });

    it('a poller with 128 idle workers gets 100 jobs, then the 28 it still asks for', async () => {
      const all = Array.from({ length: 128 }, (_, i) => `j${String(i).padStart(3, '0')}`);
      await t.api.send(
        'POST',
        `${prefix}/enqueue/batch`,
        all.map((id) => job(id)),
      );

      const first = await ids(await poll(128));
      const second = await ids(await poll(128 - first.length));

      expect(first).toEqual(all.slice(0, 100));
      expect(second).toEqual(all.slice(100));
    });

    it('run_at comes back from /next to the microsecond', async () => {
      const runAt = `${new Date(t.clock.now - 1000).toISOString().slice(0, -1)}283Z`;
      await enqueue(job('a', { run_at: runAt, updated_at: null }));

      const [polled] = await jsonOf(poll(1));

      expect(polled.run_at).toBe(runAt);
    });
  });
});
