/**
 * The latencies the speed targets name that "Throughput and latency" does not measure: a managed
 * `/bin/true` job submitted alone (one at a time, submit → completed), and pull jobs claimed with
 * long polls (enqueue → claim), where the server has them.
 */
import type { Bench, BenchSection } from './section.ts';
import { type LatencySummary, latency, num, table } from './stats.ts';
import {
  awaitRunEnds,
  FULL,
  type PacedResult,
  paced,
  QUICK,
  relayV2,
  roundLatency,
  submitShell,
} from './throughput.ts';

/** Seconds a long-poll claim waits in the paced run: short, so the run ends soon after its last job. */
const LONG_POLL_WAIT = 2;
/** Offered load of the long-poll paced run, jobs/s: a steady stream the workers keep up with. */
const LONG_POLL_OFFERED = 40;

export interface LatencyResults {
  readonly managed_sequential: {
    readonly jobs: number;
    readonly completed: number;
    readonly submit_to_completed_ms: LatencySummary;
  };
  /** `undefined` when the server answered a `wait` claim at once: it has no long poll. */
  readonly pull_long_poll?: PacedResult;
  readonly long_poll_probe_ms: number;
}

export const bench: Bench = async (ctx): Promise<BenchSection[]> => {
  const params = ctx.quick ? QUICK : FULL;
  const client = relayV2(ctx.stack.url);
  const jobs = ctx.quick ? 2 : 10;

  // Managed, one at a time: each job submitted once the one before completed.
  const queue = `bench-shell-one-${Date.now().toString(36)}`;
  const times: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const id = `s${i}`;
    const sentAt = await submitShell(ctx.stack.url, queue, id);
    const ended = await awaitRunEnds(queue, [id], { ...params.managed, jobs: 1, poll_ms: 20 }, ctx.config);
    const job = ended.get(id);
    if (job?.status === 'completed' && job.completed_at !== undefined) times.push(job.completed_at - sentAt);
  }
  const sequential = { jobs, completed: times.length, submit_to_completed_ms: roundLatency(latency(times)) };
  ctx.log(`   managed one at a time: submit→completed p50 ${num(sequential.submit_to_completed_ms.p50)} ms`);

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
    [
      'managed `/bin/true`, one at a time: submit → completed',
      num(sequential.completed),
      ...cells(sequential.submit_to_completed_ms),
    ],
    longPoll
      ? [
          `pull with long polls (\`wait=${LONG_POLL_WAIT}\`): enqueue → claim`,
          num(longPoll.jobs),
          ...cells(longPoll.enqueue_to_claim_ms),
        ]
      : ['pull with long polls: enqueue → claim', '–', 'not supported by this server', '', ''],
  ];
  const results: LatencyResults = {
    managed_sequential: sequential,
    pull_long_poll: longPoll,
    long_poll_probe_ms: Math.round(probeMs),
  };
  return [
    {
      id: 'latency',
      title: 'Latency of one job',
      parameters: {
        managed_jobs: jobs,
        long_poll_wait: LONG_POLL_WAIT,
        long_poll_offered_jobs_per_s: LONG_POLL_OFFERED,
        pull: params.pull,
      },
      results,
      markdown: `${table(['path', 'jobs', 'p50 ms', 'p95', 'p99'], rows)}

**How measured.** Managed: ${jobs} \`/bin/true\` jobs submitted with \`POST /v1/managed/jobs\` one at a time, each once the one before had completed; submit → completed is from the client's send to the store's \`completed_at\`. Long polls: a claim with \`wait=1\` of an empty queue tells whether the server waits (it answered in ${num(probeMs)} ms); if it does, the paced run of "Throughput and latency" again at ${LONG_POLL_OFFERED} jobs/s, its ${params.pull.workers} workers claiming with \`wait=${LONG_POLL_WAIT}\` instead of sleeping ${params.pull.idle_poll_ms} ms after an empty claim; enqueue → claim is client-side per job.`,
    },
  ];
};
