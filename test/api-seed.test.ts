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
});
