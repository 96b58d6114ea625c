/**
 * What relay-rs's two route families for workers have in common, over real HTTP: its v1 RESTful
 * routes and its seed routes (mounted bare and under `/v1`) enqueue, claim, heartbeat, complete and
 * reschedule with the same statuses, bodies and plain-text messages. Every case runs against each
 * family through a table of equivalent requests; what one family alone does is tested in
 * api-relay-v1.test.ts and api-seed.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';
import { relayV1Job as job } from './support/jobs.ts';

type Job = ReturnType<typeof job>;

/** One request: its method, its path (and query) and its JSON body, if any. */
interface Request {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** A route family's request for each worker operation on queue `q`. */
interface Family {
  readonly name: string;
  /** One job, as a request of its own. */
  enqueue(job: Job): Request;
  /** Several jobs in one request, skipping ids that exist. */
  enqueueMany(jobs: Job[]): Request;
  /** Up to `numJobs` due jobs (the family's default, one, without it). */
  claim(numJobs?: string): Request;
  /** Replaces the state of an in-flight job with `state`, or clears it without one. */
  heartbeat(id: string, state?: unknown): Request;
  /** Completes an in-flight job, or deletes a waiting one; 200 also when there is neither. */
  complete(id: string): Request;
  /** Overwrites an in-flight job and takes it out of flight. */
  reschedule(job: Job): Request;
}

const query = (numJobs: string | undefined, separator: string) =>
  numJobs === undefined ? '' : `${separator}num_jobs=${numJobs}`;

const v1: Family = {
  name: 'v1 routes',
  enqueue: (one) => ({ method: 'POST', path: '/v1/queues/jobs', body: [one] }),
  enqueueMany: (jobs) => ({ method: 'POST', path: '/v1/queues/jobs', body: jobs }),
  claim: (numJobs) => ({ method: 'GET', path: `/v1/queues/q/jobs${query(numJobs, '?')}` }),
  heartbeat: (id, state) => ({ method: 'PATCH', path: `/v1/queues/q/jobs/${id}`, body: state }),
  complete: (id) => ({ method: 'DELETE', path: `/v1/queues/q/jobs/${id}` }),
  reschedule: (one) => ({ method: 'PUT', path: '/v1/queues/jobs', body: one }),
};

const seed = (prefix: string): Family => ({
  name: `seed routes under "${prefix}"`,
  enqueue: (one) => ({ method: 'POST', path: `${prefix}/enqueue`, body: one }),
  enqueueMany: (jobs) => ({ method: 'POST', path: `${prefix}/enqueue/batch`, body: jobs }),
  claim: (numJobs) => ({ method: 'GET', path: `${prefix}/next?queue=q${query(numJobs, '&')}` }),
  heartbeat: (id, state) => ({
    method: 'PATCH',
    path: `${prefix}/heartbeat?queue=q&job_id=${id}`,
    body: state,
  }),
  complete: (id) => ({ method: 'DELETE', path: `${prefix}/complete?queue=q&job_id=${id}` }),
  reschedule: (one) => ({ method: 'POST', path: `${prefix}/reschedule`, body: one }),
});

const t = apiPerTest();

/** Sends a request: with a JSON body when it has one, else with none. */
const send = ({ method, path, body }: Request) =>
  body === undefined ? t.api.fetch(path, { method }) : t.api.send(method, path, body);

const stored = (id: string) => t.api.store.get('q', id);

for (const family of [v1, seed(''), seed('/v1')]) {
  describe(family.name, () => {
    const enqueue = (one: Job) => send(family.enqueue(one));

    /** Enqueues a job and claims it. */
    async function claimed(id: string) {
      await enqueue(job(id));
      expect((await send(family.claim())).status).toBe(200);
    }

    describe('enqueue', () => {
      it('accepts a single job with 202 and an empty body', async () => {
        const res = await enqueue(job('a', { state: 's' }));

        expect(res.status).toBe(202);
        expect(await res.text()).toBe('');
        expect(await stored('a')).toMatchObject({ status: 'pending', payload: { n: 'a' }, state: 's' });
      });

      it("answers 409 with relay-rs's plain-text message when the id exists", async () => {
        await enqueue(job('a'));

        const res = await enqueue(job('a', { payload: 'second' }));

        expect(res.status).toBe(409);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(await res.text()).toBe('job with id `a` already exists in queue `q`.');
        expect((await stored('a'))?.payload).toEqual({ n: 'a' });
      });

      it('accepts any int32 timeout, leasing a claimed job for as long as it says', async () => {
        const day = await enqueue(job('day', { timeout: 86_400 }));
        const longest = await enqueue(job('longest', { timeout: 2 ** 31 - 1 }));
        await send(family.claim('2'));

        expect([day.status, longest.status]).toEqual([202, 202]);
        expect(await stored('day')).toMatchObject({
          timeout: 86_400,
          lease_expires_at: t.clock.now + 86_400_000,
        });
        expect(await stored('longest')).toMatchObject({
          lease_expires_at: t.clock.now + (2 ** 31 - 1) * 1000,
        });
      });

      it('honours priority, which relay-rs clients never send, and shows it in the native view', async () => {
        await enqueue(job('plain'));
        await enqueue(job('urgent', { priority: 9 }));
        await enqueue(job('soon', { priority: 5 }));

        const claimedIds = (await jsonOf(send(family.claim('3')))).map((j: { id: string }) => j.id);
        const status = await jsonOf(t.api.fetch('/v1/queues/q/jobs/urgent/status'));

        expect(claimedIds).toEqual(['urgent', 'soon', 'plain']);
        expect(status).toMatchObject({ id: 'urgent', priority: 9 });
      });

      it('answers 422 to a priority that is neither an int32 nor a named level, writing nothing', async () => {
        const res = await enqueue(job('a', { priority: 'urgent' }));
        const huge = await enqueue(job('b', { priority: 2 ** 31 }));

        expect([res.status, huge.status]).toEqual([422, 422]);
        expect(await stored('a')).toBeUndefined();
      });

      it('enqueues several jobs with 202, skipping existing ids', async () => {
        await enqueue(job('a', { payload: 'first' }));

        const res = await send(family.enqueueMany([job('a', { payload: 'second' }), job('b')]));

        expect(res.status).toBe(202);
        expect((await stored('a'))?.payload).toBe('first');
        expect(await stored('b')).toBeDefined();
      });
    });

    describe('claim', () => {
      it('claims up to num_jobs jobs as an array, earliest run_at first', async () => {
        const at = (ms: number) => new Date(t.clock.now - ms).toISOString();
        for (const [id, ago] of [
          ['late', 1000],
          ['early', 5000],
          ['middle', 3000],
        ] as const) {
          await enqueue(job(id, { run_at: at(ago) }));
        }

        const res = await send(family.claim('2'));

        expect(res.status).toBe(200);
        expect((await jsonOf(res)).map((j: { id: string }) => j.id)).toEqual(['early', 'middle']);
        expect((await stored('early'))?.status).toBe('running');
        expect((await stored('late'))?.status).toBe('pending');
      });

      it('hands out run_at to the microsecond, as the client wrote it', async () => {
        const runAt = `${new Date(t.clock.now - 1000).toISOString().slice(0, -1)}009Z`;
        await enqueue(job('a', { run_at: runAt }));

        const [handedOut] = await jsonOf(send(family.claim('1')));

        expect(handedOut.run_at).toBe(runAt);
      });

      it('does not hand out a job before its microseconds are due', async () => {
        await enqueue(job('a', { run_at: `${new Date(t.clock.now).toISOString().slice(0, -1)}001Z` }));

        const early = await send(family.claim());
        t.clock.advance(1);
        const due = await send(family.claim());

        expect([early.status, due.status]).toEqual([204, 200]);
      });

      it('answers 204 with an empty body when no job is due', async () => {
        await enqueue(job('later', { run_at: new Date(t.clock.now + 60_000).toISOString() }));

        const res = await send(family.claim());

        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
      });

      it('answers 204 to num_jobs when no job is due', async () => {
        const res = await send(family.claim('5'));

        expect(res.status).toBe(204);
      });

      it('does not hand out a job that is already in flight', async () => {
        await claimed('a');

        const res = await send(family.claim());

        expect(res.status).toBe(204);
      });

      it('serves num_jobs over 100 with 100 jobs, in order, and the rest to the next claim', async () => {
        const ids = Array.from({ length: 101 }, (_, i) => `j${String(i).padStart(3, '0')}`);
        await send(family.enqueueMany(ids.map((id) => job(id))));

        const first = await jsonOf(send(family.claim('128')));
        const rest = await jsonOf(send(family.claim('28')));

        expect(first.map((j: { id: string }) => j.id)).toEqual(ids.slice(0, 100));
        expect(rest.map((j: { id: string }) => j.id)).toEqual(['j100']);
      });

      it.each(['many', '-1', '1.5', ''])('answers 400 to num_jobs=%j, claiming nothing', async (value) => {
        await enqueue(job('a'));

        const res = await send(family.claim(value));

        expect(res.status).toBe(400);
        expect((await stored('a'))?.status).toBe('pending');
      });
    });

    describe('heartbeat', () => {
      it('replaces the state of an in-flight job and answers 202 with an empty body', async () => {
        await claimed('a');

        const res = await send(family.heartbeat('a', { step: 2 }));

        expect(res.status).toBe(202);
        expect(await res.text()).toBe('');
        expect((await stored('a'))?.state).toEqual({ step: 2 });
      });

      it('clears the state when the heartbeat has no body', async () => {
        await claimed('a');
        await send(family.heartbeat('a', { step: 2 }));

        const res = await send(family.heartbeat('a'));

        expect(res.status).toBe(202);
        expect((await stored('a'))?.state).toBeNull();
      });

      it('clears the state on an empty body sent with Content-Type: application/json (Go client)', async () => {
        await claimed('a');
        await send(family.heartbeat('a', { step: 2 }));
        const { method, path } = family.heartbeat('a');

        const res = await t.api.fetch(path, {
          method,
          headers: { 'content-type': 'application/json' },
          body: '',
        });

        expect(res.status).toBe(202);
        expect((await stored('a'))?.state).toBeNull();
      });

      it("answers 404 with relay-rs's text for a job that is not in flight, keeping its state", async () => {
        await enqueue(job('a', { state: 'untouched' }));

        const res = await send(family.heartbeat('a', 'new'));

        expect(res.status).toBe(404);
        expect(await res.text()).toBe('job with id `a` not found in queue `q`.');
        expect((await stored('a'))?.state).toBe('untouched');
      });
    });

    describe('complete', () => {
      it('completes an in-flight job with 200 and an empty body', async () => {
        await claimed('a');

        const res = await send(family.complete('a'));

        expect(res.status).toBe(200);
        expect(await res.text()).toBe('');
        expect((await stored('a'))?.status).toBe('completed');
      });

      it('deletes a waiting job with 200', async () => {
        await enqueue(job('a'));

        const res = await send(family.complete('a'));

        expect(res.status).toBe(200);
        expect(await stored('a')).toBeUndefined();
      });

      it('answers 200 with an empty body for an unknown job, as relay-rs does', async () => {
        const res = await send(family.complete('ghost'));

        expect(res.status).toBe(200);
        expect(await res.text()).toBe('');
        expect(await stored('ghost')).toBeUndefined();
      });

      it('answers 200 again for a job it already completed, which stays completed', async () => {
        await claimed('a');
        await send(family.complete('a'));

        const res = await send(family.complete('a'));

        expect(res.status).toBe(200);
        expect((await stored('a'))?.status).toBe('completed');
      });

      it('answers 200 for a job cancelled while its worker ran, which stays cancelled', async () => {
        await claimed('a');
        await t.api.fetch('/v1/queues/q/jobs/a/cancel', { method: 'POST' });

        const res = await send(family.complete('a'));

        expect(res.status).toBe(200);
        expect((await stored('a'))?.status).toBe('cancelled');
      });
    });

    describe('reschedule', () => {
      it('overwrites an in-flight job, takes it out of flight and answers 202', async () => {
        await claimed('a');

        const res = await send(family.reschedule(job('a', { payload: 'again', state: 's2' })));

        expect(res.status).toBe(202);
        expect(await stored('a')).toMatchObject({
          status: 'pending',
          payload: 'again',
          state: 's2',
          run_id: null,
        });
      });

      it('forgets a run_at finer than a millisecond when the new content gives another', async () => {
        await enqueue(job('a', { run_at: `${new Date(t.clock.now - 1000).toISOString().slice(0, -1)}009Z` }));
        await send(family.claim());
        const later = new Date(t.clock.now + 60_000).toISOString();

        await send(family.reschedule(job('a', { run_at: later })));

        expect(await jsonOf(t.api.fetch('/v1/queues/q/jobs/a/status'))).toMatchObject({ run_at: later });
        expect((await stored('a'))?.run_at_text).toBeNull();
      });

      it("answers 404 with relay-rs's text for a job that is not in flight, leaving it as it was", async () => {
        await enqueue(job('a'));

        const res = await send(family.reschedule(job('a', { payload: 'again' })));

        expect(res.status).toBe(404);
        expect(await res.text()).toBe('job with id `a` not found in queue `q`.');
        expect((await stored('a'))?.payload).toEqual({ n: 'a' });
      });
    });
  });
}
