/**
 * Cron schedules in the job table: define, pause, resume, trigger, and fire.
 *
 * A fire is one transaction: it moves the schedule's `next_fire_at` on (condition `stillDueAt`:
 * it still equals the fire time being fired) and puts the job with the id `<name>@<fire time>`
 * (condition `idFree`). However many maintenance passes race, retry or restart, the first
 * transaction wins and the others change nothing, so each fire time enqueues at most once; and a
 * due schedule is fired by the next pass that reads it, so at least once.
 *
 * Catch-up: a pass that finds several fire times passed (Relay was down, or the schedule waited
 * longer than its period) fires once, for the latest of them, and skips the rest.
 */
import { mapLimit } from '../core/concurrency.ts';
import { describeError, log } from '../core/log.ts';
import {
  exists,
  idFree,
  previousFireEnded,
  pullScheduleOrNone,
  scheduleNameFree,
  stillDueAt,
  unchangedSince,
  unconditional,
} from './conditions.ts';
import type { StoreContext } from './context.ts';
import { checkOf, putOf, type TransactWrite, updateOf } from './dynamo.ts';
import { newItem } from './enqueue.ts';
import {
  JobExistsError,
  ScheduleExistsError,
  ScheduleKindError,
  ScheduleNotFoundError,
  StoreBusyError,
} from './errors.ts';
import type { Change } from './expressions.ts';
import { seconds, toJob } from './item.ts';
import {
  dispatchDueBefore,
  jobKey,
  SCHEDULES_DUE_PK,
  SCHEDULES_PK,
  scheduleDueKey,
  scheduleKey,
} from './keys.ts';
import { type Job, type JobKind, startsCommands } from './model.ts';
import {
  fireJobId,
  lastFireAtOrBefore,
  type NewSchedule,
  nextFireAfter,
  type Schedule,
  type ScheduleItem,
  toSchedule,
  triggerJobId,
} from './schedule-model.ts';

/** What one maintenance pass did with the due schedules. */
export interface FireReport {
  /** The jobs the pass enqueued, one per fired schedule. */
  readonly fired: Job[];
  /** Fires skipped by `overlap: skip` (the previous job was live) or because the job id was held. */
  readonly skipped: number;
  /** Due schedules another pass (or a change of the schedule) got to first. */
  readonly lost: number;
  /** Fires that failed (DynamoDB busy, say); they stay due for the next pass. */
  readonly failed: number;
}

/** Due schedules read per query. */
const FIRE_BATCH = 100;
/** Queries per pass at most: a pass fires up to 1,000 schedules and leaves the rest to the next. */
const FIRE_ROUNDS = 10;
/** Concurrent fires within one pass. */
const FIRE_CONCURRENCY = 8;
/** How often a read-then-write on a schedule is tried while its definition keeps changing. */
const TRIES = 3;

/** The schedule's `next_fire_at` and its `ready` entry: set while it waits for a fire, else removed. */
function waitingFor(name: string, next: number | undefined) {
  return {
    next_fire_at: next,
    ready_pk: next === undefined ? undefined : SCHEDULES_DUE_PK,
    ready_sk: next === undefined ? undefined : scheduleDueKey(next, name),
  };
}

/** What a definition stores, with its first fire after `now` (none while paused). */
function definition(schedule: NewSchedule, now: number) {
  return {
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    overlap: schedule.overlap,
    paused: schedule.paused,
    kind: (startsCommands(schedule.job) ? 'managed' : 'pull') as JobKind,
    job: JSON.stringify(schedule.job),
    ...waitingFor(schedule.name, schedule.paused ? undefined : nextFireAfter(schedule, now)),
    updated_at: now,
  };
}

/** Creates a schedule; its name must be free. */
export async function createSchedule(ctx: StoreContext, schedule: NewSchedule): Promise<Schedule> {
  const now = ctx.clock();
  const item: ScheduleItem = { ...scheduleKey(schedule.name), ...definition(schedule, now), created_at: now };
  const written = await ctx.db.put(item, scheduleNameFree);
  if (!written.ok) throw new ScheduleExistsError(schedule.name);
  return toSchedule(item);
}

/**
 * Creates or redefines a schedule, keeping its creation time and its last job (which
 * `overlap: skip` checks). Its next fire is recomputed from now. `route` is the kind the caller may
 * act on: a route for pull jobs may not redefine a managed schedule.
 */
export async function putSchedule(
  ctx: StoreContext,
  schedule: NewSchedule,
  route: JobKind,
): Promise<Schedule> {
  const now = ctx.clock();
  const change: Change<ScheduleItem> = { set: definition(schedule, now), keep: { created_at: now } };
  const when =
    route === 'managed' ? unconditional('the managed routes may redefine any schedule') : pullScheduleOrNone;
  const written = await ctx.db.update<ScheduleItem>(scheduleKey(schedule.name), when, change);
  if (!written.ok) throw new ScheduleKindError(schedule.name, 'managed', 'redefine');
  return toSchedule(written.item);
}

async function read(ctx: StoreContext, name: string): Promise<ScheduleItem> {
  const item = await ctx.db.get<ScheduleItem>(scheduleKey(name));
  if (!item) throw new ScheduleNotFoundError(name);
  return item;
}

export async function getSchedule(ctx: StoreContext, name: string): Promise<Schedule | undefined> {
  const item = await ctx.db.get<ScheduleItem>(scheduleKey(name));
  return item && toSchedule(item);
}

/** Every schedule, by name. */
export async function listSchedules(ctx: StoreContext): Promise<Schedule[]> {
  const items = await ctx.db.queryAll<ScheduleItem>({ partition: SCHEDULES_PK });
  return items.map(toSchedule);
}

/** Deletes a schedule. Jobs it enqueued stay. */
export async function deleteSchedule(ctx: StoreContext, name: string): Promise<void> {
  const deleted = await ctx.db.delete(scheduleKey(name), exists);
  if (!deleted.ok) throw new ScheduleNotFoundError(name);
}

/** Stops a schedule's fires: it leaves the due index. Pausing a paused schedule changes nothing. */
export async function pauseSchedule(ctx: StoreContext, name: string): Promise<Schedule> {
  const now = ctx.clock();
  const change: Change<ScheduleItem> = {
    set: { paused: true, ...waitingFor(name, undefined), updated_at: now },
  };
  const written = await ctx.db.update<ScheduleItem>(scheduleKey(name), exists, change);
  if (!written.ok) throw new ScheduleNotFoundError(name);
  return toSchedule(written.item);
}

/**
 * Lets a paused schedule fire again, from its first fire time after now: fire times passed while
 * it was paused are not caught up. Resuming a running schedule changes nothing.
 */
export async function resumeSchedule(ctx: StoreContext, name: string, route: JobKind): Promise<Schedule> {
  return retried(async () => {
    const item = await read(ctx, name);
    if (item.kind !== route) throw new ScheduleKindError(name, item.kind, 'resume');
    if (!item.paused) return toSchedule(item);
    const now = ctx.clock();
    const change: Change<ScheduleItem> = {
      set: { paused: false, ...waitingFor(name, nextFireAfter(item, now)), updated_at: now },
    };
    // Paused and of the kind read: the next fire is computed from the definition read.
    const written = await ctx.db.update<ScheduleItem>(
      scheduleKey(name),
      unchangedSince(item.updated_at),
      change,
    );
    return written.ok ? toSchedule(written.item) : undefined;
  });
}

/**
 * Enqueues the schedule's job now, outside its fire times, whether it is paused or not, and
 * whatever its overlap; the job's id is `<name>@<now>~trigger`. The job becomes the schedule's
 * last job, which `overlap: skip` then waits for.
 */
export async function triggerSchedule(ctx: StoreContext, name: string, route: JobKind): Promise<Job> {
  return retried(async () => {
    const item = await read(ctx, name);
    if (item.kind !== route) throw new ScheduleKindError(name, item.kind, 'trigger');
    const now = ctx.clock();
    const job = await jobOf(ctx, item, triggerJobId(name, now), now);
    const done = await ctx.db.transact([
      // The job is the definition read: a redefinition since then fails this and is read again.
      updateOf<ScheduleItem>(
        scheduleKey(name),
        unchangedSince(item.updated_at),
        lastJob(job.queue, job.id, now),
      ),
      putOf(job, idFree(seconds(now))),
    ]);
    if (done.ok) {
      ctx.metrics.enqueued([job]);
      return toJob(job);
    }
    if (done.refusals[1]) throw new JobExistsError(job.queue, job.id);
    return undefined;
  });
}

/** Tries `attempt` until it decides (`undefined`: the schedule changed under it, read it again). */
async function retried<T>(attempt: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < TRIES; i++) {
    const result = await attempt();
    if (result !== undefined) return result;
  }
  throw new StoreBusyError(1);
}

const lastJob = (queue: string, id: string, at: number): Change<ScheduleItem> => ({
  set: { last_fire_at: at, last_job_queue: queue, last_job_id: id },
});

/** The item of the job a schedule enqueues under `id`. */
function jobOf(ctx: StoreContext, item: ScheduleItem, id: string, now: number) {
  return newItem(ctx, { ...toSchedule(item).job, id }, now);
}

type Outcome = Job | 'skipped' | 'lost' | 'failed';

/**
 * Fires every schedule due at `now`, a query of `FIRE_BATCH` at a time, up to `FIRE_ROUNDS`
 * queries. A fire moves its schedule out of the due range, so each query reads the next ones. A
 * fire that fails is logged and stays due: one schedule never holds back the others.
 */
export async function fireDueSchedules(ctx: StoreContext, now: number): Promise<FireReport> {
  const outcomes: Outcome[] = [];
  for (let round = 0; round < FIRE_ROUNDS; round++) {
    const { items } = await ctx.db.query<Pick<ScheduleItem, 'pk' | 'sk'>>({
      index: 'ready',
      partition: SCHEDULES_DUE_PK,
      range: { below: dispatchDueBefore(now) },
      limit: FIRE_BATCH,
    });
    outcomes.push(...(await mapLimit(items, FIRE_CONCURRENCY, (entry) => fireLogged(ctx, entry.sk, now))));
    if (items.length < FIRE_BATCH) break;
  }
  const fired = outcomes.filter((o): o is Job => typeof o === 'object');
  ctx.metrics.enqueued(fired);
  const count = (what: Outcome) => outcomes.filter((o) => o === what).length;
  return { fired, skipped: count('skipped'), lost: count('lost'), failed: count('failed') };
}

async function fireLogged(ctx: StoreContext, name: string, now: number): Promise<Outcome> {
  try {
    return await fire(ctx, name, now);
  } catch (error) {
    log('warn', 'could not fire a due schedule; the next pass tries again', {
      schedule: name,
      ...describeError(error),
    });
    return 'failed';
  }
}

/**
 * Fires one due schedule: its job, and its next fire time, in one transaction. With
 * `overlap: skip` the transaction also checks that the previous fire's job is no longer live
 * (`previousFireEnded`, a `ConditionCheck` on that job's item); if it is, or if the fire's job id
 * is held already, the fire is skipped with a second write that only moves `next_fire_at` on,
 * under the same `stillDueAt` condition.
 */
async function fire(ctx: StoreContext, name: string, now: number): Promise<Job | 'skipped' | 'lost'> {
  // Consistent: the index may lag a pass that fired it a moment ago.
  const item = await ctx.db.get<ScheduleItem>(scheduleKey(name));
  const due = item?.next_fire_at;
  if (!item || item.paused || due === undefined || due > now) return 'lost';
  // Catch-up: the latest fire time passed, once, however many were missed.
  const fireAt = Math.max(due, lastFireAtOrBefore(item, now) ?? due);
  const advance = { set: { ...waitingFor(name, nextFireAfter(item, now)) } };
  const job = await jobOf(ctx, item, fireJobId(name, fireAt), now);
  const nowSeconds = seconds(now);
  const writes: TransactWrite[] = [
    updateOf<ScheduleItem>(scheduleKey(name), stillDueAt(due), {
      set: { ...advance.set, ...lastJob(job.queue, job.id, fireAt).set },
    }),
    putOf(job, idFree(nowSeconds)),
  ];
  if (item.overlap === 'skip' && item.last_job_id !== undefined && item.last_job_queue !== undefined) {
    writes.push(checkOf(jobKey(item.last_job_queue, item.last_job_id), previousFireEnded(nowSeconds)));
  }
  const done = await ctx.db.transact(writes);
  if (done.ok) return toJob(job);
  if (done.refusals[0]) return 'lost';
  const skipped = await ctx.db.update<ScheduleItem>(scheduleKey(name), stillDueAt(due), advance);
  return skipped.ok ? 'skipped' : 'lost';
}
