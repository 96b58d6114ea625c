/**
 * Managed shell jobs from submit to completion, through the local stack's real handlers: the API
 * writes the job and sends its hint over SQS (fauxqs), the dispatcher claims it by id, and the run
 * executes in the stack's process, which starts the command (`/bin/true`) itself.
 *
 * Two loads: one job at a time (each submitted once the one before has ended), which shows what a
 * single run costs; and a burst of jobs at once, which shows how runs overlap.
 * `npm run bench -- --only managed` runs this section alone.
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../functions/core/clients.ts';
import { mapLimit } from '../functions/core/concurrency.ts';
import type { StoreConfig } from '../functions/core/config.ts';
import { jobKey } from '../functions/jobs/keys.ts';
import type { Bench, BenchContext, BenchSection } from './section.ts';
import { type LatencySummary, latency, num, rate, round, table } from './stats.ts';
import { expectStatus, freshQueue, latencyCells, roundLatency, send } from './throughput.ts';

type ManagedParameters = {
  /** Jobs submitted one after another, each once the one before has ended. */
  readonly sequential_jobs: number;
  /** Jobs of the burst. */
  readonly jobs: number;
  /** Submit requests of the burst in flight. */
  readonly submit_concurrency: number;
  /** How often the burst's job items are read to see whether every run has ended. */
  readonly poll_ms: number;
  /** Give up waiting for runs after this long; the jobs not ended by then are reported. */
  readonly deadline_ms: number;
};

const FULL: ManagedParameters = {
  sequential_jobs: 30,
  jobs: 100,
  // 100 at once: the burst target (submit → completed p50 ≤ 3 s for 100 at once).
  submit_concurrency: 100,
  poll_ms: 100,
  deadline_ms: 120_000,
};

const QUICK: ManagedParameters = { ...FULL, sequential_jobs: 3, jobs: 3, deadline_ms: 30_000 };

/** How often a sequential job's item is read: it only delays the next submit, never the figures. */
const SEQUENTIAL_POLL_MS = 5;

/** The fields of a job item this bench reads: the store's own timestamps of claim and end. */
interface RunTimes {
  readonly id: string;
  readonly status: string;
  readonly attempts: number;
  readonly claimed_at?: number;
  readonly completed_at?: number;
}

const ENDED = new Set(['completed', 'dead', 'cancelled']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Submits one `/bin/true` job through the native API and returns when it was sent (epoch ms). */
async function submitShell(baseUrl: string, queue: string, id: string): Promise<number> {
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
async function awaitRunEnds(
  queue: string,
  ids: readonly string[],
  pollMs: number,
  deadlineMs: number,
  config: StoreConfig,
): Promise<Map<string, RunTimes>> {
  const db = documentClient(config.dynamodbEndpoint);
  const { tableName } = config;
  const ended = new Map<string, RunTimes>();
  const deadline = Date.now() + deadlineMs;
  try {
    while (ended.size < ids.length && Date.now() < deadline) {
      await sleep(pollMs);
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

interface ManagedResult {
  readonly jobs: number;
  readonly completed: number;
  /** Jobs that were dead, cancelled or still not ended at the deadline. */
  readonly not_completed: number;
  /** Jobs that needed more than one run. */
  readonly retried: number;
  /** First submit → last completion. */
  readonly seconds: number;
  readonly jobs_per_s: number;
  readonly enqueue_to_claim_ms: LatencySummary;
  readonly enqueue_to_completed_ms: LatencySummary;
  readonly claim_to_completed_ms: LatencySummary;
}

/** The figures of the jobs `ended`, from their send times. */
function summarize(jobs: number, sentAt: ReadonlyMap<string, number>, ended: Map<string, RunTimes>) {
  const done = [...ended.values()].filter((job) => job.status === 'completed');
  const from = (job: RunTimes) => sentAt.get(job.id) as number;
  const firstSent = Math.min(...sentAt.values());
  const lastCompleted = Math.max(...done.map((job) => job.completed_at as number));
  return {
    jobs,
    completed: done.length,
    not_completed: jobs - done.length,
    retried: done.filter((job) => job.attempts > 1).length,
    seconds: round((lastCompleted - firstSent) / 1000, 2),
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

/** N jobs one at a time: each is submitted once the one before has ended. */
async function sequential(ctx: BenchContext, p: ManagedParameters): Promise<ManagedResult> {
  const queue = freshQueue('shell-seq');
  const sentAt = new Map<string, number>();
  const ended = new Map<string, RunTimes>();
  for (let i = 0; i < p.sequential_jobs; i++) {
    const id = `s${i}`;
    sentAt.set(id, await submitShell(ctx.stack.url, queue, id));
    const one = await awaitRunEnds(queue, [id], SEQUENTIAL_POLL_MS, p.deadline_ms, ctx.config);
    for (const [key, job] of one) ended.set(key, job);
  }
  return summarize(p.sequential_jobs, sentAt, ended);
}

/** N jobs submitted at once (`submit_concurrency` in flight). Jobs/s is N over first submit → last completion. */
async function burst(ctx: BenchContext, p: ManagedParameters): Promise<ManagedResult> {
  const queue = freshQueue('shell');
  const ids = Array.from({ length: p.jobs }, (_, i) => `m${i}`);
  const sentAt = new Map<string, number>();
  await mapLimit(ids, p.submit_concurrency, async (id) => {
    sentAt.set(id, await submitShell(ctx.stack.url, queue, id));
  });
  return summarize(p.jobs, sentAt, await awaitRunEnds(queue, ids, p.poll_ms, p.deadline_ms, ctx.config));
}

function markdown(p: ManagedParameters, one: ManagedResult, many: ManagedResult): string {
  const row = (label: string, r: ManagedResult) => [
    label,
    r.jobs,
    num(r.seconds, 2),
    ...latencyCells(r.enqueue_to_claim_ms),
    ...latencyCells(r.enqueue_to_completed_ms),
  ];
  return `Latency in ms (p50 / p95 / p99) of \`{"type":"SHELL","payload":{"command":"/bin/true"}}\`:

${table(
  [
    'load',
    'jobs',
    'first submit → last completed (s)',
    'submit→claim p50',
    'p95',
    'p99',
    'submit→completed p50',
    'p95',
    'p99',
  ],
  [row('one at a time', one), row(`burst (${p.submit_concurrency} submits in flight)`, many)],
)}

Jobs not completed: ${one.not_completed + many.not_completed}; needing a retry: ${one.retried + many.retried}. A run (claim → completed: the run's read, the command, \`completeRun\`; a lease renewal only when start-up used much of the lease) took p50 ${num(one.claim_to_completed_ms.p50)} ms one at a time, ${num(many.claim_to_completed_ms.p50)} ms in the burst.

How measured: jobs submitted with \`POST /v1/managed/jobs\`; each is dispatched over SQS (fauxqs), claimed by id by the dispatcher (fed by the local poller as Lambda's event source feeds it: batches of up to 10, up to 20 at once), and run in the stack's process, which keeps the run's books and starts the command itself, as the inline executor's run is kept by the dispatcher on AWS. Claim and completion times are the store's \`claimed_at\` / \`completed_at\` read from the job items; the start is the client's send time. One at a time: ${one.jobs} jobs, each submitted once the one before had ended. Burst: ${many.jobs} jobs, ${p.submit_concurrency} submit requests in flight.`;
}

export const bench: Bench = async (ctx): Promise<BenchSection[]> => {
  const params = ctx.quick ? QUICK : FULL;
  const one = await sequential(ctx, params);
  ctx.log(
    `   managed, one at a time: ${one.completed}/${one.jobs} completed, ` +
      `submit→completed p50/p95/p99 ${latencyCells(one.enqueue_to_completed_ms).join('/')} ms`,
  );
  const many = await burst(ctx, params);
  ctx.log(
    `   managed, burst: ${many.completed}/${many.jobs} completed in ${num(many.seconds, 2)} s ` +
      `(${num(many.jobs_per_s, 1)} jobs/s), submit→claim p50/p95/p99 ` +
      `${latencyCells(many.enqueue_to_claim_ms).join('/')} ms, submit→completed ` +
      `${latencyCells(many.enqueue_to_completed_ms).join('/')} ms`,
  );
  return [
    {
      id: 'managed',
      title: 'Managed runs',
      parameters: params,
      results: { sequential: one, burst: many },
      markdown: markdown(params, one, many),
    },
  ];
};
