/**
 * Cron schedules over HTTP: the native routes, their 4xx answers, and the managed boundary (a
 * schedule whose job runs a command is defined, resumed and triggered only on /v1/managed/).
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { maintain } from '../functions/dispatch/maintenance.ts';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { TestClock } from './support/store.ts';

const MINUTE = 60_000;

const sqs = sqsForFile();
let api: TestApi;
let dispatch: DispatchQueue;
let clock: TestClock;

afterAll(async () => {
  await api?.dispose();
});

beforeEach(async () => {
  await api?.dispose();
  dispatch = await sqs.dispatchQueue();
  clock = new TestClock(Math.ceil(Date.now() / MINUTE) * MINUTE);
  api = await startTestApi({ dispatch, clock: clock.read });
});

const pullJob = { queue: 'q', payload: { report: 'daily' } };
const echo = { command: 'echo', args: ['hello'], env: { TOKEN: 'secret' } };
const nightly = (extra: Record<string, unknown> = {}) => ({
  name: 'nightly',
  cron: '0 3 * * *',
  timezone: 'Europe/Berlin',
  job: pullJob,
  ...extra,
});

const body = async (response: Response) => (await response.json()) as Record<string, unknown>;
const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string } }).error;

describe('POST /v1/schedules', () => {
  it('creates a schedule and shows its next fire times', async () => {
    const response = await api.send('POST', '/v1/schedules', nightly());

    const view = await body(response);
    expect(response.status).toBe(201);
    expect(view).toMatchObject({
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      overlap: 'allow',
      paused: false,
      kind: 'pull',
      job: { queue: 'q', payload: { report: 'daily' } },
      last_job: null,
    });
    const times = view.next_fire_times as string[];
    expect(times).toHaveLength(5);
    expect(view.next_fire_at).toBe(times[0]);
    for (const time of times) {
      const local = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        minute: '2-digit',
      }).format(new Date(time));
      expect(local).toBe('03:00');
    }
  });

  it('accepts a six-field expression with seconds', async () => {
    const response = await api.send('POST', '/v1/schedules', nightly({ cron: '*/10 * * * * *' }));

    const times = (await body(response)).next_fire_times as string[];
    expect(response.status).toBe(201);
    expect(Date.parse(times[1] ?? '') - Date.parse(times[0] ?? '')).toBe(10_000);
  });

  it.each([
    ['a cron of four fields', { cron: '* * * *' }, 'cron'],
    ['a minute of 61', { cron: '61 * * * *' }, 'cron'],
    ['a cron that never fires', { cron: '0 0 30 2 *' }, 'never fires'],
    ['an unknown time zone', { timezone: 'Mars/Olympus' }, 'IANA'],
    ['a job with an id', { job: { ...pullJob, id: 'x' } }, 'id'],
    ['a job with a delay', { job: { ...pullJob, delay: 5 } }, 'delay'],
    ['an unknown overlap', { overlap: 'queue' }, 'overlap'],
    ['a name with a slash', { name: 'a/b' }, 'name'],
  ])('answers 422 for %s', async (_what, extra, mentions) => {
    const response = await api.send('POST', '/v1/schedules', nightly(extra));

    expect(response.status).toBe(422);
    expect((await errorOf(response)).message).toContain(mentions);
  });

  it('answers 409 for a name that is taken', async () => {
    await api.send('POST', '/v1/schedules', nightly());

    const response = await api.send('POST', '/v1/schedules', nightly());

    expect(response.status).toBe(409);
    expect((await errorOf(response)).code).toBe('schedule_exists');
  });

  it('refuses a managed job with 403 use_managed_route, and stores nothing', async () => {
    const response = await api.send(
      'POST',
      '/v1/schedules',
      nightly({ job: { type: 'SHELL', payload: echo } }),
    );

    expect(response.status).toBe(403);
    expect(await errorOf(response)).toMatchObject({ code: 'use_managed_route' });
    expect((await api.fetch('/v1/schedules/nightly')).status).toBe(404);
  });

  it('refuses a pull job that chains a managed one with 403', async () => {
    const chained = { ...pullJob, on_success: { type: 'SHELL', payload: echo } };

    const response = await api.send('POST', '/v1/schedules', nightly({ job: chained }));

    expect(response.status).toBe(403);
  });
});

describe('the schedule routes', () => {
  it('lists, shows and deletes schedules', async () => {
    await api.send('POST', '/v1/schedules', nightly());

    const list = await body(await api.fetch('/v1/schedules'));
    const shown = await api.fetch('/v1/schedules/nightly');
    const deleted = await api.fetch('/v1/schedules/nightly', { method: 'DELETE' });

    expect((list.schedules as { name: string }[]).map((s) => s.name)).toEqual(['nightly']);
    expect(shown.status).toBe(200);
    expect(deleted.status).toBe(204);
    expect((await api.fetch('/v1/schedules')).status).toBe(200);
    expect((await api.fetch('/v1/schedules/nightly')).status).toBe(404);
  });

  it.each([
    ['GET', '/v1/schedules/nope'],
    ['DELETE', '/v1/schedules/nope'],
    ['POST', '/v1/schedules/nope/pause'],
    ['POST', '/v1/schedules/nope/resume'],
    ['POST', '/v1/schedules/nope/trigger'],
  ])('answers 404 schedule_not_found to %s %s', async (method, path) => {
    const response = await api.fetch(path, { method });

    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe('schedule_not_found');
  });

  it('redefines a schedule with PUT', async () => {
    await api.send('POST', '/v1/schedules', nightly());

    const response = await api.send('PUT', '/v1/schedules/nightly', nightly({ cron: '0 4 * * *' }));

    expect(response.status).toBe(200);
    expect(await body(response)).toMatchObject({ cron: '0 4 * * *' });
  });

  it('answers 422 to a PUT whose body names another schedule', async () => {
    const response = await api.send('PUT', '/v1/schedules/nightly', nightly({ name: 'other' }));

    expect(response.status).toBe(422);
  });

  it('pauses and resumes', async () => {
    await api.send('POST', '/v1/schedules', nightly());

    const paused = await body(await api.fetch('/v1/schedules/nightly/pause', { method: 'POST' }));
    const resumed = await body(await api.fetch('/v1/schedules/nightly/resume', { method: 'POST' }));

    expect(paused).toMatchObject({ paused: true, next_fire_at: null, next_fire_times: [] });
    expect(resumed).toMatchObject({ paused: false });
    expect(resumed.next_fire_times).toHaveLength(5);
  });

  it('triggers the job now and answers with it', async () => {
    await api.send('POST', '/v1/schedules', nightly());

    const response = await api.fetch('/v1/schedules/nightly/trigger', { method: 'POST' });

    expect(response.status).toBe(201);
    expect(await body(response)).toMatchObject({
      queue: 'q',
      id: `nightly@${new Date(clock.now).toISOString()}~trigger`,
      status: 'pending',
    });
  });
});

describe('managed schedules', () => {
  it('are created on /v1/managed/schedules, their env values redacted in the view', async () => {
    const response = await api.send(
      'POST',
      '/v1/managed/schedules',
      nightly({ job: { queue: 'q', payload: echo } }),
    );

    expect(response.status).toBe(201);
    expect(await body(response)).toMatchObject({
      kind: 'managed',
      job: { type: 'SHELL', payload: { command: 'echo', env: { TOKEN: '<redacted>' } } },
    });
  });

  it.each([
    ['PUT', '/v1/schedules/nightly', nightly()],
    ['POST', '/v1/schedules/nightly/resume', undefined],
    ['POST', '/v1/schedules/nightly/trigger', undefined],
  ])('refuses %s %s of a managed schedule with 403', async (method, path, request) => {
    await api.send(
      'POST',
      '/v1/managed/schedules',
      nightly({ job: { queue: 'q', payload: echo }, paused: true }),
    );

    const response = await api.send(method, path, request);

    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe('use_managed_route');
    expect(await body(await api.fetch('/v1/schedules/nightly'))).toMatchObject({
      kind: 'managed',
      paused: true,
    });
  });

  it('are paused and deleted on the routes for pull jobs, which start nothing', async () => {
    await api.send('POST', '/v1/managed/schedules', nightly({ job: { queue: 'q', payload: echo } }));

    expect((await api.fetch('/v1/schedules/nightly/pause', { method: 'POST' })).status).toBe(200);
    expect((await api.fetch('/v1/schedules/nightly', { method: 'DELETE' })).status).toBe(204);
  });

  it.each(['resume', 'trigger'])(
    'answers 409 to %s of a pull schedule on the managed route',
    async (action) => {
      await api.send('POST', '/v1/schedules', nightly({ paused: true }));

      const response = await api.fetch(`/v1/managed/schedules/nightly/${action}`, { method: 'POST' });

      expect(response.status).toBe(409);
      expect((await errorOf(response)).code).toBe('wrong_schedule_kind');
    },
  );

  it('are triggered on the managed route, and the job is hinted', async () => {
    await api.send('POST', '/v1/managed/schedules', nightly({ job: { queue: 'q', payload: echo } }));

    const response = await api.fetch('/v1/managed/schedules/nightly/trigger', { method: 'POST' });

    const job = await body(response);
    expect(response.status).toBe(201);
    expect(job).toMatchObject({ type: 'SHELL', status: 'pending' });
    expect(await messagesIn(sqs.client, dispatch.queueUrl, ['visible', 'delayed'])).toBe(1);
  });

  it('are fired by the maintenance pass, which hints the job it enqueued', async () => {
    await api.send(
      'POST',
      '/v1/managed/schedules',
      nightly({ cron: '* * * * *', job: { queue: 'q', payload: echo } }),
    );
    clock.advance(MINUTE);

    const result = await maintain({ store: api.store, dispatch, now: clock.read });

    const id = `nightly@${new Date(clock.now).toISOString()}`;
    expect(result.fired).toBe(1);
    expect(await api.store.get('q', id)).toMatchObject({ type: 'SHELL', status: 'pending' });
    expect(await messagesIn(sqs.client, dispatch.queueUrl, ['visible', 'delayed'])).toBe(1);
  });

  it('answers 404 on the managed routes where managed jobs are off', async () => {
    const off = await startTestApi();
    try {
      const response = await off.send('POST', '/v1/managed/schedules', nightly({ job: { payload: echo } }));

      expect(response.status).toBe(404);
    } finally {
      await off.dispose();
    }
  });
});
