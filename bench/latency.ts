/**
 * The latency the speed targets name that "Throughput and latency" does not measure: pull jobs
 * claimed with long polls (enqueue → claim), where the server has them. (A managed job submitted
 * alone is in "Managed runs".)
 */
import type { Bench, BenchSection } from './section.ts';
import { type LatencySummary, num, table } from './stats.ts';
import { FULL, type PacedResult, paced, QUICK, relayV2 } from './throughput.ts';

/** Seconds a long-poll claim waits in the paced run: short, so the run ends soon after its last job. */
const LONG_POLL_WAIT = 2;
/** Offered load of the long-poll paced run, jobs/s: a steady stream the workers keep up with. */
const LONG_POLL_OFFERED = 40;

export interface LatencyResults {
  /** `undefined` when the server answered a `wait` claim at once: it has no long poll. */
  readonly pull_long_poll?: PacedResult;
  readonly long_poll_probe_ms: number;
}

export const bench: Bench = async (ctx): Promise<BenchSection[]> => {
  const params = ctx.quick ? QUICK : FULL;
  const client = relayV2(ctx.stack.url);

  // Long poll: a server without it answers a `wait` claim of an empty queue at once.
  const probeStarted = performance.now();
  await client.claim(`bench-probe-${Date.now().toString(36)}`, 1, 1);
  const probeMs = performance.now() - probeStarted;
  const longPoll =
    probeMs >= 700
      ? await paced(client, { ...params.pull, long_poll_wait: LONG_POLL_WAIT }, 2 * LONG_POLL_OFFERED)
      : undefined;
  ctx.log(
    longPoll
      ? `   pull with long polls: enqueue→claim p50 ${num(longPoll.enqueue_to_claim_ms.p50)} ms`
      : `   pull with long polls: not supported by this server (a wait claim answered in ${num(probeMs)} ms)`,
  );

  const cells = (l: LatencySummary) => [num(l.p50), num(l.p95), num(l.p99)];
  const rows = [
    longPoll
      ? [
          `pull with long polls (\`wait=${LONG_POLL_WAIT}\`): enqueue → claim`,
          num(longPoll.jobs),
          ...cells(longPoll.enqueue_to_claim_ms),
        ]
      : ['pull with long polls: enqueue → claim', '–', 'not supported by this server', '', ''],
  ];
  const results: LatencyResults = {
    pull_long_poll: longPoll,
    long_poll_probe_ms: Math.round(probeMs),
  };
  return [
    {
      id: 'latency',
      title: 'Latency of one job',
      parameters: {
        long_poll_wait: LONG_POLL_WAIT,
        long_poll_offered_jobs_per_s: LONG_POLL_OFFERED,
        pull: params.pull,
      },
      results,
      markdown: `${table(['path', 'jobs', 'p50 ms', 'p95', 'p99'], rows)}

**How measured.** Long polls: a claim with \`wait=1\` of an empty queue tells whether the server waits (it answered in ${num(probeMs)} ms); if it does, the paced run of "Throughput and latency" again at ${LONG_POLL_OFFERED} jobs/s, its ${params.pull.workers} workers claiming with \`wait=${LONG_POLL_WAIT}\` instead of sleeping ${params.pull.idle_poll_ms} ms after an empty claim; enqueue → claim is client-side per job.`,
    },
  ];
};
