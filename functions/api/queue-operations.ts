/**
 * Queue control on the native API: list queues, their stats, pause, resume, settings and limits. A paused
 * queue accepts enqueues and hands out nothing; its running jobs finish.
 */
import type { ApiContext, Operations } from './context.ts';
import { json, readJson, validBody } from './http.ts';
import { limitsView, queueLimitsBody, queueSettingsBody, queueView } from './queue-schemas.ts';

const queueOf = (params: Record<string, string>) => params.queue ?? '';

/** What the queue list and stats show of a queue's settings; a queue never used runs, unaged. */
async function settingsView(queue: string, ctx: ApiContext) {
  const state = await ctx.store.queueState(queue);
  return state
    ? queueView(state)
    : { name: queue, paused: false, paused_at: null, aging_seconds_per_level: null, ...limitsView({}) };
}

export const queueOperations: Operations = {
  'GET /v1/queues': async (_req, ctx) => {
    const queues = await ctx.store.listQueues();
    const summaries = await Promise.all(
      queues.map(async (state) => ({ ...queueView(state), ...(await ctx.store.stats(state.queue)) })),
    );
    return json(200, { queues: summaries });
  },

  'GET /v1/queues/{queue}/stats': async (req, ctx) => {
    const queue = queueOf(req.params);
    const { paused, paused_at, aging_seconds_per_level, rate_per_second, burst, max_running } =
      await settingsView(queue, ctx);
    return json(200, {
      queue,
      paused,
      paused_at,
      aging_seconds_per_level,
      rate_per_second,
      burst,
      max_running,
      ...(await ctx.store.stats(queue)),
    });
  },

  'POST /v1/queues/{queue}/pause': async (req, ctx) =>
    json(200, queueView(await ctx.store.pauseQueue(queueOf(req.params)))),

  'POST /v1/queues/{queue}/resume': async (req, ctx) =>
    json(200, queueView(await ctx.jobs.resumeQueue(queueOf(req.params)))),

  'GET /v1/queues/{queue}/settings': async (req, ctx) =>
    json(200, await settingsView(queueOf(req.params), ctx)),

  'PUT /v1/queues/{queue}/settings': async (req, ctx) => {
    const body = validBody(queueSettingsBody, readJson(req));
    return json(
      200,
      queueView(await ctx.store.setQueueAging(queueOf(req.params), body.aging_seconds_per_level)),
    );
  },

  'GET /v1/queues/{queue}/limits': async (req, ctx) => {
    const queue = queueOf(req.params);
    return json(200, { queue, ...limitsView((await ctx.store.queueState(queue)) ?? {}) });
  },

  'PUT /v1/queues/{queue}/limits': async (req, ctx) => {
    const queue = queueOf(req.params);
    const state = await ctx.store.setQueueLimits(queue, validBody(queueLimitsBody, readJson(req)));
    return json(200, { queue, ...limitsView(state) });
  },
};
