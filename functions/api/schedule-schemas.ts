/**
 * Wire shapes of cron schedules: the body that defines one (zod) and the view of one.
 *
 * A schedule's job is the native job shape without what each fire decides for itself: its `id`
 * (`<name>@<fire time>`), its time (`run_at`, `delay`) and an `idempotency_key`, which a second
 * fire would find taken.
 */
import * as z from 'zod';
import {
  cronProblem,
  type NewSchedule,
  nextFireTimes,
  OVERLAPS,
  type Schedule,
  type ScheduledJob,
} from '../jobs/schedule-model.ts';
import { fromNative, type NativeJobInput, nativeJob, shownPayload } from './schemas.ts';

/** Letters, digits, `.`, `_` and `-`: safe in a URL path, a shell and a job id (`<name>@<time>`). */
export const scheduleName = z
  .string({ error: 'name must be a string' })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/,
    'name must be 1 to 200 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

/** Job fields a fire decides, so a schedule's job may not carry them. */
const PER_FIRE = ['id', 'run_at', 'delay', 'idempotency_key'] as const;

const scheduledJob = z
  .unknown()
  .superRefine((job, ctx) => {
    if (typeof job !== 'object' || job === null) return;
    for (const field of PER_FIRE.filter((f) => f in job)) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `a schedule's job has no \`${field}\`: each fire enqueues it now, with the id <name>@<fire time>`,
      });
    }
  })
  .pipe(nativeJob);

const definition = {
  cron: z.string({ error: 'cron must be a string' }),
  timezone: z.string({ error: 'timezone must be an IANA time zone name' }).default('UTC'),
  job: scheduledJob,
  paused: z.boolean().default(false),
  overlap: z.enum(OVERLAPS).default('allow'),
};

/** A cron expression and zone that schedule something, or a 422 naming what is wrong. */
function cronCheck(body: { cron: string; timezone: string }, ctx: z.RefinementCtx) {
  const problem = cronProblem(body);
  if (problem) ctx.addIssue({ code: 'custom', path: [problem.split(' ')[0] ?? 'cron'], message: problem });
}

/** `POST /v1/schedules`. */
export const scheduleBody = z.strictObject({ name: scheduleName, ...definition }).superRefine(cronCheck);

/** `PUT /v1/schedules/{name}`: the name is the path's; a body may repeat it. */
export const schedulePutBody = z
  .strictObject({ name: scheduleName.optional(), ...definition })
  .superRefine(cronCheck);

type ScheduleInput = z.output<typeof schedulePutBody>;

/** The schedule to store: its job as the store takes it, without the fields a fire decides. */
export function toNewSchedule(
  name: string,
  input: ScheduleInput,
  job: NativeJobInput = input.job,
): NewSchedule {
  const {
    id: _id,
    run_at: _runAt,
    run_at_text: _runAtText,
    idempotency_key: _key,
    parent: _parent,
    ...scheduled
  } = fromNative(job, 0, () => name);
  return {
    name,
    cron: input.cron,
    timezone: input.timezone,
    overlap: input.overlap,
    paused: input.paused,
    job: scheduled satisfies ScheduledJob,
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** How many upcoming fire times a view lists. */
const SHOWN_FIRES = 5;

/** A schedule as the API shows it, with its next fire times (none while paused). */
export const scheduleView = (schedule: Schedule) => ({
  name: schedule.name,
  cron: schedule.cron,
  timezone: schedule.timezone,
  overlap: schedule.overlap,
  paused: schedule.paused,
  kind: schedule.kind,
  job: { ...schedule.job, payload: shownPayload({ ...schedule.job, type: schedule.job.type ?? null }) },
  next_fire_at: iso(schedule.next_fire_at),
  next_fire_times:
    schedule.next_fire_at === null
      ? []
      : [schedule.next_fire_at, ...nextFireTimes(schedule, schedule.next_fire_at, SHOWN_FIRES - 1)].map(iso),
  last_fire_at: iso(schedule.last_fire_at),
  last_job: schedule.last_job,
  created_at: iso(schedule.created_at),
  updated_at: iso(schedule.updated_at),
});
