/**
 * Throughput and latency of the two ways a job runs: pull jobs driven over the HTTP API the way a
 * fast relay v2 client drives them, and managed shell jobs from submit to completion.
 *
 * Everything goes through the local stack's real handlers (`ctx.stack.url`), so the figures include
 * HTTP, validation, the store and DynamoDB Local. They are this machine's, not AWS's: DynamoDB Local
 * answers a few hundred requests per second, which is the bottleneck here and never on AWS.
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../functions/core/clients.ts';
import { mapLimit } from '../functions/core/concurrency.ts';
import type { StoreConfig } from '../functions/core/config.ts';
import { jobKey } from '../functions/jobs/keys.ts';
import type { Bench, BenchContext, BenchSection } from './section.ts';
import { countRequests, type LatencySummary, latency, num, rate, round, table, timed } from './stats.ts';

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

export interface PullParameters {
  /** Jobs enqueued up front and then drained. */
  readonly jobs: number;
  /** Concurrent workers, each claiming, then completing what it claimed. */
  readonly workers: number;
  /** `num_jobs` per claim request. */
  readonly claim_batch: number;
  /** Jobs per enqueue request: 100 is one DynamoDB transaction (v2 `mode=unique`). */
  readonly enqueue_batch: number;
  /** Enqueue requests in flight while loading the backlog. */
  readonly enqueue_concurrency: number;
  /** How long a worker waits after an empty claim (204) before it polls again. */
  readonly idle_poll_ms: number;
  /** Length of the paced run, whose offered load is half the measured drain rate. */
  readonly paced_seconds: number;
  /** Jobs per enqueue request in the paced run: small, as a producer streaming jobs sends them. */
  readonly paced_batch: number;
  /** Long-poll claims (`wait`, seconds) instead of sleeping `idle_poll_ms` after an empty one. */
  readonly long_poll_wait?: number;
}

export interface ManagedParameters {
  /** Managed shell jobs (`/bin/true`), each one runner child process. */
  readonly jobs: number;
  /** Submit requests in flight. */
  readonly submit_concurrency: number;
  /** How often the job items are read to see whether every run has ended. */
  readonly poll_ms: number;
  /** Give up waiting for runs after this long; the jobs not ended by then are reported. */
  readonly deadline_ms: number;
}

/**
 * Sized so the whole section takes about a minute here: DynamoDB Local drains a few hundred pull
 * jobs a second, and each managed run starts a Node.js process on a 2-core machine.
 */
export const FULL = {
  pull: {
    jobs: 2_000,
    workers: 8,
    claim_batch: 10,
    enqueue_batch: 100,
    enqueue_concurrency: 2,
    idle_poll_ms: 100,
    paced_seconds: 10,
    paced_batch: 10,
  },
  // 100 at once: the issue's burst target (submit → completed p50 ≤ 3 s for 100 at once).
  managed: { jobs: 100, submit_concurrency: 100, poll_ms: 500, deadline_ms: 120_000 },
} satisfies { pull: PullParameters; managed: ManagedParameters };

export const QUICK = {
  pull: { ...FULL.pull, jobs: 100, workers: 4, paced_seconds: 2 },
  managed: { ...FULL.managed, jobs: 3, deadline_ms: 30_000 },
} satisfies typeof FULL;

/** Workers give up on a run that makes no progress for this long (a lost job would hang it). */
const STALL_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// A relay v2 client over HTTP
// ---------------------------------------------------------------------------------------------

/** A claimed job as v2 returns it: its `run_id` fences the completion. */
interface Claimed {
  readonly id: string;
  readonly run_id: string;
}

/**
 * The three calls a fast relay v2 worker makes. v2 rather than v1: its batch enqueue with
 * `mode=unique` is one transaction per 100 jobs (v1 batches are one put per job, slower here), and
 * its claim returns the `run_id` that makes the completion fenced and idempotent.
 */
export function relayV2(baseUrl: string) {
  return {
    async enqueue(jobs: readonly object[]): Promise<void> {
      await expectStatus(
        await send(`${baseUrl}/v2/queues/jobs?mode=unique`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(jobs),
        }),
        202,
      );
    },
    async claim(queue: string, count: number, wait?: number): Promise<Claimed[]> {
      const long = wait ? `&wait=${wait}` : '';
      const response = await send(
        `${baseUrl}/v2/queues/${encodeURIComponent(queue)}/jobs?num_jobs=${count}${long}`,
      );
      if (response.status === 204) return [];
      await expectStatus(response, 200, false);
      return (await response.json()) as Claimed[];
    },
    async complete(queue: string, job: Claimed): Promise<void> {
      const path = `${encodeURIComponent(queue)}/jobs/${encodeURIComponent(job.id)}/run-id/${job.run_id}`;
      await expectStatus(await send(`${baseUrl}/v2/queues/${path}`, { method: 'DELETE' }), 200);
    },
  };
}

export type RelayV2 = ReturnType<typeof relayV2>;

/**
 * `fetch`, sent again once when the connection was reset under it. The local server closes idle
 * keep-alive connections after 5 s and undici retires them a second earlier, but on a loaded machine
 * its timer can fire late and a request goes out on a connection the server has just closed. A
 * reset there means the server closed the connection without reading the request, so sending it
 * again is safe.
 */
async function send(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const code = ((error as Error).cause as { code?: string } | undefined)?.code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return fetch(url, init);
  }
}

/** Throws with the body on an unexpected status; otherwise drains the body so the socket is reused. */
async function expectStatus(response: Response, status: number, drain = true): Promise<void> {
  if (response.status !== status) {
    throw new Error(`${response.url}: expected ${status}, got ${response.status}: ${await response.text()}`);
  }
  if (drain) await response.arrayBuffer();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue name no other run (or bench module) has used, so each run starts empty. */
const freshQueue = (what: string) => `bench-${what}-${Date.now().toString(36)}`;

const pullJob = (queue: string, id: string) => ({ queue, id, payload: null, timeout: 300 });

// ---------------------------------------------------------------------------------------------
// Pull path
// ---------------------------------------------------------------------------------------------

/** Client-side times (ms, `performance.now()`) at which each job was enqueued, claimed and completed. */
class Timeline {
  readonly enqueued = new Map<string, number>();
  readonly claimed = new Map<string, number>();
  readonly completed = new Map<string, number>();
  /** Jobs handed out a second time: a pull queue must never do that. */
  duplicates = 0;
  claimRequests = 0;
  emptyClaims = 0;

  enqueue(ids: readonly string[], at: number): void {
    for (const id of ids) this.enqueued.set(id, at);
  }

  claim(id: string, at: number): void {
    if (this.claimed.has(id)) this.duplicates++;
    else this.claimed.set(id, at);
  }

  /** Enqueue → claim and enqueue → completed of every completed job, in ms. */
  latencies(): { claim: number[]; completed: number[] } {
    const claim: number[] = [];
    const completed: number[] = [];
    for (const [id, done] of this.completed) {
      const from = this.enqueued.get(id) as number;
      claim.push((this.claimed.get(id) as number) - from);
      completed.push(done - from);
    }
    return { claim, completed };
  }
}

/**
 * W workers, each looping claim (`num_jobs`) → complete every claimed job at once, until `done`.
 * An empty claim (204) makes the worker wait `idle_poll_ms`, as a polling client backs off. A run
 * that completes nothing for `STALL_MS` throws rather than hang the bench.
 */
async function runWorkers(
  client: RelayV2,
  queue: string,
  p: PullParameters,
  timeline: Timeline,
  done: () => boolean,
): Promise<void> {
  let progressAt = performance.now();
  const worker = async () => {
    while (!done()) {
      if (performance.now() - progressAt > STALL_MS) {
        throw new Error(`pull run stalled: ${timeline.completed.size} jobs completed on ${queue}`);
      }
      timeline.claimRequests++;
      const jobs = await client.claim(queue, p.claim_batch, p.long_poll_wait);
      const claimedAt = performance.now();
      if (!jobs.length) {
        timeline.emptyClaims++;
        if (!p.long_poll_wait) await sleep(p.idle_poll_ms);
        continue;
      }
      for (const job of jobs) timeline.claim(job.id, claimedAt);
      await Promise.all(
        jobs.map(async (job) => {
          await client.complete(queue, job);
          timeline.completed.set(job.id, performance.now());
          progressAt = performance.now();
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: p.workers }, worker));
}

/** Loads `count` jobs in batches with a few requests in flight; ids are `j<n>`. */
async function loadBacklog(
  client: RelayV2,
  queue: string,
  count: number,
  p: PullParameters,
  timeline: Timeline,
) {
  const batches = Array.from({ length: Math.ceil(count / p.enqueue_batch) }, (_, b) =>
    Array.from({ length: Math.min(p.enqueue_batch, count - b * p.enqueue_batch) }, (_, i) => {
      return `j${b * p.enqueue_batch + i}`;
    }),
  );
  await mapLimit(batches, p.enqueue_concurrency, async (ids) => {
    timeline.enqueue(ids, performance.now());
    await client.enqueue(ids.map((id) => pullJob(queue, id)));
  });
}

export interface DrainResult {
  readonly enqueue_jobs_per_s: number;
  readonly drain_jobs_per_s: number;
  readonly claim_requests: number;
  readonly empty_claims: number;
  readonly duplicates: number;
  /** DynamoDB requests to the jobs table per job while draining (the sweep's included). */
  readonly dynamodb_requests_per_job: number;
  /** Claim writes that lost their race to another worker, per job. */
  readonly conditional_failures_per_job: number;
}

/**
 * Drain: the backlog is enqueued first, then the workers empty it. Jobs/s is the number of jobs over
 * the time from the first claim to the last completion. Latencies here would only measure each job's
 * place in the backlog, so the paced run reports them instead.
 */
export async function drain(client: RelayV2, p: PullParameters, tableName: string): Promise<DrainResult> {
  const queue = freshQueue('drain');
  const timeline = new Timeline();
  const load = await timed(() => loadBacklog(client, queue, p.jobs, p, timeline));
  // The API's handlers run in this process, so a client hook sees the store's every request.
  const { count, remove } = countRequests(tableName);
  const run = await timed(() =>
    runWorkers(client, queue, p, timeline, () => timeline.completed.size >= p.jobs),
  ).finally(remove);
  return {
    dynamodb_requests_per_job: round(count.requests / p.jobs, 1),
    conditional_failures_per_job: round(count.conditionalFailures / p.jobs, 2),
    enqueue_jobs_per_s: round(rate(p.jobs, load.ms)),
    drain_jobs_per_s: round(rate(p.jobs, run.ms)),
    claim_requests: timeline.claimRequests,
    empty_claims: timeline.emptyClaims,
    duplicates: timeline.duplicates,
  };
}

export interface PacedResult {
  readonly offered_jobs_per_s: number;
  readonly jobs: number;
  readonly completed_jobs_per_s: number;
  readonly enqueue_to_claim_ms: LatencySummary;
  readonly enqueue_to_completed_ms: LatencySummary;
  readonly claim_requests: number;
  readonly empty_claims: number;
  readonly duplicates: number;
}

/**
 * Paced: a producer enqueues `paced_batch` jobs at fixed intervals, at half the drain rate, while the
 * workers run: the latency a job sees when workers keep up. The producer is open-loop (each batch is
 * sent on schedule, not after the previous answer), so a slow response does not lower the offered
 * load and hide its own delay.
 */
export async function paced(client: RelayV2, p: PullParameters, drainRate: number): Promise<PacedResult> {
  const queue = freshQueue('paced');
  const timeline = new Timeline();
  const offered = Math.max(p.paced_batch, Math.round(drainRate / 2 / p.paced_batch) * p.paced_batch);
  const batches = Math.max(1, Math.round((offered * p.paced_seconds) / p.paced_batch));
  const total = batches * p.paced_batch;
  const intervalMs = (1000 * p.paced_batch) / offered;
  const started = performance.now();

  const produce = async () => {
    const sends: Promise<void>[] = [];
    for (let b = 0; b < batches; b++) {
      await sleep(started + b * intervalMs - performance.now());
      const ids = Array.from({ length: p.paced_batch }, (_, i) => `j${b * p.paced_batch + i}`);
      timeline.enqueue(ids, performance.now());
      sends.push(client.enqueue(ids.map((id) => pullJob(queue, id))));
    }
    await Promise.all(sends);
  };
  await Promise.all([
    produce(),
    runWorkers(client, queue, p, timeline, () => timeline.completed.size >= total),
  ]);
  const ms = performance.now() - started;
  const { claim, completed } = timeline.latencies();
  return {
    offered_jobs_per_s: offered,
    jobs: total,
    completed_jobs_per_s: round(rate(total, ms)),
    enqueue_to_claim_ms: roundLatency(latency(claim)),
    enqueue_to_completed_ms: roundLatency(latency(completed)),
    claim_requests: timeline.claimRequests,
    empty_claims: timeline.emptyClaims,
    duplicates: timeline.duplicates,
  };
}

export const roundLatency = (l: LatencySummary): LatencySummary => ({
  count: l.count,
  p50: round(l.p50),
  p95: round(l.p95),
  p99: round(l.p99),
  max: round(l.max),
});

// ---------------------------------------------------------------------------------------------
// Managed path
// ---------------------------------------------------------------------------------------------

/** The fields of a job item this bench reads: the store's own timestamps of claim and end. */
export interface RunTimes {
  readonly id: string;
  readonly status: string;
  readonly attempts: number;
  readonly claimed_at?: number;
  readonly completed_at?: number;
}

const ENDED = new Set(['completed', 'dead', 'cancelled']);

/** Submits one `/bin/true` job through the native API and returns when it was sent (epoch ms). */
export async function submitShell(baseUrl: string, queue: string, id: string): Promise<number> {
  const sentAt = Date.now();
  const response = await send(`${baseUrl}/v1/managed/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ queue, id, type: 'SHELL', payload: { command: '/bin/true' } }),
  });
  await expectStatus(response, 201);
  return sentAt;
}

/**
 * Reads the job items until every run has ended or the deadline passes. It reads DynamoDB directly
 * (strongly consistent `BatchGetItem`, 100 keys a call) rather than polling a status route per job:
 * the items carry the store's own `claimed_at` and `completed_at`, so how often this polls changes
 * only when it notices the end, not the figures.
 */
export async function awaitRunEnds(
  queue: string,
  ids: readonly string[],
  p: ManagedParameters,
  config: StoreConfig,
): Promise<Map<string, RunTimes>> {
  const db = documentClient(config.dynamodbEndpoint);
  const { tableName } = config;
  const ended = new Map<string, RunTimes>();
  const deadline = Date.now() + p.deadline_ms;
  try {
    while (ended.size < ids.length && Date.now() < deadline) {
      await sleep(p.poll_ms);
      const waiting = ids.filter((id) => !ended.has(id));
      for (let at = 0; at < waiting.length; at += 100) {
        const keys = waiting.slice(at, at + 100).map((id) => jobKey(queue, id));
        const out = await db.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        // Unprocessed keys are simply read again on the next poll.
        for (const item of (out.Responses?.[tableName] ?? []) as unknown as RunTimes[]) {
          if (ENDED.has(item.status)) ended.set(item.id, item);
        }
      }
    }
  } finally {
    db.destroy();
  }
  return ended;
}

export interface ManagedResult {
  readonly jobs: number;
  readonly completed: number;
  /** Jobs that were dead, cancelled or still not ended at the deadline. */
  readonly not_completed: number;
  /** Jobs that needed more than one run. */
  readonly retried: number;
  readonly jobs_per_s: number;
  readonly enqueue_to_claim_ms: LatencySummary;
  readonly enqueue_to_completed_ms: LatencySummary;
  readonly claim_to_completed_ms: LatencySummary;
}

/**
 * Managed: N shell jobs submitted through `POST /v1/managed/jobs`, each dispatched over (fauxqs) SQS,
 * claimed by id by the dispatcher and run as a runner child process. Jobs/s is N over the time from
 * the first submit to the last completion.
 */
export async function managed(ctx: BenchContext, p: ManagedParameters): Promise<ManagedResult> {
  const queue = freshQueue('shell');
  const ids = Array.from({ length: p.jobs }, (_, i) => `m${i}`);
  const sentAt = new Map<string, number>();
  await mapLimit(ids, p.submit_concurrency, async (id) => {
    sentAt.set(id, await submitShell(ctx.stack.url, queue, id));
  });
  const ended = await awaitRunEnds(queue, ids, p, ctx.config);
  const done = [...ended.values()].filter((job) => job.status === 'completed');
  const from = (job: RunTimes) => sentAt.get(job.id) as number;
  const firstSent = Math.min(...sentAt.values());
  const lastCompleted = Math.max(...done.map((job) => job.completed_at as number));
  return {
    jobs: p.jobs,
    completed: done.length,
    not_completed: p.jobs - done.length,
    retried: done.filter((job) => job.attempts > 1).length,
    jobs_per_s: round(rate(done.length, lastCompleted - firstSent), 1),
    enqueue_to_claim_ms: roundLatency(latency(done.map((job) => (job.claimed_at as number) - from(job)))),
    enqueue_to_completed_ms: roundLatency(
      latency(done.map((job) => (job.completed_at as number) - from(job))),
    ),
    claim_to_completed_ms: roundLatency(
      latency(done.map((job) => (job.completed_at as number) - (job.claimed_at as number))),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const latencyCells = (l: LatencySummary) => [num(l.p50), num(l.p95), num(l.p99)];

function markdown(
  params: typeof FULL,
  drained: DrainResult,
  steady: PacedResult,
  shell: ManagedResult,
): string {
  const pull = params.pull;
  return `${table(
    ['path', 'jobs', 'jobs/s'],
    [
      ['pull: enqueue (v2 batches of 100)', pull.jobs, num(drained.enqueue_jobs_per_s)],
      [
        `pull: drain (${pull.workers} workers, num_jobs=${pull.claim_batch})`,
        pull.jobs,
        num(drained.drain_jobs_per_s),
      ],
      [
        `pull: paced (offered ${num(steady.offered_jobs_per_s)}/s)`,
        steady.jobs,
        num(steady.completed_jobs_per_s),
      ],
      ['managed: submit → completed (`/bin/true`)', shell.jobs, num(shell.jobs_per_s, 1)],
    ],
  )}

Latency in ms (p50 / p95 / p99):

${table(
  ['path', 'enqueue→claim p50', 'p95', 'p99', 'enqueue→completed p50', 'p95', 'p99'],
  [
    [
      'pull, paced',
      ...latencyCells(steady.enqueue_to_claim_ms),
      ...latencyCells(steady.enqueue_to_completed_ms),
    ],
    ['managed', ...latencyCells(shell.enqueue_to_claim_ms), ...latencyCells(shell.enqueue_to_completed_ms)],
  ],
)}

Duplicate deliveries: ${drained.duplicates + steady.duplicates}. While draining, each job cost ${num(drained.dynamodb_requests_per_job, 1)} DynamoDB requests, ${num(drained.conditional_failures_per_job, 2)} of them claim writes that lost a race to another worker (see "Claim contention"). Managed jobs not completed: ${shell.not_completed}; needing a retry: ${shell.retried}. A managed run (claim → completed: runner process start, command, \`completeRun\`) took p50 ${num(shell.claim_to_completed_ms.p50)} ms.

How measured: everything over HTTP against the local stack's real handlers, with a relay v2 client (\`fetch\`, keep-alive).
- **Drain**: ${num(pull.jobs)} no-op pull jobs enqueued first with \`POST /v2/queues/jobs?mode=unique\` (batches of ${pull.enqueue_batch}, ${pull.enqueue_concurrency} in flight); then ${pull.workers} workers loop \`GET /v2/queues/{q}/jobs?num_jobs=${pull.claim_batch}\` → \`DELETE …/jobs/{id}/run-id/{run_id}\` for every claimed job at once, waiting ${pull.idle_poll_ms} ms after an empty claim. Jobs/s = jobs ÷ (first claim → last completion).
- **Paced**: the same workers while an open-loop producer enqueues batches of ${pull.paced_batch} at half the drain rate for ${pull.paced_seconds} s. Latencies are client-side per job: from sending its enqueue request to receiving the claim response, and to the completion's response.
- **Managed**: ${shell.jobs} \`{"type":"SHELL","payload":{"command":"/bin/true"}}\` jobs submitted with \`POST /v1/managed/jobs\` (${params.managed.submit_concurrency} in flight); each is dispatched over SQS (fauxqs), claimed by id and run as a runner child process. Claim and completion times are the store's \`claimed_at\` / \`completed_at\` read from the job items; the start is the client's send time. Jobs/s = jobs ÷ (first submit → last completion). The runs overlap, so up to ${shell.jobs} runner processes (Node.js) start at once on this machine's cores: claim → completed is mostly their start-up competing for the CPU. Enqueue → claim includes the local dispatcher taking one SQS batch of 10 at a time, where the Lambda event source runs up to 20 batches at once.
- DynamoDB Local serves a few hundred requests/s on this machine and is the pull path's bottleneck: a claim call is 2 queries per shard plus one write per job, and every claim write that loses a race to another worker is one more. On AWS the limits are the per-shard ceilings in docs/design.md.`;
}

export const bench: Bench = async (ctx): Promise<BenchSection[]> => {
  const params = ctx.quick ? QUICK : FULL;
  const client = relayV2(ctx.stack.url);

  const drained = await drain(client, params.pull, ctx.config.tableName);
  ctx.log(
    `   pull: enqueue ${num(drained.enqueue_jobs_per_s)} jobs/s, drain ${num(drained.drain_jobs_per_s)} jobs/s ` +
      `(${params.pull.jobs} jobs, W=${params.pull.workers}, num_jobs=${params.pull.claim_batch})`,
  );
  const steady = await paced(client, params.pull, drained.drain_jobs_per_s);
  ctx.log(
    `   pull paced at ${steady.offered_jobs_per_s}/s: enqueue→claim p50/p95/p99 ` +
      `${latencyCells(steady.enqueue_to_claim_ms).join('/')} ms, enqueue→completed ` +
      `${latencyCells(steady.enqueue_to_completed_ms).join('/')} ms`,
  );
  const shell = await managed(ctx, params.managed);
  ctx.log(
    `   managed: ${shell.completed}/${shell.jobs} completed, ${num(shell.jobs_per_s, 1)} jobs/s, ` +
      `enqueue→claim p50/p95/p99 ${latencyCells(shell.enqueue_to_claim_ms).join('/')} ms, ` +
      `enqueue→completed ${latencyCells(shell.enqueue_to_completed_ms).join('/')} ms`,
  );

  return [
    {
      id: 'throughput',
      title: 'Throughput and latency',
      parameters: params,
      results: { pull: { drain: drained, paced: steady }, managed: shell },
      markdown: markdown(params, drained, steady, shell),
    },
  ];
};
