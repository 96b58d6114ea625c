/**
 * Cron schedules in the store, against DynamoDB Local: each fire time enqueues once however many
 * maintenance passes race, DST in two zones, catch-up after downtime, overlap, pause and trigger.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScheduleExistsError, ScheduleKindError, ScheduleNotFoundError } from '../functions/jobs/errors.ts';
import type { NewSchedule, ScheduledJob } from '../functions/jobs/schedule-model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const pullSpec: ScheduledJob = { queue: 'q', payload: { report: 'daily' }, timeout: 30, max_retries: 3 };

const schedule = (extra: Partial<NewSchedule> = {}): NewSchedule => ({
  name: 'every-minute',
  cron: '* * * * *',
  timezone: 'UTC',
  overlap: 'allow',
  paused: false,
  job: pullSpec,
  ...extra,
});

const iso = (ms: number) => new Date(ms).toISOString();

let clock: TestClock;
let store: JobStore;
let fresh: TestStore;

beforeEach(async () => {
  // A whole minute of real time: terminal jobs get a TTL from this clock, which DynamoDB Local honours.
  clock = new TestClock(Math.ceil(Date.now() / MINUTE) * MINUTE);
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
});

afterEach(async () => {
  await fresh.dispose();
});

/** Ids of every job in queue `q`, sorted. */
async function jobIds(): Promise<string[]> {
  const page = await store.list({ queue: 'q', limit: 1000 });
  return page.items.map((job) => job.id).sort();
}

/** One maintenance pass's fires at the clock's time; the ids it enqueued. */
async function pass(): Promise<string[]> {
  const report = await store.fireDueSchedules(clock.now);
  return report.fired.map((job) => job.id);
}

describe('fireDueSchedules', () => {
  it('enqueues each fire time exactly once when 8 maintenance passes race', async () => {
    await store.createSchedule(schedule());
    const start = clock.now;

    const fired: string[] = [];
    for (let minute = 1; minute <= 4; minute++) {
      clock.now = start + minute * MINUTE + 500;
      const passes = Array.from({ length: 8 }, () => fresh.another(clock.read).fireDueSchedules(clock.now));
      const reports = await Promise.all(passes);
      fired.push(...reports.flatMap((report) => report.fired.map((job) => job.id)));
    }

    const expected = [1, 2, 3, 4].map((m) => `every-minute@${iso(start + m * MINUTE)}`);
    expect(fired.sort()).toEqual(expected);
    expect(await jobIds()).toEqual(expected);
  });

  it('fires more due schedules in one pass than one query reads', async () => {
    const names = Array.from({ length: 130 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    for (const name of names) await store.createSchedule(schedule({ name }));
    clock.advance(MINUTE);

    const report = await store.fireDueSchedules(clock.now);

    expect(report.fired).toHaveLength(130);
    expect((await jobIds()).map((id) => id.split('@')[0])).toEqual(names);
  });

  it('fires nothing before the first fire time', async () => {
    await store.createSchedule(schedule());
    clock.advance(MINUTE - 1);

    expect(await pass()).toEqual([]);
  });

  it('puts the job the schedule describes, due at once', async () => {
    await store.createSchedule(schedule({ job: { ...pullSpec, priority: 7 } }));
    clock.advance(MINUTE);

    const [id] = await pass();
    const job = await store.get('q', id ?? '');

    expect(job).toMatchObject({ status: 'pending', priority: 7, payload: { report: 'daily' }, timeout: 30 });
    expect(job?.run_at).toBeLessThanOrEqual(clock.now);
  });

  it('catches up after downtime with one fire, for the latest missed time', async () => {
    await store.createSchedule(schedule({ name: 'hourly', cron: '0 * * * *' }));
    const nextHour = Math.ceil((clock.now + 1) / HOUR) * HOUR;
    clock.now = nextHour + 5 * HOUR + 10 * MINUTE;

    expect(await pass()).toEqual([`hourly@${iso(nextHour + 5 * HOUR)}`]);
    expect(await pass()).toEqual([]);
    expect((await store.getSchedule('hourly'))?.next_fire_at).toBe(nextHour + 6 * HOUR);
  });
});

describe('fire times across DST', () => {
  /** Passes every 10 minutes from `from` for two days; the fire times of the jobs they enqueued. */
  async function firesOver(cron: string, timezone: string, from: string): Promise<string[]> {
    clock.now = Date.parse(from);
    await store.createSchedule(schedule({ name: 'dst', cron, timezone }));
    const fired: string[] = [];
    for (let t = clock.now; t <= Date.parse(from) + 48 * HOUR; t += 10 * MINUTE) {
      clock.now = t;
      fired.push(...(await pass()));
    }
    return fired.map((id) => id.slice('dst@'.length));
  }

  it('fires a New York 02:30 that does not exist once, at 03:00 EDT (spring forward)', async () => {
    const fires = await firesOver('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z');

    expect(fires).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
  });

  it('fires a New York 01:30 that happens twice once, at its first instant (fall back)', async () => {
    const fires = await firesOver('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z');

    expect(fires).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('fires a Berlin 02:30 that does not exist once, at 03:00 CEST (spring forward)', async () => {
    const fires = await firesOver('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z');

    expect(fires).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('fires a Berlin 02:30 that happens twice once, at 02:30 CEST (fall back)', async () => {
    const fires = await firesOver('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z');

    expect(fires).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });
});

describe('overlap', () => {
  it('skips a fire while the previous fire’s job is live, and fires once it ended', async () => {
    await store.createSchedule(schedule({ overlap: 'skip' }));
    const start = clock.now;
    clock.now = start + MINUTE;
    const [first] = await pass();

    clock.now = start + 2 * MINUTE;
    const whileLive = await store.fireDueSchedules(clock.now);
    const [run] = await store.claim('q', 1);
    await store.complete('q', run?.id ?? '', run?.run_id ?? undefined);
    clock.now = start + 3 * MINUTE;
    const afterEnd = await pass();

    expect(first).toBe(`every-minute@${iso(start + MINUTE)}`);
    expect(whileLive).toMatchObject({ fired: [], skipped: 1 });
    expect(afterEnd).toEqual([`every-minute@${iso(start + 3 * MINUTE)}`]);
    expect((await store.getSchedule('every-minute'))?.next_fire_at).toBe(start + 4 * MINUTE);
  });

  it('fires while the previous job is live with overlap allow', async () => {
    await store.createSchedule(schedule());
    const start = clock.now;
    clock.now = start + MINUTE;
    await pass();
    clock.now = start + 2 * MINUTE;

    expect(await pass()).toEqual([`every-minute@${iso(start + 2 * MINUTE)}`]);
  });
});

describe('pause and resume', () => {
  it('fires nothing while paused', async () => {
    await store.createSchedule(schedule());
    const paused = await store.pauseSchedule('every-minute');
    clock.advance(5 * MINUTE);

    expect(paused).toMatchObject({ paused: true, next_fire_at: null });
    expect(await pass()).toEqual([]);
  });

  it('resumes from the first fire time after the resume, without catching up the pause', async () => {
    await store.createSchedule(schedule({ paused: true }));
    const start = clock.now;
    clock.now = start + 5 * MINUTE + 1_000;
    const resumed = await store.resumeSchedule('every-minute', 'pull');
    const none = await pass();
    clock.now = start + 6 * MINUTE;

    expect(resumed).toMatchObject({ paused: false, next_fire_at: start + 6 * MINUTE });
    expect(none).toEqual([]);
    expect(await pass()).toEqual([`every-minute@${iso(start + 6 * MINUTE)}`]);
  });

  it('refuses to resume a managed schedule for a pull route', async () => {
    await store.createSchedule(schedule({ paused: true, job: { ...pullSpec, type: 'SHELL' } }));

    await expect(store.resumeSchedule('every-minute', 'pull')).rejects.toBeInstanceOf(ScheduleKindError);
  });
});

describe('triggerSchedule', () => {
  it('enqueues the job now, even while paused, and makes it the last job', async () => {
    await store.createSchedule(schedule({ paused: true }));

    const job = await store.triggerSchedule('every-minute', 'pull');

    expect(job).toMatchObject({
      queue: 'q',
      id: `every-minute@${iso(clock.now)}~trigger`,
      status: 'pending',
    });
    expect((await store.getSchedule('every-minute'))?.last_job).toEqual({ queue: 'q', id: job.id });
  });

  it('makes overlap skip wait for the triggered job', async () => {
    await store.createSchedule(schedule({ overlap: 'skip' }));
    await store.triggerSchedule('every-minute', 'pull');
    clock.advance(MINUTE);

    expect(await store.fireDueSchedules(clock.now)).toMatchObject({ fired: [], skipped: 1 });
  });

  it('refuses to trigger a managed schedule for a pull route', async () => {
    await store.createSchedule(schedule({ job: { ...pullSpec, type: 'SHELL' } }));

    await expect(store.triggerSchedule('every-minute', 'pull')).rejects.toBeInstanceOf(ScheduleKindError);
    expect(await jobIds()).toEqual([]);
  });

  it('answers ScheduleNotFoundError for an unknown schedule', async () => {
    await expect(store.triggerSchedule('nope', 'pull')).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });
});

describe('defining schedules', () => {
  it('refuses a second schedule with the same name', async () => {
    await store.createSchedule(schedule());

    await expect(store.createSchedule(schedule())).rejects.toBeInstanceOf(ScheduleExistsError);
  });

  it('refuses a pull route redefining a managed schedule', async () => {
    await store.createSchedule(schedule({ job: { ...pullSpec, type: 'SHELL' } }));

    await expect(store.putSchedule(schedule(), 'pull')).rejects.toBeInstanceOf(ScheduleKindError);
    expect((await store.getSchedule('every-minute'))?.kind).toBe('managed');
  });

  it('redefines a schedule, keeping its creation time and recomputing its next fire', async () => {
    const created = await store.createSchedule(schedule());
    clock.advance(30 * MINUTE + 1);

    const replaced = await store.putSchedule(schedule({ cron: '0 * * * *' }), 'pull');

    expect(replaced).toMatchObject({ cron: '0 * * * *', created_at: created.created_at });
    expect(replaced.next_fire_at).toBe(Math.ceil(clock.now / HOUR) * HOUR);
  });

  it('lists schedules by name and deletes one', async () => {
    await store.createSchedule(schedule({ name: 'b' }));
    await store.createSchedule(schedule({ name: 'a' }));
    await store.deleteSchedule('b');

    expect((await store.listSchedules()).map((s) => s.name)).toEqual(['a']);
    await expect(store.deleteSchedule('b')).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });
});
