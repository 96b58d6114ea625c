/**
 * Starting a command is a permission of its own: managed (SHELL) jobs are submitted, retried and
 * requeued only on the /v1/managed/ routes, which on AWS are IAM resources apart from the others.
 * The routes for pull jobs and relay-rs's worker routes can neither start nor change a command.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { CommandSettings } from '../functions/api/commands.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import { commandPolicy } from '../functions/runner/policy.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';

const sqs = sqsForFile();
let api: TestApi;
let dispatch: DispatchQueue;

afterAll(async () => {
  await api?.dispose();
});

async function start(commands?: CommandSettings) {
  await api?.dispose();
  dispatch = await sqs.dispatchQueue();
  api = await startTestApi({ dispatch, commands });
}

beforeEach(() => start());

/** Dispatch hints waiting on the queue (visible or delayed). */
const hints = () => messagesIn(sqs.client, dispatch.queueUrl, ['visible', 'delayed']);

const echo = { command: 'echo', args: ['hello'] };
const body = async (response: Response) => (await response.json()) as Record<string, unknown>;
const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string } }).error;

/** A managed job made dead in the store, as one that exhausted its retries is. */
async function deadManaged(id: string, extra: Partial<NewJob> = {}) {
  await api.store.enqueue({
    queue: 'q',
    id,
    type: 'SHELL',
    payload: echo,
    timeout: 30,
    max_retries: 0,
    ...extra,
  });
  const job = (await api.store.claimById('q', id)) as Job;
  await api.store.failRun('q', id, String(job.run_id), { error: 'boom' });
}

async function deadPull(id: string) {
  await api.store.enqueue({ queue: 'q', id, payload: {}, timeout: 30, max_retries: 0 });
  await api.store.claim('q', 1);
  await api.store.fail('q', id, { error: 'boom' });
}

describe('POST /v1/jobs (pull jobs)', () => {
  it('refuses a SHELL job with 403, pointing at the managed route, and writes nothing', async () => {
    const response = await api.send('POST', '/v1/jobs', {
      queue: 'q',
      id: 'sh',
      type: 'SHELL',
      payload: echo,
    });

    expect(response.status).toBe(403);
    expect(await errorOf(response)).toMatchObject({
      code: 'use_managed_route',
      message: expect.stringContaining('POST /v1/managed/jobs'),
    });
    expect(await api.store.get('q', 'sh')).toBeUndefined();
  });

  it('refuses a pull job that chains a SHELL job on failure: its death would start a command', async () => {
    const response = await api.send('POST', '/v1/jobs', {
      queue: 'q',
      id: 'sneaky',
      payload: {},
      on_failure: { payload: {}, on_success: { type: 'SHELL', payload: echo } },
    });

    expect(response.status).toBe(403);
    expect(await api.store.get('q', 'sneaky')).toBeUndefined();
  });
});

describe('POST /v1/managed/jobs', () => {
  it('takes a job without `type` as a SHELL job, writes it, then sends its dispatch hint', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', { queue: 'q', id: 'm1', payload: echo });

    expect(response.status).toBe(201);
    expect(await body(response)).toMatchObject({ type: 'SHELL', status: 'pending' });
    expect(await hints()).toBe(1);
  });

  it('writes the default timeout of 5 minutes into a payload that gives none, so it runs inline', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', { queue: 'q', id: 'm2', payload: echo });

    expect((await body(response)).payload).toEqual({ ...echo, timeout: '5m' });
  });

  it("uses the deployment's default timeout, and keeps a timeout the payload gives", async () => {
    await start({ defaultTimeoutMs: 90_000, policy: commandPolicy({ '*': ['*'] }) });
    const defaulted = await api.send('POST', '/v1/managed/jobs', { queue: 'q', id: 'd', payload: echo });
    const given = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'g',
      payload: { ...echo, timeout: 20 },
    });

    expect((await body(defaulted)).payload).toMatchObject({ timeout: '1m30s' });
    expect((await body(given)).payload).toMatchObject({ timeout: 20 });
  });

  it('answers 422 naming the limit when runtime "lambda" asks for more than 10 minutes', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'long',
      payload: { ...echo, timeout: '11m', runtime: 'lambda' },
    });

    expect(response.status).toBe(422);
    expect((await errorOf(response)).message).toMatch(/at most 10m .*but timeout is 11m/);
    expect(await api.store.get('q', 'long')).toBeUndefined();
  });

  it('answers 422 to a lease over 12 h, saying the limit is for managed jobs only', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'long',
      payload: echo,
      timeout: 43_201,
    });

    expect(response.status).toBe(422);
    expect((await errorOf(response)).message).toMatch(
      /timeout of a managed \(SHELL\) job must be at most 43200 seconds \(12 h\).*pull jobs may lease for longer/,
    );
    expect(await api.store.get('q', 'long')).toBeUndefined();
  });

  it('accepts a lease of exactly 12 h', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'twelve',
      payload: echo,
      timeout: 43_200,
    });

    expect(response.status).toBe(201);
  });

  it('answers 422 to a chained managed job whose lease is over 12 h', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'parent',
      payload: echo,
      on_success: { type: 'SHELL', payload: echo, timeout: 43_201 },
    });

    expect(response.status).toBe(422);
    expect((await errorOf(response)).message).toMatch(/on_success\.timeout.*managed \(SHELL\) job/);
  });

  it('checks chained commands the same way, naming where the problem is', async () => {
    const response = await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'chained',
      payload: echo,
      on_success: { type: 'SHELL', payload: { ...echo, timeout: '1h', runtime: 'lambda' } },
    });

    expect(response.status).toBe(422);
    expect((await errorOf(response)).message).toMatch(/^on_success\.payload\.runtime "lambda"/);
  });

  it('refuses with 403 a command the deployment does not let the queue run, and takes one it does', async () => {
    await start({
      defaultTimeoutMs: 300_000,
      policy: commandPolicy({ reports: ['/opt/reports/*'], '*': ['echo'] }),
    });
    const refused = await api.send('POST', '/v1/managed/jobs', {
      queue: 'reports',
      id: 'r1',
      payload: { command: '/bin/sh', args: ['-c', 'id'] },
    });
    const allowed = await api.send('POST', '/v1/managed/jobs', {
      queue: 'reports',
      id: 'r2',
      payload: { command: '/opt/reports/daily' },
    });
    const elsewhere = await api.send('POST', '/v1/managed/jobs', { queue: 'other', id: 'o1', payload: echo });
    const chained = await api.send('POST', '/v1/managed/jobs', {
      queue: 'other',
      id: 'o2',
      payload: echo,
      on_success: { type: 'SHELL', queue: 'reports', payload: echo },
    });

    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({
      code: 'command_not_allowed',
      message: 'queue `reports` may not run `/bin/sh` on this Relay: it may run `/opt/reports/*`',
    });
    expect(allowed.status).toBe(201);
    expect(elsewhere.status).toBe(201);
    expect(chained.status).toBe(403);
    expect((await errorOf(chained)).message).toMatch(/^on_success\.queue `reports` may not run `echo`/);
  });

  it('answers 404 where managed jobs are not enabled (no dispatch queue)', async () => {
    await api.dispose();
    api = await startTestApi();
    const response = await api.send('POST', '/v1/managed/jobs', { queue: 'q', payload: echo });

    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe('managed_jobs_disabled');
  });
});

describe('retry and requeue of managed jobs', () => {
  it('refuses to retry a managed job on the route for pull jobs (403), and retries it on the managed one', async () => {
    await deadManaged('r');
    const refused = await api.fetch('/v1/queues/q/jobs/r/retry', { method: 'POST' });
    const retried = await api.fetch('/v1/managed/queues/q/jobs/r/retry', { method: 'POST' });

    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: 'wrong_job_kind' });
    expect(retried.status).toBe(200);
    expect(await body(retried)).toMatchObject({ status: 'pending' });
    expect(await hints()).toBe(1);
  });

  it('refuses a pull job on the managed routes (409): they start commands only', async () => {
    await deadPull('p');
    const response = await api.fetch('/v1/managed/queues/q/dlq/p/requeue', { method: 'POST' });

    expect(response.status).toBe(409);
    expect((await api.store.get('q', 'p'))?.status).toBe('dead');
  });

  it('requeues one dead managed job only on the managed route', async () => {
    await deadManaged('d1');
    const refused = await api.fetch('/v1/queues/q/dlq/d1/requeue', { method: 'POST' });
    const requeued = await api.fetch('/v1/managed/queues/q/dlq/d1/requeue', { method: 'POST' });

    expect(refused.status).toBe(403);
    expect(requeued.status).toBe(200);
    expect(await hints()).toBe(1);
  });

  it('requeues all: pull jobs on one route, managed ones on the other, each counting what it left', async () => {
    await deadManaged('m1');
    await deadManaged('m2');
    await deadPull('p1');
    const pull = await api.send('POST', '/v1/queues/q/dlq/requeue', {});
    const managed = await api.send('POST', '/v1/managed/queues/q/dlq/requeue', {});

    expect(await body(pull)).toEqual({ requeued: 1, skipped_managed: 2 });
    expect(await body(managed)).toEqual({ requeued: 2, skipped_pull: 0 });
    expect(await hints()).toBe(2);
  });
});

describe('worker routes and managed jobs', () => {
  let runId: string;
  beforeEach(async () => {
    await api.store.enqueue({
      queue: 'q',
      id: 'run',
      type: 'SHELL',
      payload: echo,
      timeout: 30,
      max_retries: 3,
    });
    runId = String((await api.store.claimById('q', 'run'))?.run_id);
  });

  it.each([
    ['relay-rs v1 heartbeat', 'PATCH', '/v1/queues/q/jobs/run', undefined, 404],
    ['relay-rs v1 complete', 'DELETE', '/v1/queues/q/jobs/run', undefined, 200],
    ['seed complete', 'DELETE', '/v1/complete?queue=q&job_id=run', undefined, 200],
    ['v2 heartbeat with the run id', 'PATCH', '/v2/queues/q/jobs/run/run-id/RUN', undefined, 404],
    ['v2 complete with the run id', 'DELETE', '/v2/queues/q/jobs/run/run-id/RUN', undefined, 200],
    [
      'native fail, which would run the command again',
      'POST',
      '/v1/queues/q/jobs/run/fail',
      { error: 'x' },
      404,
    ],
  ])('cannot end or extend a managed run through %s', async (_name, method, path, payload, status) => {
    const response =
      payload === undefined
        ? await api.fetch(path.replace('RUN', runId), { method })
        : await api.send(method, path.replace('RUN', runId), payload);

    expect(response.status).toBe(status);
    expect(await api.store.get('q', 'run')).toMatchObject({ status: 'running', run_id: runId, attempts: 1 });
  });

  it.each([
    ['relay-rs v1 DELETE', '/v1/queues/q/jobs/waits'],
    ['seed complete', '/v1/complete?queue=q&job_id=waits'],
  ])(
    'cannot delete a waiting managed job through %s, which answers 200 as for a job not there',
    async (_name, path) => {
      await api.store.enqueue({
        queue: 'q',
        id: 'waits',
        type: 'SHELL',
        payload: echo,
        timeout: 30,
        max_retries: 3,
      });

      const response = await api.fetch(path, { method: 'DELETE' });

      expect(response.status).toBe(200);
      expect(await api.store.get('q', 'waits')).toMatchObject({ status: 'pending', type: 'SHELL' });
    },
  );

  it('cannot replace a live managed job with relay-rs `replace` (409), nor reschedule it', async () => {
    const replaced = await api.send('POST', '/v2/queues/jobs?mode=replace', [
      { queue: 'q', id: 'run', timeout: 30, payload: { command: 'evil' } },
    ]);
    const rescheduled = await api.send('PUT', '/v1/queues/jobs', {
      queue: 'q',
      id: 'run',
      timeout: 30,
      payload: { command: 'evil' },
    });

    expect(replaced.status).toBe(409);
    expect(rescheduled.status).toBe(404);
    expect(await api.store.get('q', 'run')).toMatchObject({
      status: 'running',
      type: 'SHELL',
      payload: echo,
    });
  });
});

describe('job env values', () => {
  it('are write-only: every view names the variables and hides their values', async () => {
    await api.send('POST', '/v1/managed/jobs', {
      queue: 'q',
      id: 'secret',
      payload: { ...echo, env: { API_TOKEN: 'hunter2', REGION: 'eu-west-1' } },
    });
    const views = await Promise.all(
      [
        '/v1/queues/q/jobs/secret/status',
        '/v1/queues/q/jobs/secret',
        '/v2/queues/q/jobs/secret',
        '/v1/jobs?queue=q',
      ].map(async (path) => (await api.fetch(path)).text()),
    );

    for (const view of views) {
      expect(view).not.toContain('hunter2');
      expect(view).not.toContain('eu-west-1');
      expect(view).toContain('"API_TOKEN":"<redacted>"');
    }
    // The command still gets them: the store keeps what was written.
    expect((await api.store.get('q', 'secret'))?.payload).toMatchObject({ env: { API_TOKEN: 'hunter2' } });
  });
});
