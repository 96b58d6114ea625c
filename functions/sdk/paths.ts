/**
 * Where the client sends each call: the API's paths, and which calls belong on the managed routes
 * (the server's route table, functions/api/routes.ts, is the truth; the client imports nothing of
 * the server).
 */
import { RelayApiError } from './errors.ts';
import type { ChildJobInput, JobFilter, JobInput } from './types.ts';

export const segment = encodeURIComponent;
export const jobPath = (queue: string, id: string) => `/v1/queues/${segment(queue)}/jobs/${segment(id)}`;
export const schedulePath = (name: string) => `/v1/schedules/${segment(name)}`;
export const runPath = (queue: string, id: string, runId: string) =>
  `/v2/queues/${segment(queue)}/jobs/${segment(id)}/run-id/${segment(runId)}`;

/** Where the routes that start commands live (the server's `MANAGED_PREFIX`). */
export const MANAGED = '/v1/managed';

/** The managed twin of a `/v1/…` route: `/v1/queues/q/…` → `/v1/managed/queues/q/…`. */
export const managedTwin = (path: string) => `${MANAGED}${path.slice('/v1'.length)}`;

/** A filter as the API names its fields. */
export const filterFields = (f: JobFilter) => ({
  status: f.status,
  error_contains: f.errorContains,
  created_before: f.createdBefore,
  created_after: f.createdAfter,
});

/** Whether a job, or any job its outcomes chain, runs a command: then only the managed route takes it. */
export const startsCommands = (job: JobInput | ChildJobInput): boolean =>
  job.type === 'SHELL' ||
  (job.on_success !== undefined && startsCommands(job.on_success)) ||
  (job.on_failure !== undefined && startsCommands(job.on_failure));

/**
 * The API's answer when a route for pull jobs was asked to start a command again: a managed job
 * retried or requeued, a managed schedule resumed or triggered.
 */
export const isManagedJob = (error: unknown) =>
  error instanceof RelayApiError &&
  error.status === 403 &&
  (error.code === 'wrong_job_kind' || error.code === 'use_managed_route');
