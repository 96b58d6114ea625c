/**
 * `relay schedule …`, built and run as users run it, against the real handlers (with managed jobs
 * on): create, list, show, pause, resume, trigger and delete, and the route a managed schedule takes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.ts';
import { runCli } from './support/cli.ts';

let api: TestApi;
let dir: string;

beforeAll(async () => {
  [api, dir] = await Promise.all([
    startTestApi({ dispatch: 'sqs' }),
    mkdtemp(path.join(tmpdir(), 'relay-cli-schedules-')),
  ]);
});

afterAll(async () => {
  await api.dispose();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const schedule of await api.store.listSchedules()) await api.store.deleteSchedule(schedule.name);
});

const relay = (...args: string[]) => runCli(['--endpoint', api.url, ...args]);

const create = (name: string, ...extra: string[]) =>
  relay('schedule', 'create', name, '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', ...extra);

describe('relay schedule create', () => {
  it('creates a pull schedule from --payload and prints its next fire times', async () => {
    const result = await create('nightly', '--payload', '{"report":"nightly"}', '--queue', 'reports');

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^name\s+nightly$/m);
    expect(result.stdout).toMatch(/^next_fire_times\s+\d{4}-\d\d-\d\dT0[12]:00:00\.000Z$/m);
    expect(await api.store.getSchedule('nightly')).toMatchObject({
      kind: 'pull',
      timezone: 'Europe/Berlin',
      job: { queue: 'reports', payload: { report: 'nightly' } },
    });
  });

  it('creates a managed schedule from a job file on the managed route', async () => {
    const file = path.join(dir, 'cleanup.json');
    await writeFile(file, JSON.stringify({ queue: 'scripts', type: 'SHELL', payload: { command: 'true' } }));

    const result = await create('cleanup', '--job', file, '--overlap', 'skip', '--json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'cleanup', kind: 'managed', overlap: 'skip' });
  });

  it('exits 2 naming the problem for a bad expression, and creates nothing', async () => {
    const result = await relay('schedule', 'create', 'bad', '--cron', '* * *', '--payload', '{}');

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('5 fields');
    expect(await api.store.getSchedule('bad')).toBeUndefined();
  });

  it('exits 2 without a job to enqueue', async () => {
    const result = await relay('schedule', 'create', 'nojob', '--cron', '* * * * *');

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--job <file> or --payload <json>');
  });
});

describe('relay schedule list, show, pause, resume, trigger, delete', () => {
  it('lists schedules with their next fire', async () => {
    await create('nightly', '--payload', '{}', '--queue', 'reports');

    const result = await relay('schedule', 'list');

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^NAME\s+CRON\s+TIMEZONE/m);
    expect(result.stdout).toMatch(/^nightly\s+0 3 \* \* \*\s+Europe\/Berlin\s+pull\s+reports\s+\d{4}-/m);
  });

  it('shows a schedule as JSON', async () => {
    await create('nightly', '--payload', '{}');

    const result = await relay('schedule', 'show', 'nightly', '--json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).next_fire_times).toHaveLength(5);
  });

  it('pauses and resumes', async () => {
    await create('nightly', '--payload', '{}');

    const paused = await relay('schedule', 'pause', 'nightly', '--json');
    const resumed = await relay('schedule', 'resume', 'nightly', '--json');

    expect(JSON.parse(paused.stdout)).toMatchObject({ paused: true, next_fire_at: null });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ paused: false });
  });

  it('triggers a managed schedule, through the managed route', async () => {
    const file = path.join(dir, 'true.json');
    await writeFile(file, JSON.stringify({ queue: 'scripts', type: 'SHELL', payload: { command: 'true' } }));
    await create('cleanup', '--job', file);

    const result = await relay('schedule', 'trigger', 'cleanup', '--json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ queue: 'scripts', type: 'SHELL', status: 'pending' });
  });

  it('deletes a schedule, then exits 1 showing it', async () => {
    await create('nightly', '--payload', '{}');

    const deleted = await relay('schedule', 'delete', 'nightly');
    const shown = await relay('schedule', 'show', 'nightly');

    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted schedule nightly\n' });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain('schedule `nightly` not found');
  });
});
