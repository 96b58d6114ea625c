/**
 * What the OpenAPI document says of each route in the route table: its summary, the zod schemas
 * of its query and body, what it answers on success, and the domain errors its operation can
 * raise (errors.ts maps them). The errors every route of a kind shares (bad input, auth, a busy
 * store) are added by openapi.ts from the route's shape, so this table holds only what differs.
 */
import type * as z from 'zod';
import { bulkBody, listQuery } from './filter-schemas.ts';
import { queueLimitsBody, queueSettingsBody } from './queue-schemas.ts';
import { noQuery } from './run-schemas.ts';
import { scheduleBody, schedulePutBody } from './schedule-schemas.ts';
import {
  claimQueryV1,
  claimQueryV2,
  enqueueMode,
  failBody,
  heartbeatState,
  logsQuery,
  nativeJob,
  pageQuery,
  relayV1Batch,
  relayV1Job,
  relayV2Batch,
  relayV2Requeue,
  requeueAllBody,
  seedJobQuery,
  seedNextQuery,
} from './schemas.ts';
import {
  bulkReportView,
  jobPageView,
  logsView,
  nativeJobView,
  openApiView,
  queueLimitsView,
  queueListView,
  queueSettingsView,
  queueStatsView,
  queueView,
  relayV1JobView,
  relayV2JobView,
  requeueReportView,
  runsView,
  scheduleListView,
  scheduleView,
} from './view-schemas.ts';

/** A success answer: its description and body schema (none: an empty body). */
export interface Answer {
  readonly description: string;
  readonly body?: z.ZodType;
}

/** The domain errors an operation raises, by status (errors.ts): 403, 404, 409, 422. */
export type DomainStatus = 403 | 404 | 409 | 422;

export interface RouteDoc {
  readonly summary: string;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The body may be left out (a heartbeat without state). */
  readonly optionalBody?: boolean;
  /** A claim: the claimer may name itself in `X-Relay-Worker` (run-schemas.ts). */
  readonly claims?: boolean;
  readonly ok: Readonly<Partial<Record<200 | 201 | 202 | 204, Answer>>>;
  readonly errors?: readonly DomainStatus[];
  /** Whether the route reads or writes the store, and so can answer "busy". @default true */
  readonly store?: boolean;
}

const accepted: Answer = { description: 'Accepted: the change is in DynamoDB.' };
const deleted: Answer = { description: 'Done, whether or not there was a job (idempotent).' };
const noJobs: Answer = {
  description: 'No job to hand out; with `Retry-After` when the queue is over its rate limit.',
};
const job: Answer = { description: 'The job.', body: nativeJobView };
const schedule: Answer = { description: 'The schedule.', body: scheduleView };
const relayV1Jobs: Answer = { description: 'The claimed jobs.', body: relayV1JobView.array() };

/** relay-rs's seed routes, served bare and under `/v1`. */
function seed(prefix: '' | '/v1'): Record<string, RouteDoc> {
  return {
    [`POST ${prefix}/enqueue`]: {
      summary: 'Enqueue one job (relay-rs seed route).',
      body: relayV1Job,
      ok: { 202: accepted },
      errors: [409],
    },
    [`POST ${prefix}/enqueue/batch`]: {
      summary: 'Enqueue jobs; existing ids are skipped (relay-rs seed route).',
      body: relayV1Batch,
      ok: { 202: accepted },
    },
    [`GET ${prefix}/next`]: {
      summary: 'Claim the next job of `queue` (one object), or `num_jobs` of them (an array).',
      query: seedNextQuery,
      claims: true,
      ok: { 200: { description: 'The claimed job, or jobs.', body: relayV1JobView }, 204: noJobs },
    },
    [`PATCH ${prefix}/heartbeat`]: {
      summary: "Extend a running job's lease; the body, if any, is its new state.",
      query: seedJobQuery,
      body: heartbeatState,
      optionalBody: true,
      ok: { 202: accepted },
      errors: [404],
    },
    [`DELETE ${prefix}/complete`]: {
      summary: 'Complete (delete) a job.',
      query: seedJobQuery,
      ok: { 200: deleted },
    },
    [`POST ${prefix}/reschedule`]: {
      summary: 'End the run of a job and enqueue it again.',
      body: relayV1Job,
      ok: { 202: accepted },
      errors: [404, 409],
    },
  };
}

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /health': { summary: 'Liveness.', ok: { 200: { description: 'Up.' } }, store: false },
  'GET /openapi.json': {
    summary: 'This document.',
    ok: { 200: { description: 'The OpenAPI 3.1 document of this API.', body: openApiView } },
    store: false,
  },

  // relay-rs v1
  'POST /v1/queues/jobs': {
    summary: 'Enqueue jobs; a single job whose id exists is a conflict, a batch skips existing ids.',
    body: relayV1Batch,
    ok: { 202: accepted },
    errors: [409],
  },
  'PUT /v1/queues/jobs': {
    summary: 'End the run of a job and enqueue it again (reschedule).',
    body: relayV1Job,
    ok: { 202: accepted },
    errors: [404, 409],
  },
  'GET /v1/queues/{queue}/jobs': {
    summary: 'Claim up to `num_jobs` jobs (default 1; 0 claims none).',
    query: claimQueryV1,
    claims: true,
    ok: { 200: relayV1Jobs, 204: noJobs },
  },
  'HEAD /v1/queues/{queue}/jobs/{id}': {
    summary: 'Whether a live job exists (200) or not (404).',
    ok: { 200: { description: 'It exists.' } },
    errors: [404],
  },
  'GET /v1/queues/{queue}/jobs/{id}': {
    summary: 'A live job, or 404 with an empty body.',
    ok: { 200: { description: 'The job.', body: relayV1JobView } },
    errors: [404],
  },
  'PATCH /v1/queues/{queue}/jobs/{id}': {
    summary: "Extend a running job's lease; the body, if any, is its new state.",
    body: heartbeatState,
    optionalBody: true,
    ok: { 202: accepted },
    errors: [404],
  },
  'DELETE /v1/queues/{queue}/jobs/{id}': { summary: 'Complete (delete) a job.', ok: { 200: deleted } },
  ...seed(''),
  ...seed('/v1'),

  // relay v2
  'POST /v2/queues/jobs': {
    summary: 'Enqueue jobs; `mode` says what an existing id does (unique, ignore, replace).',
    query: enqueueMode,
    body: relayV2Batch,
    ok: { 202: accepted },
    errors: [409],
  },
  'GET /v2/queues/{queue}/jobs': {
    summary: 'Claim up to `num_jobs` jobs (default 1).',
    query: claimQueryV2,
    claims: true,
    ok: { 200: { description: 'The claimed jobs.', body: relayV2JobView.array() }, 204: noJobs },
  },
  'HEAD /v2/queues/{queue}/jobs/{id}': {
    summary: 'Whether a live job exists (200) or not (404).',
    ok: { 200: { description: 'It exists.' } },
    errors: [404],
  },
  'GET /v2/queues/{queue}/jobs/{id}': {
    summary: 'A live job, or 404 with an empty body.',
    ok: { 200: { description: 'The job.', body: relayV2JobView } },
    errors: [404],
  },
  'DELETE /v2/queues/{queue}/jobs/{id}': {
    summary: 'Delete a job, whatever its state.',
    ok: { 200: deleted },
    errors: [409],
  },
  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': {
    summary: "Extend the run's lease; the body, if any, is the job's new state.",
    body: heartbeatState,
    optionalBody: true,
    ok: { 202: accepted },
    errors: [404],
  },
  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': {
    summary: 'End the run and enqueue the jobs of the body in one transaction.',
    query: enqueueMode,
    body: relayV2Requeue,
    ok: { 202: accepted },
    errors: [409],
  },
  'DELETE /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': {
    summary: 'Complete the run (idempotent).',
    ok: { 200: deleted },
  },

  // Relay native
  'POST /v1/jobs': {
    summary: 'Enqueue a pull job (managed jobs: `POST /v1/managed/jobs`).',
    body: nativeJob,
    ok: { 201: { description: 'The job, as written.', body: nativeJobView } },
    errors: [403, 409],
  },
  'GET /v1/jobs': {
    summary: 'Jobs newest first, filtered by queue, status, error text and creation time.',
    query: listQuery,
    ok: { 200: { description: 'A page of jobs.', body: jobPageView } },
  },
  'GET /v1/queues': {
    summary: 'Every queue with its settings and job counts.',
    ok: { 200: { description: 'The queues.', body: queueListView } },
  },
  'GET /v1/queues/{queue}/stats': {
    summary: "A queue's job counts by status, and its settings.",
    ok: { 200: { description: 'The counts.', body: queueStatsView } },
  },
  'POST /v1/queues/{queue}/pause': {
    summary: 'Pause a queue: it takes jobs and hands none out.',
    ok: { 200: { description: 'The queue.', body: queueView } },
  },
  'POST /v1/queues/{queue}/resume': {
    summary: 'Resume a queue; its waiting managed jobs are dispatched again.',
    ok: { 200: { description: 'The queue.', body: queueView } },
  },
  'GET /v1/queues/{queue}/settings': {
    summary: "A queue's settings.",
    ok: { 200: { description: 'The settings.', body: queueSettingsView } },
  },
  'PUT /v1/queues/{queue}/settings': {
    summary: "Set a queue's priority aging.",
    body: queueSettingsBody,
    ok: { 200: { description: 'The queue.', body: queueView } },
  },
  'GET /v1/queues/{queue}/limits': {
    summary: "A queue's rate limit and concurrency limit.",
    ok: { 200: { description: 'The limits.', body: queueLimitsView } },
  },
  'PUT /v1/queues/{queue}/limits': {
    summary: "Set a queue's limits; a field left out keeps its value, null clears it.",
    body: queueLimitsBody,
    ok: { 200: { description: 'The limits.', body: queueLimitsView } },
  },
  'GET /v1/queues/{queue}/jobs/{id}/status': {
    summary: 'A job, whatever its state.',
    ok: { 200: job },
    errors: [404],
  },
  'GET /v1/queues/{queue}/jobs/{id}/runs': {
    summary:
      "A job's runs, oldest first: when each was claimed, started and ended, how, and by which worker.",
    query: noQuery,
    ok: { 200: { description: 'The runs.', body: runsView } },
    errors: [404],
  },
  'GET /v1/queues/{queue}/jobs/{id}/logs': {
    summary: "A managed job's output, oldest first.",
    query: logsQuery,
    ok: { 200: { description: 'A page of log entries.', body: logsView } },
    errors: [404],
  },
  'POST /v1/queues/{queue}/jobs/{id}/fail': {
    summary: 'Fail the running job: retried while retries are left, else dead.',
    body: failBody,
    ok: { 202: { description: 'The job after the failure.', body: nativeJobView } },
    errors: [404, 409],
  },
  'POST /v1/queues/{queue}/jobs/{id}/cancel': {
    summary: 'Cancel a job.',
    ok: { 200: job },
    errors: [404, 409],
  },
  'POST /v1/queues/{queue}/jobs/{id}/retry': {
    summary: 'Run a cancelled, dead or failed pull job again, with fresh retries.',
    ok: { 200: job },
    errors: [403, 404, 409],
  },
  'POST /v1/queues/{queue}/jobs/bulk': {
    summary: 'Retry, cancel or delete the jobs a filter selects, one capped page per call.',
    body: bulkBody,
    ok: { 200: { description: 'What was matched and changed.', body: bulkReportView } },
  },
  'GET /v1/queues/{queue}/dlq': {
    summary: "The queue's dead jobs.",
    query: pageQuery,
    ok: { 200: { description: 'A page of dead jobs.', body: jobPageView } },
  },
  'POST /v1/queues/{queue}/dlq/requeue': {
    summary: 'Requeue dead pull jobs, up to `limit`.',
    body: requeueAllBody,
    optionalBody: true,
    ok: { 200: { description: 'How many were requeued.', body: requeueReportView } },
  },
  'POST /v1/queues/{queue}/dlq/{id}/requeue': {
    summary: 'Requeue one dead pull job.',
    ok: { 200: job },
    errors: [403, 404, 409],
  },
  'DELETE /v1/queues/{queue}/dlq/{id}': {
    summary: 'Delete one dead job.',
    ok: { 204: { description: 'Deleted.' } },
    errors: [404, 409],
  },
  'POST /v1/schedules': {
    summary: 'Create a cron schedule of pull jobs.',
    body: scheduleBody,
    ok: { 201: schedule },
    errors: [403, 409],
  },
  'GET /v1/schedules': {
    summary: 'Every schedule.',
    ok: { 200: { description: 'The schedules.', body: scheduleListView } },
  },
  'GET /v1/schedules/{name}': { summary: 'A schedule.', ok: { 200: schedule }, errors: [404] },
  'PUT /v1/schedules/{name}': {
    summary: 'Create or redefine a schedule of pull jobs.',
    body: schedulePutBody,
    ok: { 200: schedule },
    errors: [403, 409],
  },
  'DELETE /v1/schedules/{name}': {
    summary: 'Delete a schedule.',
    ok: { 204: { description: 'Deleted.' } },
    errors: [404],
  },
  'POST /v1/schedules/{name}/pause': { summary: 'Pause a schedule.', ok: { 200: schedule }, errors: [404] },
  'POST /v1/schedules/{name}/resume': {
    summary: 'Resume a schedule of pull jobs.',
    ok: { 200: schedule },
    errors: [403, 404],
  },
  'POST /v1/schedules/{name}/trigger': {
    summary: "Enqueue a schedule's job now.",
    ok: { 201: { description: 'The job enqueued.', body: nativeJobView } },
    errors: [403, 404, 409],
  },

  // Relay native, starting commands (404 where managed jobs are not enabled)
  'POST /v1/managed/jobs': {
    summary: 'Submit a managed job: Relay runs its command.',
    body: nativeJob,
    ok: { 201: { description: 'The job, as written.', body: nativeJobView } },
    errors: [403, 404, 409],
  },
  'POST /v1/managed/queues/{queue}/jobs/{id}/retry': {
    summary: 'Run a cancelled, dead or failed managed job again, with fresh retries.',
    ok: { 200: job },
    errors: [404, 409],
  },
  'POST /v1/managed/queues/{queue}/jobs/bulk': {
    summary: 'Retry the managed jobs a filter selects.',
    body: bulkBody,
    ok: { 200: { description: 'What was matched and changed.', body: bulkReportView } },
    errors: [404],
  },
  'POST /v1/managed/queues/{queue}/dlq/requeue': {
    summary: 'Requeue dead managed jobs, up to `limit`.',
    body: requeueAllBody,
    optionalBody: true,
    ok: { 200: { description: 'How many were requeued.', body: requeueReportView } },
    errors: [404],
  },
  'POST /v1/managed/queues/{queue}/dlq/{id}/requeue': {
    summary: 'Requeue one dead managed job.',
    ok: { 200: job },
    errors: [404, 409],
  },
  'POST /v1/managed/schedules': {
    summary: 'Create a cron schedule whose job runs a command.',
    body: scheduleBody,
    ok: { 201: schedule },
    errors: [403, 404, 409],
  },
  'PUT /v1/managed/schedules/{name}': {
    summary: 'Create or redefine a schedule whose job runs a command.',
    body: schedulePutBody,
    ok: { 200: schedule },
    errors: [403, 404, 409],
  },
  'POST /v1/managed/schedules/{name}/resume': {
    summary: 'Resume a schedule whose job runs a command.',
    ok: { 200: schedule },
    errors: [404],
  },
  'POST /v1/managed/schedules/{name}/trigger': {
    summary: "Enqueue a managed schedule's job now.",
    ok: { 201: { description: 'The job enqueued.', body: nativeJobView } },
    errors: [404, 409],
  },
};
