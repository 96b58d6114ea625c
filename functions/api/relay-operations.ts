/**
 * relay-rs-compatible operations: the v1 RESTful routes, the seed routes of its README, and the v2
 * routes fenced by run id. Status codes and bodies follow relay-rs; see docs/design.md for the
 * few places Relay knowingly differs.
 */
import { JobNotFoundError, LeaseLostError } from '../jobs/errors.ts';
import type { Job } from '../jobs/model.ts';
import type { Claimed } from '../jobs/store.ts';
import type { ApiContext, Operations } from './context.ts';
import {
  empty,
  HttpError,
  type HttpRequest,
  json,
  readJson,
  readOptionalJson,
  validBody,
  validQuery,
} from './http.ts';
import { workerOf } from './run-schemas.ts';
import {
  claimQueryV1,
  claimQueryV2,
  enqueueMode,
  heartbeatState,
  relayV1Batch,
  relayV1Job,
  relayV1View,
  relayV2Batch,
  relayV2Requeue,
  relayV2View,
  seedJobQuery,
  seedNextQuery,
} from './schemas.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** v2 run ids are UUIDs; anything else is a malformed URL (400), as relay's typed path says. */
function runIdOf(req: HttpRequest): string {
  const runId = req.params.run_id ?? '';
  if (!UUID.test(runId))
    throw new HttpError(400, `Invalid URL: Cannot parse \`run_id\` with value \`${runId}\` to a \`Uuid\``);
  return runId.toLowerCase();
}

/** A heartbeat's optional JSON body: the job's new state, or none to clear it. */
const stateOf = (req: HttpRequest): unknown => validBody(heartbeatState, readOptionalJson(req));

const jobParams = (req: HttpRequest) => ({ queue: req.params.queue ?? '', id: req.params.id ?? '' });

/** Claimed jobs as a JSON array, or 204 when there are none (with `Retry-After` when rate-limited). */
function claimed({ jobs, retryAfterMs }: Claimed, view: (job: Job) => unknown) {
  return jobs.length ? json(200, jobs.map(view)) : noJobs(retryAfterMs);
}

/**
 * The answer of a claim that got nothing: 204, as for an empty queue. A queue over its rate limit
 * answers the same, and says in `Retry-After` when a token is free (whole seconds, at least 1).
 */
function noJobs(retryAfterMs: number | undefined) {
  if (retryAfterMs === undefined) return empty(204);
  return { statusCode: 204, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } };
}

async function enqueueV1(jobs: ReturnType<typeof relayV1Batch.parse>, ctx: ApiContext) {
  // relay-rs: a single job conflicts loudly (409); in a batch, existing ids are skipped.
  if (jobs.length === 1) await ctx.store.enqueue(jobs[0] as (typeof jobs)[0], 'unique');
  else await ctx.store.enqueueMany(jobs, 'ignore');
  return empty(202);
}

/**
 * relay-rs's DELETE is idempotent: 200 with an empty body whether or not a job was there, so a
 * worker completing a job that died or was deleted meanwhile is not told of an error (the Go
 * consumer with autocomplete exits on one). A running managed job is left alone, as v2's complete
 * leaves it: relay-rs routes cannot end a managed run.
 */
async function removeV1(queue: string, id: string, ctx: ApiContext) {
  await ctx.store.remove(queue, id);
  return empty(200);
}

/** Whether a live job exists (HEAD) and the job itself (GET), in the view of its API version. */
function jobReads(prefix: '/v1' | '/v2', view: (job: Job) => unknown): Operations {
  const path = `${prefix}/queues/{queue}/jobs/{id}`;
  const live = (req: HttpRequest, ctx: ApiContext) => {
    const { queue, id } = jobParams(req);
    return ctx.store.getLive(queue, id);
  };
  return {
    [`HEAD ${path}`]: async (req, ctx) => empty((await live(req, ctx)) ? 200 : 404),
    [`GET ${path}`]: async (req, ctx) => {
      const job = await live(req, ctx);
      return job ? json(200, view(job)) : empty(404);
    },
  };
}

export const relayOperations: Operations = {
  'GET /health': async () => empty(200),

  // ---- v1 RESTful -------------------------------------------------------------------------
  'POST /v1/queues/jobs': async (req, ctx) => enqueueV1(validBody(relayV1Batch, readJson(req)), ctx),

  'PUT /v1/queues/jobs': async (req, ctx) => {
    await ctx.store.reschedule(validBody(relayV1Job, readJson(req)));
    return empty(202);
  },

  'GET /v1/queues/{queue}/jobs': async (req, ctx) => {
    const { num_jobs = 1 } = validQuery(claimQueryV1, req);
    if (num_jobs === 0) return empty(204);
    return claimed(
      await ctx.store.claimLimited(req.params.queue ?? '', num_jobs, workerOf(req)),
      relayV1View,
    );
  },

  ...jobReads('/v1', relayV1View),

  'PATCH /v1/queues/{queue}/jobs/{id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    await ctx.store.heartbeat(queue, id, stateOf(req));
    return empty(202);
  },

  'DELETE /v1/queues/{queue}/jobs/{id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    return removeV1(queue, id, ctx);
  },

  // ---- seed routes (also served under /v1) ------------------------------------------------
  ...seedRoutes(''),
  ...seedRoutes('/v1'),

  // ---- v2 ---------------------------------------------------------------------------------
  'POST /v2/queues/jobs': async (req, ctx) => {
    const { mode } = validQuery(enqueueMode, req);
    const jobs = validBody(relayV2Batch, readJson(req));
    await ctx.store.enqueueMany(jobs, mode);
    return empty(202);
  },

  'GET /v2/queues/{queue}/jobs': async (req, ctx) => {
    const { num_jobs = 1 } = validQuery(claimQueryV2, req);
    return claimed(
      await ctx.store.claimLimited(req.params.queue ?? '', num_jobs, workerOf(req)),
      relayV2View,
    );
  },

  ...jobReads('/v2', relayV2View),

  'DELETE /v2/queues/{queue}/jobs/{id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    await ctx.store.delete(queue, id);
    return empty(200);
  },

  'PATCH /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const runId = runIdOf(req);
    try {
      await ctx.store.heartbeat(queue, id, stateOf(req), runId);
    } catch (error) {
      if (error instanceof JobNotFoundError) throw new JobNotFoundError(queue, id, runId);
      throw error;
    }
    return empty(202);
  },

  'PUT /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const runId = runIdOf(req);
    const { mode } = validQuery(enqueueMode, req);
    const jobs = validBody(relayV2Requeue, readJson(req));
    // A run that is no longer current changes nothing and is still accepted, as relay does.
    await ctx.store.replaceRun(queue, id, runId, jobs, mode);
    return empty(202);
  },

  'DELETE /v2/queues/{queue}/jobs/{id}/run-id/{run_id}': async (req, ctx) => {
    const { queue, id } = jobParams(req);
    const runId = runIdOf(req);
    try {
      await ctx.store.complete(queue, id, runId);
    } catch (error) {
      // Idempotent: completing a run that already ended (or never matched) is not an error.
      if (!(error instanceof JobNotFoundError || error instanceof LeaseLostError)) throw error;
    }
    return empty(200);
  },
};

/** relay-rs's seed routes: jobs named by `queue` and `job_id` query parameters. */
function seedRoutes(prefix: '' | '/v1'): Operations {
  return {
    [`POST ${prefix}/enqueue`]: async (req, ctx) => enqueueV1([validBody(relayV1Job, readJson(req))], ctx),

    [`POST ${prefix}/enqueue/batch`]: async (req, ctx) => {
      await ctx.store.enqueueMany(validBody(relayV1Batch, readJson(req)), 'ignore');
      return empty(202);
    },

    [`GET ${prefix}/next`]: async (req, ctx) => {
      const { queue, num_jobs } = validQuery(seedNextQuery, req);
      if (num_jobs === 0) return empty(204);
      const got = await ctx.store.claimLimited(queue, num_jobs ?? 1, workerOf(req));
      // Without num_jobs the seed README returns one job object; with it, an array.
      if (num_jobs === undefined) {
        return got.jobs[0] ? json(200, relayV1View(got.jobs[0])) : noJobs(got.retryAfterMs);
      }
      return claimed(got, relayV1View);
    },

    [`PATCH ${prefix}/heartbeat`]: async (req, ctx) => {
      const { queue, job_id } = validQuery(seedJobQuery, req);
      await ctx.store.heartbeat(queue, job_id, stateOf(req));
      return empty(202);
    },

    [`DELETE ${prefix}/complete`]: async (req, ctx) => {
      const { queue, job_id } = validQuery(seedJobQuery, req);
      return removeV1(queue, job_id, ctx);
    },

    [`POST ${prefix}/reschedule`]: async (req, ctx) => {
      await ctx.store.reschedule(validBody(relayV1Job, readJson(req)));
      return empty(202);
    },
  };
}
