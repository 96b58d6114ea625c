/**
 * The latency the speed targets name that "Throughput and latency" does not measure: pull jobs
 * claimed with long polls (enqueue → claim), where the server has them. A producer sends each job
 * as it comes (one job per enqueue request: the target), and, for comparison, batches of 10 as
 * "Throughput and latency" does. (A managed job submitted alone is in "Managed runs".)
 */
import type { Bench, BenchSection } from './section.ts';
import { type LatencySummary, num, table } from './stats.ts';
import { FULL, type PacedResult, paced, QUICK, relayV2 } from './throughput.ts';

/** Seconds a long-poll claim waits in the paced run: short, so the run ends soon after its last job. */
const LONG_POLL_WAIT = 2;
/** Offered load of the long-poll paced runs, jobs/s: a steady stream the workers keep up with. */
const LONG_POLL_OFFERED = 40;
/** Jobs per enqueue request of the comparison run: "Throughput and latency"'s paced batches. */
const BATCHED = FULL.pull.paced_batch;

export interface LatencyResults {
  /** `undefined` when the server answered a `wait` claim at once: it has no long poll. */
  readonly pull_long_poll?: PacedResult;
  /** The same with batches of `BATCHED` jobs per enqueue request. */
  readonly pull_long_poll_batched?: PacedResult;
  readonly long_poll_probe_ms: number;
}

export const bench: Bench = async (ctx): Promise<BenchSection[]> => {
  const params = ctx.quick ? QUICK : FULL;
  const client = relayV2(ctx.stack.url);

  // Long poll: a server without it answers a `wait` claim of an empty queue at once.
  const probeStarted = performance.now();
  await client.claim(`bench-probe-${Date.now().toString(36)}`, 1, 1);
  const probeMs = performance.now() - probeStarted;
  const run = (batch: number) =>
    paced(
      client,
      { ...params.pull, long_poll_wait: LONG_POLL_WAIT, paced_batch: batch },
      2 * LONG_POLL_OFFERED,
    );
  const single = probeMs >= 700 ? await run(1) : undefined;
  const batched = single ? await run(BATCHED) : undefined;
  ctx.log(
    single && batched
      ? `   pull with long polls: enqueue→claim p50 ${num(single.enqueue_to_claim_ms.p50)} ms one job per enqueue, ${num(batched.enqueue_to_claim_ms.p50)} ms in batches of ${BATCHED}`
      : `   pull with long polls: not supported by this server (a wait claim answered in ${num(probeMs)} ms)`,
  );

  const cells = (l: LatencySummary) => [num(l.p50), num(l.p95), num(l.p99)];
  const row = (what: string, result: PacedResult | undefined) =>
    result
      ? [
          `pull with long polls (\`wait=${LONG_POLL_WAIT}\`), ${what}: enqueue → claim`,
          num(result.jobs),
          ...cells(result.enqueue_to_claim_ms),
        ]
      : [`pull with long polls, ${what}: enqueue → claim`, '–', 'not supported by this server', '', ''];
  const rows = [row('one job per enqueue', single), row(`batches of ${BATCHED}`, batched)];
  const results: LatencyResults = {
    pull_long_poll: single,
    pull_long_poll_batched: batched,
    long_poll_probe_ms: Math.round(probeMs),
  };
  return [
    {
      id: 'latency',
      title: 'Latency of one job',
      parameters: {
        long_poll_wait: LONG_POLL_WAIT,
        long_poll_offered_jobs_per_s: LONG_POLL_OFFERED,
        batched_jobs_per_enqueue: BATCHED,
        pull: params.pull,
      },
      results,
      markdown: `${table(['path', 'jobs', 'p50 ms', 'p95', 'p99'], rows)}

**How measured.** Long polls: a claim with \`wait=1\` of an empty queue tells whether the server waits (it answered in ${num(probeMs)} ms); if it does, the paced run of "Throughput and latency" again at ${LONG_POLL_OFFERED} jobs/s, its ${params.pull.workers} workers claiming with \`wait=${LONG_POLL_WAIT}\` instead of sleeping ${params.pull.idle_poll_ms} ms after an empty claim: first with the producer sending each job in its own \`unique\` enqueue request (one conditional put), then in batches of ${BATCHED} (one transaction of ${BATCHED} puts), as "Throughput and latency" does. Enqueue → claim is client-side per job, from sending its enqueue request to receiving the claim response that holds it. A batch's jobs wait for all of its writes, and then for the claim writes of all ${BATCHED}, one after another in DynamoDB Local (about 1.3 ms an item on this machine): each job of a batch of ${BATCHED} waits for about ${BATCHED * 2} item writes, a job sent alone for 2.`,
    },
  ];
};
