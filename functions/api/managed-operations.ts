/**
 * The native routes that start commands: submit, retry and requeue managed (SHELL) jobs. They are
 * the only way a command comes to run, so on AWS they are IAM resources of their own, granted
 * apart from the routes that enqueue and work pull jobs (`grantRunCommands`).
 *
 * Each writes the job first (the 2xx means it is durable), then sends its dispatch hint.
 */
import { describeError, log } from '../core/log.ts';
import type { Job } from '../jobs/model.ts';
import { settleCommands } from './commands.ts';
import type { ApiContext, Operations } from './context.ts';
import { HttpError, type HttpRequest, hasBody, json, readJson, validBody } from './http.ts';
import { jobParams, view } from './native-operations.ts';
import { fromNative, nativeJob, requeueAllBody } from './schemas.ts';

/** Where managed jobs are not enabled (a deployment without them), these routes do not exist. */
function dispatchOf(ctx: ApiContext) {
  if (!ctx.dispatch) {
    throw new HttpError(404, 'managed jobs are not enabled on this Relay', 'managed_jobs_disabled');
  }
  return ctx.dispatch;
}

/**
 * Sends a managed job's dispatch hint once the job is durable. A failed send is not the caller's
 * problem and loses nothing: the maintenance sweep re-sends hints of due jobs that were not run.
 */
async function dispatchAfterWrite(job: Job, ctx: ApiContext): Promise<void> {
  try {
    await dispatchOf(ctx).dispatch(job, ctx.now());
  } catch (error) {
    log('warn', 'dispatch failed after a write; the sweep will repair it', {
      queue: job.queue,
      job_id: job.id,
      ...describeError(error),
    });
  }
}

/** The body as a managed job: `type` may be omitted here, since every job on this route is one. */
function managedBody(req: HttpRequest): unknown {
  const body = readJson(req);
  if (body && typeof body === 'object' && !Array.isArray(body) && !('type' in body)) {
    return { ...body, type: 'SHELL' };
  }
  return body;
}

export const managedOperations: Operations = {
  'POST /v1/managed/jobs': async (req, ctx) => {
    const input = validBody(nativeJob, managedBody(req));
    dispatchOf(ctx);
    const settled = settleCommands(input, input.queue, ctx.commands);
    const { job } = await ctx.store.enqueue(fromNative(settled, ctx.now(), ctx.newId), 'unique');
    await dispatchAfterWrite(job, ctx);
    return view(201, job, ctx);
  },

  'POST /v1/managed/queues/{queue}/jobs/{id}/retry': async (req, ctx) => {
    dispatchOf(ctx);
    const { queue, id } = jobParams(req);
    const job = await ctx.store.retry(queue, id, 'managed');
    await dispatchAfterWrite(job, ctx);
    return view(200, job, ctx);
  },

  'POST /v1/managed/queues/{queue}/dlq/requeue': async (req, ctx) => {
    dispatchOf(ctx);
    const body = hasBody(req) ? validBody(requeueAllBody, readJson(req)) : {};
    // Each is dispatched as it is requeued, as a single requeue is.
    const { requeued, skipped } = await ctx.store.requeueAllDead(req.params.queue ?? '', {
      limit: body.limit,
      kind: 'managed',
      onRequeued: (job) => dispatchAfterWrite(job, ctx),
    });
    return json(200, { requeued, skipped_pull: skipped });
  },

  'POST /v1/managed/queues/{queue}/dlq/{id}/requeue': async (req, ctx) => {
    dispatchOf(ctx);
    const { queue, id } = jobParams(req);
    const job = await ctx.store.requeueDead(queue, id, 'managed');
    await dispatchAfterWrite(job, ctx);
    return view(200, job, ctx);
  },
};
