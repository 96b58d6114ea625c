/**
 * Long-poll claims (`GET /v1/queues/{q}/jobs?wait=S`, `GET /v2/queues/{q}/jobs?wait=S`): a claim
 * that finds nothing waits up to S seconds and answers as soon as it claimed a job. The relay-rs
 * seed routes keep their behaviour.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, startTestApi, type TestApi } from './support/api.ts';
import { relayV1Job, relayV2Job } from './support/jobs.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newQueue = () => `lp-${randomUUID()}`;

const routes = {
  v1: {
    claim: (queue: string, query: string) => api.fetch(`/v1/queues/${queue}/jobs${query}`),
    enqueue: (queue: string, id: string, extra = {}) =>
      api.send('POST', '/v1/queues/jobs', [relayV1Job(id, { queue, ...extra })]),
  },
  v2: {
    claim: (queue: string, query: string) => api.fetch(`/v2/queues/${queue}/jobs${query}`),
    enqueue: (queue: string, id: string, extra = {}) =>
      api.send('POST', '/v2/queues/jobs', [relayV2Job(id, { queue, ...extra })]),
  },
};

describe.each(Object.entries(routes))('%s claim with wait', (_version, route) => {
  it('answers with a job enqueued while it waits', async () => {
    const queue = newQueue();
    await route.enqueue(queue, 'registers-the-queue');
    await route.claim(queue, '');
    const polling = route.claim(queue, '?wait=10');
    await sleep(300); // the poll has found the queue empty and waits
    expect((await route.enqueue(queue, 'late')).status).toBe(202);
    const res = await polling;
    expect(res.status).toBe(200);
    expect(((await jsonOf(res)) as { id: string }[]).map((j) => j.id)).toEqual(['late']);
  });

  it('answers 204 when no job came within the wait', async () => {
    const queue = newQueue();
    const res = await route.claim(queue, '?wait=1');
    expect(res.status).toBe(204);
  });

  it('answers at once with jobs that are already waiting', async () => {
    const queue = newQueue();
    await route.enqueue(queue, 'a');
    const res = await route.claim(queue, '?wait=20&num_jobs=5');
    expect(((await jsonOf(res)) as { id: string }[]).map((j) => j.id)).toEqual(['a']);
  });

  it('finds a job that becomes due during the wait, with no enqueue to wake it', async () => {
    const queue = newQueue();
    const runAt = new Date(Date.now() + 1_500).toISOString();
    await route.enqueue(queue, 'scheduled', { run_at: runAt });
    const res = await route.claim(queue, '?wait=6');
    expect(res.status).toBe(200);
    expect(((await jsonOf(res)) as { id: string }[]).map((j) => j.id)).toEqual(['scheduled']);
  });

  it.each(['x', '-1', '1.5', '21', ''])('answers 400 to wait=%j', async (value) => {
    const res = await route.claim(newQueue(), `?wait=${value}`);
    expect(res.status).toBe(400);
  });
});

describe('relay-rs seed routes', () => {
  it.each(['/next', '/v1/next'])('%s ignores wait, as relay-rs ignores unknown parameters', async (path) => {
    const queue = newQueue();
    const res = await api.fetch(`${path}?queue=${queue}&wait=x`);
    expect(res.status).toBe(204);
  });
});
