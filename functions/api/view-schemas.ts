/**
 * What the API answers, as zod schemas: the shapes the views in schemas.ts, queue-schemas.ts and
 * schedule-schemas.ts write. Only the OpenAPI document uses them (the views are plain functions);
 * the OpenAPI tests parse real answers with them, so a view and its schema cannot drift apart.
 */
import * as z from 'zod';
import { VIEW_STATUSES } from '../jobs/model.ts';
import { OVERLAPS } from '../jobs/schedule-model.ts';

const time = z.iso.datetime({ offset: true }).nullable();
const json = z.unknown();
const anyObject = z.record(z.string(), z.unknown());

/** `{"error":{"code","message"}}`: every error of the native routes. */
export const errorView = z.object({
  error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()),
});

/** relay-rs v1's job. */
export const relayV1JobView = z.strictObject({
  id: z.string(),
  queue: z.string(),
  timeout: z.number().int(),
  max_retries: z.number().int().describe('-1: retried forever'),
  payload: json,
  state: json,
  run_at: time,
  updated_at: time,
});

/** relay v2's job. */
export const relayV2JobView = z.strictObject({
  queue: z.string(),
  id: z.string(),
  timeout: z.number().int(),
  max_retries: z.number().int().nullable(),
  retries_remaining: z.number().int().nullable(),
  payload: json,
  state: json,
  run_id: z.string().nullable(),
  run_at: time,
  updated_at: time,
  created_at: time,
});

/** Relay's native job view. */
export const nativeJobView = z.strictObject({
  queue: z.string(),
  id: z.string(),
  status: z.enum(VIEW_STATUSES),
  payload: json,
  state: json,
  priority: z.number().int(),
  timeout: z.number().int(),
  max_retries: z.number().int().nullable(),
  retries_remaining: z.number().int().nullable(),
  attempts: z.number().int(),
  run_id: z.string().nullable(),
  lease_expires_at: time,
  last_error: z.string().nullable(),
  dead_reason: z.string().nullable(),
  idempotency_key: z.string().nullable(),
  backoff: anyObject.nullable(),
  type: z.string().nullable(),
  parent: anyObject.nullable(),
  children: z.array(z.string()),
  result: anyObject.nullable(),
  run_at: time,
  created_at: time,
  updated_at: time,
});

export const jobPageView = z.strictObject({
  jobs: z.array(nativeJobView),
  next_cursor: z.string().nullable(),
});

const limits = {
  rate_per_second: z.number().nullable(),
  burst: z.number().int().nullable(),
  max_running: z.number().int().nullable(),
};

const counts = {
  pending: z.number().int(),
  scheduled: z.number().int(),
  running: z.number().int(),
  failed: z.number().int(),
  dead: z.number().int(),
};

export const queueView = z.strictObject({
  name: z.string(),
  ordering: z.enum(['priority', 'strict']),
  shards: z.number().int(),
  paused: z.boolean(),
  paused_at: time,
  aging_seconds_per_level: z.number().nullable(),
  ...limits,
});

export const queueListView = z.strictObject({ queues: z.array(queueView.extend(counts)) });

export const queueStatsView = z.strictObject({
  queue: z.string(),
  paused: z.boolean(),
  paused_at: time,
  aging_seconds_per_level: z.number().nullable(),
  ...limits,
  ...counts,
});

/** A queue's settings: its view, or the defaults of a queue never used (no layout yet). */
export const queueSettingsView = queueView.partial({ ordering: true, shards: true });

export const queueLimitsView = z.strictObject({ queue: z.string(), ...limits });

/** A job's runs, oldest first (`runView`). */
export const runsView = z.strictObject({
  runs: z.array(
    z.strictObject({
      run_id: z.string(),
      attempt: z.number().int(),
      outcome: z.string().nullable(),
      claimed_at: time,
      started_at: time,
      ended_at: time,
      duration_ms: z.number().nullable(),
      exit_code: z.number().int().nullable(),
      error: z.string().nullable(),
      worker: z.string().nullable(),
    }),
  ),
});

export const logsView = z.strictObject({ entries: z.array(anyObject), next_cursor: z.string().nullable() });

export const bulkReportView = z.object({
  action: z.string(),
  dry_run: z.boolean(),
  matched: z.number().int(),
  changed: z.number().int(),
  skipped_changed: z.number().int(),
  skipped_managed: z.number().int().optional(),
  skipped_pull: z.number().int().optional(),
  sample_ids: z.array(z.string()),
  next_cursor: z.string().nullable(),
  more: z.boolean(),
});

export const requeueReportView = z.object({
  requeued: z.number().int(),
  skipped_managed: z.number().int().optional(),
  skipped_pull: z.number().int().optional(),
});

export const scheduleView = z.strictObject({
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  overlap: z.enum(OVERLAPS),
  paused: z.boolean(),
  kind: z.enum(['pull', 'managed']),
  job: anyObject,
  next_fire_at: time,
  next_fire_times: z.array(time),
  last_fire_at: time,
  last_job: z.string().nullable(),
  created_at: time,
  updated_at: time,
});

export const scheduleListView = z.strictObject({ schedules: z.array(scheduleView) });

/** The OpenAPI document itself, as `GET /openapi.json` serves it. */
export const openApiView = z.object({ openapi: z.string() }).catchall(z.unknown());
