/**
 * The native routes that start commands: submit, retry and requeue managed (SHELL) jobs. They are
 * the only way a command comes to run, so on AWS they are IAM resources of their own, granted
 * apart from the routes that enqueue and work pull jobs (`grantRunCommands`).
 *
 * Each writes the job first (the 2xx means it is durable), then sends its dispatch hint
 * (`JobService`): the routes map requests and answers, the service decides what is hinted.
 */
import { settleCommands } from './commands.ts';
import type { ApiContext, Operations } from './context.ts';
import { HttpError, type HttpRequest, json, readJson, validBody } from './http.ts';
import { jobParams, requeueAllDead, view } from './native-operations.ts';
import { fromNative, nativeJob } from './schemas.ts';

/** Where managed jobs are not enabled (a deployment without them), these routes do not exist. */
export function requireManaged(ctx: ApiContext): void {
  if (!ctx.jobs.hints) {
    throw new HttpError(404, 'managed jobs are not enabled on this Relay', 'managed_jobs_disabled');
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
    requireManaged(ctx);
    const settled = settleCommands(input, input.queue, ctx.commands);
    return view(201, await ctx.jobs.submitManaged(fromNative(settled, ctx.now(), ctx.newId)), ctx);
  },

  'POST /v1/managed/queues/{queue}/jobs/{id}/retry': async (req, ctx) => {
    requireManaged(ctx);
    const { queue, id } = jobParams(req);
    return view(200, await ctx.jobs.retry(queue, id, 'managed'), ctx);
  },

  'POST /v1/managed/queues/{queue}/dlq/requeue': async (req, ctx) => {
    requireManaged(ctx);
    // Each is hinted as it is requeued, as a single requeue is.
    const { requeued, skipped } = await requeueAllDead(req, ctx, 'managed');
    return json(200, { requeued, skipped_pull: skipped });
  },

  'POST /v1/managed/queues/{queue}/dlq/{id}/requeue': async (req, ctx) => {
    requireManaged(ctx);
    const { queue, id } = jobParams(req);
    return view(200, await ctx.jobs.requeueDead(queue, id, 'managed'), ctx);
  },
};
