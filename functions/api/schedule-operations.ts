/**
 * Cron schedules on the native API. A schedule whose job runs a command (a managed schedule) is
 * created, redefined, resumed and triggered only on the managed routes (`/v1/managed/schedules…`),
 * as managed jobs are submitted only there: each of those starts commands. Reading, pausing and
 * deleting a schedule starts none, so the routes for pull jobs serve those for every schedule.
 */
import { ScheduleNotFoundError } from '../jobs/errors.ts';
import type { JobKind } from '../jobs/model.ts';
import { refuseCommands, settleCommands } from './commands.ts';
import type { ApiContext, Operation, Operations } from './context.ts';
import { empty, HttpError, type HttpRequest, type HttpResponse, json, readJson, validBody } from './http.ts';
import { requireManaged } from './managed-operations.ts';
import { view } from './native-operations.ts';
import { scheduleBody, schedulePutBody, scheduleView, toNewSchedule } from './schedule-schemas.ts';
import type { NativeJobInput } from './schemas.ts';

const nameOf = (req: HttpRequest) => req.params.name ?? '';

/** Where a managed schedule is defined, as a 403 on the other routes says. */
const MANAGED_SCHEDULES = 'schedules are defined at /v1/managed/schedules';

/** The body with its job read as a managed job: on the managed routes `job.type` may be omitted. */
function managedBody(req: HttpRequest): unknown {
  const body = readJson(req);
  if (!body || typeof body !== 'object' || !('job' in body)) return body;
  const { job } = body as { job: unknown };
  if (!job || typeof job !== 'object' || Array.isArray(job) || 'type' in job) return body;
  return { ...body, job: { ...job, type: 'SHELL' } };
}

/** A `PUT` body's name, when it gives one, must be the path's. */
function putName(req: HttpRequest, bodyName: string | undefined): string {
  const name = nameOf(req);
  if (bodyName !== undefined && bodyName !== name) {
    throw new HttpError(422, `name \`${bodyName}\` in the body is not the schedule \`${name}\` of the path`);
  }
  return name;
}

/** The request's body as a route of `kind` reads it. */
const bodyOf = (req: HttpRequest, kind: JobKind): unknown =>
  kind === 'managed' ? managedBody(req) : readJson(req);

/**
 * The schedule's job as a route of `kind` may define it: on a managed route its commands settled
 * (default timeout, allow-list), elsewhere refused if it would start any (403).
 */
function definedJob(job: NativeJobInput, ctx: ApiContext, kind: JobKind): NativeJobInput {
  if (kind === 'managed') return settleCommands(job, job.queue, ctx.commands);
  refuseCommands(job, MANAGED_SCHEDULES);
  return job;
}

async function create(req: HttpRequest, ctx: ApiContext, kind: JobKind) {
  const input = validBody(scheduleBody, bodyOf(req, kind));
  const job = definedJob(input.job, ctx, kind);
  const schedule = await ctx.store.createSchedule(toNewSchedule(input.name, input, job));
  return json(201, scheduleView(schedule));
}

async function replace(req: HttpRequest, ctx: ApiContext, kind: JobKind) {
  const input = validBody(schedulePutBody, bodyOf(req, kind));
  const name = putName(req, input.name);
  const job = definedJob(input.job, ctx, kind);
  return json(200, scheduleView(await ctx.store.putSchedule(toNewSchedule(name, input, job), kind)));
}

/** A managed route: there only where managed jobs are enabled. */
const onManagedRoute =
  (operation: (req: HttpRequest, ctx: ApiContext, kind: JobKind) => Promise<HttpResponse>): Operation =>
  (req, ctx) => {
    requireManaged(ctx);
    return operation(req, ctx, 'managed');
  };

const resume = async (req: HttpRequest, ctx: ApiContext, kind: JobKind) =>
  json(200, scheduleView(await ctx.store.resumeSchedule(nameOf(req), kind)));

/** The job a trigger enqueued, a managed one hinted (`JobService`). */
const trigger = async (req: HttpRequest, ctx: ApiContext, kind: JobKind) =>
  view(201, await ctx.jobs.triggerSchedule(nameOf(req), kind), ctx);

export const scheduleOperations: Operations = {
  'POST /v1/schedules': (req, ctx) => create(req, ctx, 'pull'),

  'GET /v1/schedules': async (_req, ctx) =>
    json(200, { schedules: (await ctx.store.listSchedules()).map(scheduleView) }),

  'GET /v1/schedules/{name}': async (req, ctx) => {
    const schedule = await ctx.store.getSchedule(nameOf(req));
    if (!schedule) throw new ScheduleNotFoundError(nameOf(req));
    return json(200, scheduleView(schedule));
  },

  'PUT /v1/schedules/{name}': (req, ctx) => replace(req, ctx, 'pull'),

  'DELETE /v1/schedules/{name}': async (req, ctx) => {
    await ctx.store.deleteSchedule(nameOf(req));
    return empty(204);
  },

  'POST /v1/schedules/{name}/pause': async (req, ctx) =>
    json(200, scheduleView(await ctx.store.pauseSchedule(nameOf(req)))),

  'POST /v1/schedules/{name}/resume': (req, ctx) => resume(req, ctx, 'pull'),

  'POST /v1/schedules/{name}/trigger': (req, ctx) => trigger(req, ctx, 'pull'),
};

/** The schedule routes that start commands: on AWS, IAM resources granted with the managed routes. */
export const managedScheduleOperations: Operations = {
  'POST /v1/managed/schedules': onManagedRoute(create),
  'PUT /v1/managed/schedules/{name}': onManagedRoute(replace),
  'POST /v1/managed/schedules/{name}/resume': onManagedRoute(resume),
  'POST /v1/managed/schedules/{name}/trigger': onManagedRoute(trigger),
};
