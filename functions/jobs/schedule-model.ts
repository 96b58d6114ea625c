/**
 * Cron schedules: what a schedule is, its stored shape, and its fire times.
 *
 * A schedule enqueues a job at each fire time of a cron expression read in an IANA time zone.
 * Fire times come from `croner`, which reads a local time that does not exist (a spring-forward
 * gap) as the next valid instant and a local time that happens twice (a fall-back hour) as its
 * first instant, so each local fire time is one UTC instant and fires once.
 */
import { Cron } from 'croner';
import type { ItemKey } from './keys.ts';
import type { JobKind, NewJob } from './model.ts';

export const OVERLAPS = ['allow', 'skip'] as const;
/** `skip`: no fire enqueues while the job of the schedule's previous fire is still live. */
export type Overlap = (typeof OVERLAPS)[number];

/** The job a schedule enqueues: a job without what each fire decides (its id) or that a fire cannot keep. */
export type ScheduledJob = Omit<NewJob, 'id' | 'run_at' | 'run_at_text' | 'idempotency_key' | 'parent'>;

/** A schedule as callers give it. */
export interface NewSchedule {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly overlap: Overlap;
  readonly paused: boolean;
  readonly job: ScheduledJob;
}

/** A schedule as callers see it. */
export interface Schedule extends NewSchedule {
  /** `managed` when its job runs a command: only the managed routes may create, resume or trigger it. */
  readonly kind: JobKind;
  /** The next fire time (epoch ms); null while paused, or when the expression never fires again. */
  readonly next_fire_at: number | null;
  /** The fire time (or trigger time) of the last job it enqueued. */
  readonly last_fire_at: number | null;
  /** Queue and id of the last job it enqueued: what `overlap: skip` checks. */
  readonly last_job: { readonly queue: string; readonly id: string } | null;
  readonly created_at: number;
  /** Moves on every change of the definition (create, replace, pause, resume), not on fires. */
  readonly updated_at: number;
}

/** The stored shape: one item per schedule, in the `schedules` partition. */
export interface ScheduleItem extends ItemKey {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly overlap: Overlap;
  readonly paused: boolean;
  readonly kind: JobKind;
  /** The job, as JSON text. */
  readonly job: string;
  readonly next_fire_at?: number;
  /** Its `ready` index entry while it waits for its next fire (`SCHEDULES_DUE_PK`, `scheduleDueKey`). */
  readonly ready_pk?: string;
  readonly ready_sk?: string;
  readonly last_fire_at?: number;
  readonly last_job_queue?: string;
  readonly last_job_id?: string;
  readonly created_at: number;
  readonly updated_at: number;
}

export function toSchedule(item: ScheduleItem): Schedule {
  return {
    name: item.name,
    cron: item.cron,
    timezone: item.timezone,
    overlap: item.overlap,
    paused: item.paused,
    job: JSON.parse(item.job) as ScheduledJob,
    kind: item.kind,
    next_fire_at: item.next_fire_at ?? null,
    last_fire_at: item.last_fire_at ?? null,
    last_job:
      item.last_job_id === undefined ? null : { queue: item.last_job_queue ?? '', id: item.last_job_id },
    created_at: item.created_at,
    updated_at: item.updated_at,
  };
}

/** A schedule's expression and zone: what its fire times are computed from. */
export type CronSpec = Pick<NewSchedule, 'cron' | 'timezone'>;

/** Standard 5 fields, or 6 with seconds first; nothing else (no years, no `@daily`). */
const FIELDS = /^\S+(\s+\S+){4,5}$/;

const cronOf = (spec: CronSpec): Cron =>
  new Cron(spec.cron.trim(), { timezone: spec.timezone, mode: '5-or-6-parts', paused: true });

/** Why the expression or zone cannot schedule anything, or `undefined` when it can. */
export function cronProblem(spec: CronSpec): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: spec.timezone });
  } catch {
    return `timezone \`${spec.timezone}\` is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`;
  }
  if (!FIELDS.test(spec.cron.trim())) {
    return `cron \`${spec.cron}\` must have 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first`;
  }
  try {
    if (!cronOf(spec).nextRun()) return `cron \`${spec.cron}\` never fires`;
  } catch (error) {
    return `cron \`${spec.cron}\` is not valid: ${(error as Error).message.replace(/^CronPattern: /, '')}`;
  }
  return undefined;
}

/** The first fire time strictly after `after` (epoch ms), or `undefined` when there is none. */
export function nextFireAfter(spec: CronSpec, after: number): number | undefined {
  return cronOf(spec).nextRun(new Date(after))?.getTime();
}

/** Up to `n` fire times strictly after `after`. */
export const nextFireTimes = (spec: CronSpec, after: number, n: number): number[] =>
  cronOf(spec)
    .nextRuns(n, new Date(after))
    .map((d) => d.getTime());

/** The last fire time at or before `at`, or `undefined` when there is none. */
export function lastFireAtOrBefore(spec: CronSpec, at: number): number | undefined {
  return cronOf(spec)
    .previousRuns(1, new Date(at + 1))[0]
    ?.getTime();
}

/** The id of the job a fire enqueues: the same for every pass that fires that time. */
export const fireJobId = (name: string, fireAt: number): string =>
  `${name}@${new Date(fireAt).toISOString()}`;

/** The id of the job a manual trigger enqueues; `~trigger` keeps it apart from any fire's. */
export const triggerJobId = (name: string, at: number): string =>
  `${name}@${new Date(at).toISOString()}~trigger`;
