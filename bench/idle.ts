/**
 * What an idle worker costs per hour: claims of an empty queue, short-polled at fixed intervals or
 * long-polled with `wait`.
 *
 * A short poll is one API request, one Lambda invocation and one claim's reads; a long poll is one
 * request per `wait` seconds, the claims it makes while it waits, and a Lambda invocation that is
 * billed for the whole wait. Both are measured on the local stack's handlers. A server without
 * long polls answers a `wait` claim at once: then the long poll is modelled from its documented cost
 * (functions/jobs/long-poll.ts: claims again after 1, 2, 4, then every 8 s) and marked so.
 */
import { addClientHook, documentClient } from '../functions/core/clients.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { type CallRecord, capacityHook } from '../test/support/call-log.ts';
import { ASSUMED_MS, billedRru, MEMORY_GB } from './economy.ts';
import {
  type ApiRequest,
  accessLogs,
  billedBytes,
  type CapturedLogs,
  capture,
  platformLines,
} from './log-bytes.ts';
import { GB, PRICES } from './prices.ts';
import type { Bench, BenchContext } from './section.ts';
import { num, round, table } from './stats.ts';

/** Short-poll intervals priced: the SDK Worker's first idle poll and its backoff ceiling with `longPollSeconds: 0`, and a second. */
const SHORT_POLL_SECONDS = [0.25, 1, 5] as const;
/** The longest `wait` a claim may ask for (API Gateway answers within 30 s). */
const LONG_POLL_SECONDS = 20;

/** What one idle claim request costs, measured. */
interface IdleRequest {
  /** DynamoDB calls and read units per request (a claim that finds nothing still reads). */
  readonly dynamodbCalls: number;
  readonly rru: number;
  /** Claims the request made: 1 for a short poll, more when a long poll claims again as it waits. */
  readonly claims: number;
  /** DynamoDB queries per request: a claim reads each shard's heads. */
  readonly queries: number;
  /** Billed CloudWatch Logs bytes per request: Lambda's lines, the access log, the handler's own. */
  readonly logBytes: number;
  /** Wall time of the request on the local stack, ms. */
  readonly wallMs: number;
}

interface IdleRow {
  readonly label: string;
  readonly requestsPerHour: number;
  readonly request: IdleRequest;
  /** Lambda time billed per request, ms: assumed for a short poll, the whole wait for a long one. */
  readonly billedMs: number;
  readonly modelled: boolean;
  readonly usdPerWorkerHour: number;
}

/** Sends `count` claims of `path` one after another and returns what each cost on average. */
async function measureClaims(ctx: BenchContext, path: string, count: number): Promise<IdleRequest> {
  const calls: CallRecord[] = [];
  const depth = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const remove = addClientHook(
    capacityHook((record) => {
      if (!/\bmaintain\b/.test(new Error().stack ?? '')) calls.push(record);
    }),
  );
  const logs = capture();
  const sent: ApiRequest[] = [];
  const started = performance.now();
  let handlerLogs: CapturedLogs;
  try {
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${ctx.stack.url}${path}`);
      await response.arrayBuffer();
      if (response.status !== 204) throw new Error(`idle claim ${path}: ${response.status}, expected 204`);
      sent.push({ method: 'GET', path: path.split('?')[0] ?? path, status: 204 });
    }
  } finally {
    remove();
    Error.stackTraceLimit = depth;
    handlerLogs = logs.stop();
  }
  const wallMs = (performance.now() - started) / count;
  const bytes =
    billedBytes(platformLines(MEMORY_GB.api * 1024)) * count +
    billedBytes(accessLogs(sent)) +
    billedBytes(handlerLogs.emf) +
    billedBytes(handlerLogs.app);
  const queries = calls.filter((c) => c.operation === 'Query').length;
  return {
    dynamodbCalls: calls.length / count,
    rru: calls.reduce((sum, c) => sum + billedRru(c), 0) / count,
    claims: 1,
    queries: queries / count,
    logBytes: bytes / count,
    wallMs,
  };
}

/** Claim attempts of an idle long poll of `seconds`: at 0, 1, 3, 7, 15… s, and one at its end. */
export function documentedClaims(seconds: number): number {
  let at = 0;
  let gap = 1;
  let claims = 1;
  while (at + gap < seconds) {
    at += gap;
    gap = Math.min(gap * 2, 8);
    claims++;
  }
  return claims + 1;
}

/** Dollars per idle worker-hour of `requestsPerHour` requests, each as `request` with `billedMs` of Lambda. */
function perHour(requestsPerHour: number, request: IdleRequest, billedMs: number): number {
  const perRequest =
    PRICES.apiRequests.usd / 1e6 +
    PRICES.lambdaRequests.usd / 1e6 +
    (billedMs / 1000) * MEMORY_GB.api * PRICES.lambdaArmGbSecond.usd +
    (request.rru * PRICES.dynamoReads.usd) / 1e6 +
    (request.logBytes * PRICES.logsIngestion.usd) / GB;
  return requestsPerHour * perRequest;
}

export const bench: Bench = async (ctx) => {
  const queue = `bench-idle-${Date.now().toString(36)}`;
  const db = documentClient(ctx.stack.dynamodbEndpoint);
  await new JobStore(db, ctx.config).queueInfo(queue, true).finally(() => db.destroy());
  const claimPath = `/v2/queues/${queue}/jobs?num_jobs=1`;
  const shortPolls = ctx.quick ? 5 : 40;
  const wait = ctx.quick ? 2 : LONG_POLL_SECONDS;

  const short = await measureClaims(ctx, claimPath, shortPolls);
  const measuredLong = await measureClaims(ctx, `${claimPath}&wait=${wait}`, 1);
  // A server that knows no `wait` answers at once; one that waits answers after about `wait` s.
  const longPolls = measuredLong.wallMs >= (wait * 1000) / 2;
  const claims = documentedClaims(LONG_POLL_SECONDS);
  // Measured with `wait`, its claims scaled to a 20 s wait's (a quick run waits less).
  const scale = claims / documentedClaims(wait);
  const long: IdleRequest = longPolls
    ? {
        ...measuredLong,
        claims: (measuredLong.queries / Math.max(1, short.queries)) * scale,
        queries: measuredLong.queries * scale,
        rru: measuredLong.rru * scale,
        dynamodbCalls: measuredLong.dynamodbCalls * scale,
      }
    : {
        dynamodbCalls: short.dynamodbCalls * claims,
        rru: short.rru * claims,
        claims,
        queries: short.queries * claims,
        logBytes: short.logBytes,
        wallMs: LONG_POLL_SECONDS * 1000,
      };
  ctx.log(
    `   idle: short poll ${num(short.rru, 1)} RRU and ${num(short.logBytes)} log bytes per request; ` +
      `long poll ${longPolls ? 'measured' : 'not supported here, modelled'}: ${num(long.claims, 1)} claims per ${LONG_POLL_SECONDS} s`,
  );

  const rows: IdleRow[] = [
    ...SHORT_POLL_SECONDS.map((seconds) => ({
      label: `short poll every ${seconds} s${seconds === 0.25 ? ' (SDK Worker with `longPollSeconds: 0`, first idle poll)' : seconds === 5 ? ' (the same, backed off)' : ''}`,
      requestsPerHour: 3600 / seconds,
      request: short,
      billedMs: ASSUMED_MS.api,
      modelled: false,
      usdPerWorkerHour: perHour(3600 / seconds, short, ASSUMED_MS.api),
    })),
    {
      label: `long poll, \`wait=${LONG_POLL_SECONDS}\`${longPolls ? '' : ' †'}`,
      requestsPerHour: 3600 / LONG_POLL_SECONDS,
      request: long,
      billedMs: LONG_POLL_SECONDS * 1000,
      modelled: !longPolls,
      usdPerWorkerHour: perHour(3600 / LONG_POLL_SECONDS, long, LONG_POLL_SECONDS * 1000),
    },
  ];
  const markdown = `${table(
    [
      'idle worker',
      'requests per hour',
      'claims per request',
      'RRU per request',
      'log bytes per request',
      'Lambda ms billed per request',
      '$ per worker-hour',
      '$ per worker-month',
    ],
    rows.map((r) => [
      r.label,
      num(r.requestsPerHour),
      num(r.request.claims, 1),
      num(r.request.rru, 1),
      num(r.request.logBytes),
      num(r.billedMs),
      `$${r.usdPerWorkerHour.toFixed(4)}`,
      `$${(r.usdPerWorkerHour * 730).toFixed(2)}`,
    ]),
  )}

A long poll answers a job within milliseconds of its enqueue instead of up to one poll interval later, but on Lambda it is not the cheaper way to wait: the API function is billed for the whole wait (${LONG_POLL_SECONDS} s at ${MEMORY_GB.api * 1024} MB is ${num(LONG_POLL_SECONDS * MEMORY_GB.api)} GB-s, $${(LONG_POLL_SECONDS * MEMORY_GB.api * PRICES.lambdaArmGbSecond.usd * 1e6).toFixed(0)} per million waits), which outweighs the requests and reads it saves. The SDK Worker long-polls by default (\`longPollSeconds: 20\`); with \`longPollSeconds: 0\` an idle one backs off to one short poll every 5 s.

**How measured.** Claims (\`GET /v2/queues/{queue}/jobs?num_jobs=1\`) of an empty, registered ${ctx.config.defaultShards}-shard queue, ${shortPolls} in a row, through the local stack's handlers; a client hook counts their DynamoDB calls and read units (a read that finds nothing billed at 0.5 RRU), the bench's log tap their log lines, and Lambda's system logs (at the level the functions are deployed with) and the access log line are added per request as in "Cost per job". ${longPolls ? `The long poll was measured with \`wait=${wait}\` and its claims scaled to a ${LONG_POLL_SECONDS} s wait.` : `† This server answered \`wait=${wait}\` at once (${num(measuredLong.wallMs)} ms): it has no long poll, so the row is modelled from the documented cost, ${claims} claims per ${LONG_POLL_SECONDS} s wait (at 0, 1, 3, 7 and 15 s and at its end), each as the short poll's.`} A short poll's Lambda time is the ${ASSUMED_MS.api} ms the cost model assumes per API request; a long poll's is its wait. The maintenance sweep (per table, not per worker) is left out.`;
  return [
    {
      id: 'idle',
      title: 'Idle workers',
      parameters: {
        shortPollSeconds: SHORT_POLL_SECONDS,
        longPollSeconds: LONG_POLL_SECONDS,
        measuredWait: wait,
        shortPolls,
      },
      results: {
        longPollSupported: longPolls,
        short,
        long,
        rows: rows.map((r) => ({ ...r, usdPerWorkerHour: round(r.usdPerWorkerHour, 5) })),
      },
      markdown,
    },
  ];
};
