/**
 * Relay's native API: JSON in, JSON out, errors as `{"error":{"code","message"}}`.
 */
import { describeError, log } from '../core/log.ts';
import { JobNotFoundError } from '../jobs/errors.ts';
import type { Job, JobKind } from '../jobs/model.ts';
import type { Page } from '../jobs/store.ts';
import { refuseCommands } from './commands.ts';
import type { ApiContext, Operations } from './context.ts';
import { listQuery, toJobFilter } from './filter-schemas.ts';
import {
  empty,
  HttpError,
  type HttpRequest,
  hasBody,
  json,
  readJson,
  validBody,
  validQuery,
} from './http.ts';
import { noQuery, runView } from './run-schemas.ts';
import {
  failBody,
  fromNative,
  logsQuery,
  nativeJob,
  nativeView,
  pageQuery,
  requeueAllBody,
} from './schemas.ts';

export const jobParams = (req: HttpRequest) => ({ queue: req.params.queue ?? '', id: req.params.id ?? '' });

/** Cursors are the store's boundary keys, made opaque and URL-safe. */
export const encodeCursor = (boundary: string | null) =>
  boundary === null ? null : Buffer.from(boundary, 'utf8').toString('base64url');

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const boundary = Buffer.from(cursor, 'base64url').toString('utf8');
  // Every cursor this API hands out is a key of at most 1 KB (DynamoDB's limit on a sort key).
  if (!boundary || boundary.length > 1024 || Buffer.from(boundary, 'utf8').toString('base64url') !== cursor) {
    throw new HttpError(400, 'cursor is not one this API returned');
  }
  return boundary;
}

const page = (result: Page<Job>, ctx: ApiContext) =>
  json(200, {
    jobs: result.items.map((job) => nativeView(job, ctx.now())),
    next_cursor: encodeCursor(result.cursor),
  });

export const view = (status: number, job: Job, ctx: ApiContext) => json(status, nativeView(job, ctx.now()));

/** Requeues the queue's dead jobs of `kind`, up to the body's `limit` (each managed one hinted). */
export function requeueAllDead(req: HttpRequest, ctx: ApiContext, kind: JobKind) {
  const body = hasBody(req) ? validBody(requeueAllBody, readJson(req)) : {};
  return ctx.jobs.requeueAllDead(req.params.queue ?? '', { limit: body.limit, kind });
}

/**
 * Stops the Fargate task of a job just cancelled, if it has one. The cancel is durable; stopping
 * the task only hastens what the runner's next failed heartbeat does, so a failure is only logged.
 */
export async function stopCancelledTask(job: Job, ctx: ApiContext): Promise<void> {
  if (!job.task_arn || !ctx.stopTask) return;
  await ctx.stopTask(job.task_arn, `job ${job.queue}/${job.id} was cancelled`).catch((error: unknown) => {
    log('warn', 'could not stop the task of a cancelled job', {
      queue: job.queue,
      job_id: job.id,
      ...describeError(error),
    });
  });
}

export const nativeOperations: Operations = {
  'POST /v1/jobs': async (req, ctx) => {
    const input = validBody(nativeJob, readJson(req));
    // Starting a command is a permission of its own: such jobs have their own route.
    refuseCommands(input);
    const { job } = await ctx.store.enqueue(fromNative(input, ctx.now(), ctx.newId), 'unique');
    return view(201, job, ctx);
  },

  'GET /v1/queues/{queue}/jobs/{id}/logs': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const q = validQuery(logsQuery, req);
    if (!(await ctx.store.get(queue, id))) {
      throw new JobNotFoundError(queue, id);
    }
    // The store checks the cursor's format (functions/jobs/logs.ts): a bad one is a 400.
    const result = await ctx.store.readLogs(queue, id, {
      runId: q.run_id,
      after: decodeCursor(q.after),
      limit: q.limit,
    });
    return json(200, { entries: result.items, next_cursor: encodeCursor(result.cursor) });
  },

  'GET /v1/queues/{queue}/jobs/{id}/runs': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    validQuery(noQuery, req);
    const runs = await ctx.store.runs(queue, id);
    return json(200, { runs: runs.map(runView) });
  },

  'GET /v1/jobs': async (req, ctx) => {
    const q = validQuery(listQuery, req);
    const result = await ctx.store.list({
      ...toJobFilter(q),
      queue: q.queue,
      limit: q.limit,
      cursor: decodeCursor(q.cursor),
    });
    return page(result, ctx);
  },

  'GET /v1/queues/{queue}/jobs/{id}/status': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const job = await ctx.store.get(queue, id);
    if (!job) throw new JobNotFoundError(queue, id);
    return view(200, job, ctx);
  },

  'POST /v1/queues/{queue}/jobs/{id}/fail': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const body = validBody(failBody, readJson(req));
    const job = await ctx.store.fail(queue, id, { error: body.error, runId: body.run_id, retry: body.retry });
    return view(202, job, ctx);
  },

  'POST /v1/queues/{queue}/jobs/{id}/cancel': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const job = await ctx.store.cancel(queue, id);
    await stopCancelledTask(job, ctx);
    return view(200, job, ctx);
  },

  'POST /v1/queues/{queue}/jobs/{id}/retry': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    return view(200, await ctx.store.retry(queue, id, 'pull'), ctx);
  },

  'GET /v1/queues/{queue}/dlq': async (req, ctx) => {
    const q = validQuery(pageQuery, req);
    return page(await ctx.store.deadLetters(req.params.queue ?? '', q.limit, decodeCursor(q.cursor)), ctx);
  },

  'POST /v1/queues/{queue}/dlq/requeue': async (req, ctx) => {
    // Pull jobs only: dead managed jobs are requeued at /v1/managed/… and reported as skipped.
    const { requeued, skipped } = await requeueAllDead(req, ctx, 'pull');
    return json(200, { requeued, skipped_managed: skipped });
  },

  'POST /v1/queues/{queue}/dlq/{id}/requeue': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    return view(200, await ctx.store.requeueDead(queue, id, 'pull'), ctx);
  },

  'DELETE /v1/queues/{queue}/dlq/{id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    await ctx.store.deleteDead(queue, id);
    return empty(204);
  },
};
