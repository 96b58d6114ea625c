/**
 * What one job costs: every AWS call it makes, by service and operation, the DynamoDB units they
 * consume, and the dollars per million jobs at list prices, for the pull path (single and batched)
 * and the managed paths (Lambda inline, Fargate).
 *
 * Calls are counted at the SDK client boundary (`addClientHook`), not estimated: this process
 * holds the API handlers, the dispatcher (fed by the local SQS poller), the managed runs (which
 * the local stack runs in its process) and the sweep. DynamoDB is asked for `ConsumedCapacity` per
 * index on every call.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { addClientHook, awsClientConfig, documentClient } from '../functions/core/clients.ts';
import { jobKey, QUEUES_PK, shardOf } from '../functions/jobs/keys.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { DEFAULT_PLATFORM_LOGS } from '../lib/function-logging.ts';
import { type CallRecord, capacityHook } from '../test/support/call-log.ts';
import {
  type ApiRequest,
  accessLogs,
  billedBytes,
  type CapturedLogs,
  capture,
  EVENT_OVERHEAD_BYTES,
  type LogVolume,
  platformLines,
} from './log-bytes.ts';
import { FARGATE_MINIMUM_SECONDS, GB, PRICES, priceTable } from './prices.ts';
import type { Bench, BenchContext } from './section.ts';
import { round, table } from './stats.ts';

export type PathKind = 'single' | 'batched' | 'batched-unique' | 'lambda' | 'fargate';

export interface PathSpec {
  readonly kind: PathKind;
  readonly label: string;
  readonly jobs: number;
  /** Jobs per enqueue and per claim call (batched paths). */
  readonly batch?: number;
  /** A one-shard queue with strict order instead of the default sharded one. */
  readonly strict?: boolean;
  /** A rate limit high enough never to refuse: what the token bucket costs per job. */
  readonly rateLimited?: boolean;
  /** Workers claiming at once (pull paths), so claims lose races as a fleet's do. @default 1 */
  readonly workers?: number;
}

/** A job of the measured path, found by its item's `pk`. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
  readonly shard: number;
  readonly managed: boolean;
}

export interface Measurement {
  readonly spec: PathSpec;
  readonly queue: string;
  readonly shards: number;
  readonly refs: ReadonlyMap<string, JobRef>;
  /** Every AWS call the path made: the stack runs in this process, managed runs included. */
  readonly calls: readonly CallRecord[];
  /** HTTP requests the client sent, and their total wall time. */
  readonly http: { readonly requests: number; readonly ms: number; readonly sent: readonly ApiRequest[] };
  /** Log lines the handlers in this process wrote, and those the runner processes wrote. */
  readonly logs: { readonly handlers: CapturedLogs; readonly runners: CapturedLogs };
  /** Dispatcher invocations (SQS receives that returned messages), their handler time, and run time inside runners. */
  readonly dispatch: { readonly batches: number; readonly handlerMs: number; readonly runMs: number };
  /**
   * Calls left out as not per job: the maintenance sweep (a fixed cost per minute), empty SQS long
   * polls, and reads of a queue's layout (once per queue in each process, then cached).
   */
  readonly excluded: { readonly sweep: number; readonly idleReceives: number; readonly queueLookups: number };
  readonly seconds: number;
}

const LEASE_SECONDS = 60;

/** A minimal HTTP client that counts requests and their wall time (API Gateway bills each). */
class Api {
  requests = 0;
  ms = 0;
  /** What the access log records of each request. */
  readonly sent: ApiRequest[] = [];
  constructor(private readonly url: string) {}

  async call(method: string, path: string, body?: unknown, retried = false): Promise<unknown> {
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      // The server closed an idle keep-alive connection as the request went out: send it again.
      if (retried) throw error;
      return this.call(method, path, body, true);
    }
    const text = await response.text();
    this.ms += performance.now() - started;
    this.requests++;
    this.sent.push({ method, path: path.split('?')[0] ?? path, status: response.status });
    // A retried enqueue of a fixed id that did land the first time answers 409: it is there.
    if (retried && response.status === 409) return undefined;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}

async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const claimPath = (queue: string, n: number) => `/v2/queues/${encodeURIComponent(queue)}/jobs?num_jobs=${n}`;
const runPath = (queue: string, job: { id: string; run_id: string }) =>
  `/v2/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(job.id)}/run-id/${job.run_id}`;

/**
 * `workers` claimers at once take `count` jobs, each completing what it claimed. A claimer asks only
 * for jobs no other claim in flight has asked for, so no claim comes back empty for want of jobs and
 * every failed write counted is a race lost to another claimer.
 */
async function claimAndComplete(
  api: Api,
  queue: string,
  count: number,
  batch: number,
  workers: number,
): Promise<void> {
  let asked = 0;
  let empty = 0;
  const worker = async () => {
    while (asked < count) {
      const want = Math.min(batch, count - asked);
      asked += want;
      const jobs = ((await api.call('GET', claimPath(queue, want))) ?? []) as {
        id: string;
        run_id: string;
      }[];
      asked -= want - jobs.length;
      if (!jobs.length && ++empty > 100)
        throw new Error(`queue ${queue} ran dry with ${count - asked} jobs left`);
      await eachLimit(jobs, 8, (job) => api.call('DELETE', runPath(queue, job)));
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

/** Waits until every managed job ended, reading with a client outside the hooks (not counted). */
async function awaitEnded(endpoint: string, table: string, refs: readonly JobRef[]): Promise<number> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig(endpoint)));
  const deadline = Date.now() + 120_000;
  try {
    for (;;) {
      let live = 0;
      let completed = 0;
      for (let i = 0; i < refs.length; i += 100) {
        const keys = refs.slice(i, i + 100).map((r) => jobKey(r.queue, r.id));
        const out = await db.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: {
                Keys: keys,
                ProjectionExpression: '#s',
                ExpressionAttributeNames: { '#s': 'status' },
              },
            },
          }),
        );
        for (const item of out.Responses?.[table] ?? []) {
          if (['pending', 'failed', 'running'].includes(String(item.status))) live++;
          if (item.status === 'completed') completed++;
        }
      }
      if (!live) return completed;
      if (Date.now() > deadline) throw new Error(`${live} managed jobs still live after 120 s`);
      await sleep(200);
    }
  } finally {
    db.destroy();
  }
}

/**
 * Runs one path on a fresh queue and returns every call it made. Counting starts after the queue
 * is registered (once per queue, not per job) and stops when every job has ended.
 */
export async function measurePath(ctx: BenchContext, spec: PathSpec): Promise<Measurement> {
  const { stack, config } = ctx;
  const queue = `bench-${spec.kind}${spec.strict ? '-strict' : ''}-${Date.now().toString(36)}`;
  // Registered by a store of our own, so a strict queue gets its one shard as RELAY_STRICT_QUEUES would.
  const db = documentClient(stack.dynamodbEndpoint);
  const store = new JobStore(db, { ...config, strictQueues: new Set(spec.strict ? [queue] : []) });
  const info = await store
    .queueInfo(queue, true)
    .then(async (found) => {
      if (spec.rateLimited) await store.setQueueLimits(queue, { rate_per_second: 10_000 });
      return found;
    })
    .finally(() => db.destroy());
  const shards = info?.shards ?? config.defaultShards;
  const managed = spec.kind === 'lambda' || spec.kind === 'fargate';
  const ids = Array.from({ length: spec.jobs }, (_, i) => `job-${String(i).padStart(5, '0')}`);
  const refs = new Map(
    ids.map((id) => [jobKey(queue, id).pk, { queue, id, shard: shardOf(queue, id, shards), managed }]),
  );

  const calls: CallRecord[] = [];
  const excluded = { sweep: 0, idleReceives: 0, queueLookups: 0 };
  let handlerLogs: CapturedLogs | undefined;
  const stackDepth = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const removeHook = addClientHook(
    capacityHook((record) => {
      // The sweep runs in this process on a 1 s timer (every minute on AWS): its async stack says so.
      if (/\bmaintain\b/.test(new Error().stack ?? '')) excluded.sweep++;
      else if (record.operation === 'ReceiveMessage' && !record.returned) excluded.idleReceives++;
      else if (record.pks?.[0] === QUEUES_PK) excluded.queueLookups++;
      else calls.push(record);
    }),
  );
  const api = new Api(stack.url);
  // A receive already in flight bypasses the hook: let the poller's 1 s long poll end first.
  if (managed) await sleep(1_200);
  const logs = capture();
  const started = performance.now();
  try {
    const job = (id: string) => ({ queue, id, timeout: LEASE_SECONDS, payload: { id } });
    if (spec.kind === 'single') {
      await eachLimit(ids, 4, (id) => api.call('POST', '/v1/jobs', job(id)));
      await claimAndComplete(api, queue, ids.length, 1, spec.workers ?? 1);
    } else if (spec.kind === 'batched' || spec.kind === 'batched-unique') {
      const batch = spec.batch ?? 100;
      const mode = spec.kind === 'batched' ? '?mode=ignore' : '';
      for (let i = 0; i < ids.length; i += batch) {
        await api.call('POST', `/v2/queues/jobs${mode}`, ids.slice(i, i + batch).map(job));
      }
      await claimAndComplete(api, queue, ids.length, batch, spec.workers ?? 1);
    } else {
      const payload = { command: '/bin/true', runtime: spec.kind };
      await eachLimit(ids, 4, (id) =>
        api.call('POST', '/v1/managed/jobs', { ...job(id), type: 'SHELL', payload, max_retries: 0 }),
      );
      const completed = await awaitEnded(stack.dynamodbEndpoint, config.tableName, [...refs.values()]);
      if (completed < ids.length)
        throw new Error(`only ${completed} of ${ids.length} managed jobs completed`);
      await sleep(300); // the last runs' final log writes
    }
  } finally {
    removeHook();
    handlerLogs = logs.stop();
    Error.stackTraceLimit = stackDepth;
  }
  const seconds = (performance.now() - started) / 1000;

  return {
    spec,
    queue,
    shards,
    refs,
    calls,
    http: { requests: api.requests, ms: api.ms, sent: api.sent },
    // Managed runs execute in this process: their lines are among the handlers'.
    logs: { handlers: handlerLogs as CapturedLogs, runners: noLogs() },
    dispatch: { ...dispatcherTime(calls), runMs: managed ? runTime(calls, refs) : 0 },
    excluded,
    seconds,
  };
}

const noLogs = (): CapturedLogs => ({ emf: { lines: 0, bytes: 0 }, app: { lines: 0, bytes: 0 } });

/**
 * Dispatcher invocations and their handler time. The poller receives a batch, calls the handler,
 * then deletes what it handled: the time from a receive's end to the next delete is the handler's.
 */
function dispatcherTime(calls: readonly CallRecord[]): { batches: number; handlerMs: number } {
  const received = calls.filter((c) => c.operation === 'ReceiveMessage').map((c) => c.at + c.ms);
  const deletes = calls.filter((c) => c.operation === 'DeleteMessageBatch').map((c) => c.at);
  let handlerMs = 0;
  for (const end of received) {
    const next = deletes.filter((at) => at >= end).sort((a, b) => a - b)[0];
    if (next !== undefined) handlerMs += next - end;
  }
  return { batches: received.length, handlerMs };
}

/**
 * Time the runs spent after their claim, each from its claim (the first `UpdateItem` of its job) to
 * the end of its last call: what an inline run bills on the dispatcher's Lambda, beyond the handler.
 * The handler's time per batch overlaps the start of each run (the dispatcher waits for the command
 * to start), so the two together count that start twice: a small share of a run.
 */
function runTime(calls: readonly CallRecord[], refs: ReadonlyMap<string, JobRef>): number {
  const spans = new Map<string, { from: number; to: number }>();
  for (const c of calls) {
    const pk = c.pks?.length === 1 ? c.pks[0] : undefined;
    if (pk === undefined || !refs.has(pk)) continue;
    const span = spans.get(pk);
    if (span) span.to = Math.max(span.to, c.at + c.ms);
    else if (c.operation === 'UpdateItem') spans.set(pk, { from: c.at, to: c.at + c.ms });
  }
  return [...spans.values()].reduce((sum, s) => sum + s.to - s.from, 0);
}

// ---------------------------------------------------------------------------------------------
// Units and dollars
// ---------------------------------------------------------------------------------------------

const READ_OPS = new Set(['GetItem', 'Query', 'Scan']);
const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * Read units as DynamoDB bills them. DynamoDB Local reports 0 for a query that finds nothing, but
 * DynamoDB charges a read that finds nothing as one of 4 KB: 0.5 RRU eventually consistent, 1 strongly.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
 */
export const billedRru = (c: CallRecord): number =>
  READ_OPS.has(c.operation) ? Math.max(c.rcu, c.consistent ? 1 : 0.5) : c.rcu;

/**
 * Units a batch-enqueue transaction bills per job. DynamoDB Local misreports transactions (5 puts
 * report 6 units), so they are counted: the item twice (prepare and commit, items ≤ 1 KB) and its
 * `ready` and `created` entries once each, as docs/design.md counts them. The only transactions
 * the measured paths make are batch enqueues in `unique` mode.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 */
export const TRANSACT_ENQUEUE_WRU = 2 + 2;

/** Write units as billed: a write whose condition fails still costs one unit (items ≤ 1 KB). */
export function billedWru(c: CallRecord): number {
  if (c.operation === 'TransactWriteItems') return (c.pks?.length ?? 0) * TRANSACT_ENQUEUE_WRU;
  return c.error && WRITE_OPS.has(c.operation) ? Math.max(c.wcu, 1) : c.wcu;
}

/** Memory of the functions as lib/ deploys them (RelayFunction's default; the executor's). */
export const MEMORY_GB = { api: 0.5, dispatcher: 0.5, executor: 1, taskEvents: 0.5 } as const;

/**
 * Billed Lambda time per invocation or job, in-region. The local emulators are several times slower
 * than DynamoDB and SQS (DynamoDB Local answers in 20–45 ms here, beside the sweep, on 2 cores), so
 * measured wall times would make duration the largest item: they are reported, the cost uses these.
 * API: a few DynamoDB round trips of ~5 ms. Inline run, in the dispatcher: claim, the run's reads,
 * the wait for the executor, complete; on the executor: spawn `/bin/true` and stream its end back.
 * Fargate dispatch: claim, `RunTask` (hundreds of ms), `recordTask`. TaskEvents: one read.
 */
export const ASSUMED_MS = {
  api: 30,
  inlineRun: 100,
  inlineCommand: 50,
  fargateDispatch: 250,
  taskEvent: 50,
} as const;

/** The runner task as ShellRunner defines it: 0.5 vCPU, 1 GB. */
const FARGATE = { vcpu: 0.5, gb: 1 } as const;
/** Step Functions Standard, the simplest job workflow (start, task, choice, succeed, end). */
const SFN_TRANSITIONS_PER_JOB = 5;

/** Calls per job the local stack cannot make, added by reasoning (marked † in the report). */
function analyticalCalls(kind: PathKind): Record<string, number> {
  // Locally the stack starts the command; on AWS the dispatcher invokes the executor for it.
  if (kind === 'lambda') return { 'Lambda.InvokeWithResponseStream': 1 };
  if (kind !== 'fargate') return {};
  return {
    // The dispatcher starts the task and records its ARN with the run (1 WRU, no index moves).
    'ECS.RunTask': 1,
    'DynamoDB.UpdateItem': 1,
    // TaskEvents reads the job on the task's STOPPED event and finds the run already ended.
    'DynamoDB.GetItem': 1,
  };
}

export type CostComponent =
  | 'api'
  | 'lambdaRequests'
  | 'lambdaDuration'
  | 'dynamoWrites'
  | 'dynamoReads'
  | 'lostRaces'
  | 'sqs'
  | 'logs'
  | 'fargate'
  | 'total';

/** CloudWatch Logs bytes per job, as billed (each event's bytes and 26 more), by who writes them. */
export interface LogBytes {
  /** Lambda's START, END and REPORT lines of each invocation that has a log group. */
  readonly platform: number;
  /** The API's access log line per request. */
  readonly access: number;
  /** EMF metric documents. */
  readonly emf: number;
  /** Relay's own log lines: the handlers', the dispatcher's and the runner's. */
  readonly app: number;
  readonly total: number;
}

export interface PathCost {
  readonly kind: PathKind;
  readonly label: string;
  readonly jobs: number;
  /** Workers claiming at once. */
  readonly workers: number;
  readonly seconds: number;
  /** `Service.Operation` → calls per job, measured plus analytical. */
  readonly callsPerJob: Record<string, number>;
  readonly analytical: Record<string, number>;
  readonly apiRequestsPerJob: number;
  readonly lambdaInvocationsPerJob: number;
  readonly lambdaGbSecondsPerJob: number;
  /** Wall times measured on the local stack, for comparison with `ASSUMED_MS`. */
  readonly localMs: { readonly perApiRequest: number; readonly dispatcherPerJob: number };
  readonly wruPerJob: number;
  /** The part of `wruPerJob` that index entries took, by index, as DynamoDB reported it (not for transactions). */
  readonly indexWruPerJob: Record<string, number>;
  readonly rruPerJob: number;
  /** Writes whose condition failed (races lost to another claimer), and the WRU they took (in `wruPerJob`). */
  readonly failedWritesPerJob: number;
  readonly lostRaceWruPerJob: number;
  readonly logBytesPerJob: LogBytes;
  readonly sqsRequestsPerJob: number;
  /** Dollars per million jobs by component. */
  readonly usdPerMillion: Readonly<Record<CostComponent, number>>;
  readonly excluded: Measurement['excluded'];
}

/** A write refused by its condition: a `ConditionalCheckFailedException`, or a cancelled transaction. */
const isConditionFailure = (error: string | undefined) =>
  error === 'ConditionalCheckFailedException' || error === 'TransactionCanceledException';

/** Log bytes per job of a measured path, with `invocations` logged Lambda invocations per job. */
function logBytes(m: Measurement, invocations: number): LogBytes {
  const n = m.spec.jobs;
  const sum = (a: LogVolume, b: LogVolume): LogVolume => ({
    lines: a.lines + b.lines,
    bytes: a.bytes + b.bytes,
  });
  const platform = billedBytes(platformLines(MEMORY_GB.api * 1024)) * invocations;
  const access = billedBytes(accessLogs(m.http.sent)) / n;
  const emf = billedBytes(sum(m.logs.handlers.emf, m.logs.runners.emf)) / n;
  const app = billedBytes(sum(m.logs.handlers.app, m.logs.runners.app)) / n;
  return { platform, access, emf, app, total: platform + access + emf + app };
}

export function costOf(m: Measurement): PathCost {
  const n = m.spec.jobs;
  const kind = m.spec.kind;
  const fargate = kind === 'fargate';
  const analytical = analyticalCalls(kind);
  const callsPerJob: Record<string, number> = { ...analytical };
  for (const c of m.calls) {
    const key = `${c.service}.${c.operation}`;
    callsPerJob[key] = (callsPerJob[key] ?? 0) + 1 / n;
  }
  const extra = fargate ? 1 : 0; // recordTask's write, TaskEvents' read
  const wruPerJob = m.calls.reduce((sum, c) => sum + billedWru(c), 0) / n + extra;
  const indexWruPerJob: Record<string, number> = {};
  for (const c of m.calls) {
    if (!c.wcu || c.operation === 'TransactWriteItems') continue;
    for (const [index, wcu] of Object.entries(c.indexes ?? {})) {
      indexWruPerJob[index] = (indexWruPerJob[index] ?? 0) + wcu / n;
    }
  }
  const rruPerJob = m.calls.reduce((sum, c) => sum + billedRru(c), 0) / n + extra;
  const failedWrites = m.calls.filter((c) => WRITE_OPS.has(c.operation) && isConditionFailure(c.error));
  const failedWritesPerJob = failedWrites.length / n;
  const lostRaceWruPerJob = failedWrites.reduce((sum, c) => sum + billedWru(c), 0) / n;
  const sqsRequestsPerJob = m.calls.filter((c) => c.service === 'SQS').length / n;
  const apiRequestsPerJob = m.http.requests / n;
  const dispatchesPerJob = m.dispatch.batches / n;
  const executorsPerJob = kind === 'lambda' ? 1 : 0;
  const lambdaInvocationsPerJob = apiRequestsPerJob + dispatchesPerJob + extra + executorsPerJob;
  const managed = kind === 'lambda' || fargate;
  const dispatcherMs = !managed ? 0 : fargate ? ASSUMED_MS.fargateDispatch : ASSUMED_MS.inlineRun;
  const lambdaGbSecondsPerJob =
    (apiRequestsPerJob * ASSUMED_MS.api * MEMORY_GB.api +
      dispatcherMs * MEMORY_GB.dispatcher +
      executorsPerJob * ASSUMED_MS.inlineCommand * MEMORY_GB.executor +
      extra * ASSUMED_MS.taskEvent * MEMORY_GB.taskEvents) /
    1000;
  // The executor has no log group (`logs: false`): its invocations write nothing.
  const loggedInvocationsPerJob = apiRequestsPerJob + dispatchesPerJob + extra;
  const logBytesPerJob = logBytes(m, loggedInvocationsPerJob);
  // A `/bin/true` task ends well within Fargate's minimum, so it bills the minimum.
  const fargateHours = FARGATE_MINIMUM_SECONDS / 3600;
  const fargateUsd = FARGATE.vcpu * PRICES.fargateArmVcpuHour.usd + FARGATE.gb * PRICES.fargateArmGbHour.usd;

  const usd = {
    api: apiRequestsPerJob * PRICES.apiRequests.usd,
    lambdaRequests: lambdaInvocationsPerJob * PRICES.lambdaRequests.usd,
    lambdaDuration: lambdaGbSecondsPerJob * 1e6 * PRICES.lambdaArmGbSecond.usd,
    dynamoWrites: (wruPerJob - lostRaceWruPerJob) * PRICES.dynamoWrites.usd,
    dynamoReads: rruPerJob * PRICES.dynamoReads.usd,
    lostRaces: lostRaceWruPerJob * PRICES.dynamoWrites.usd,
    sqs: sqsRequestsPerJob * PRICES.sqsRequests.usd,
    logs: (logBytesPerJob.total * 1e6 * PRICES.logsIngestion.usd) / GB,
    fargate: fargate ? 1e6 * fargateHours * fargateUsd : 0,
  };
  const total = Object.values(usd).reduce((a, b) => a + b, 0);
  const r = (x: number) => round(x, 4);
  const rounded = (o: Record<string, number>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, r(v)]));
  return {
    kind,
    label: m.spec.label,
    jobs: n,
    workers: m.spec.workers ?? 1,
    seconds: round(m.seconds, 1),
    callsPerJob: rounded(callsPerJob),
    analytical,
    apiRequestsPerJob: r(apiRequestsPerJob),
    lambdaInvocationsPerJob: r(lambdaInvocationsPerJob),
    lambdaGbSecondsPerJob: r(lambdaGbSecondsPerJob),
    localMs: {
      perApiRequest: round(m.http.ms / Math.max(1, m.http.requests), 1),
      dispatcherPerJob: round(managed ? (m.dispatch.handlerMs + m.dispatch.runMs) / n : 0, 1),
    },
    wruPerJob: r(wruPerJob),
    indexWruPerJob: rounded(indexWruPerJob),
    rruPerJob: r(rruPerJob),
    failedWritesPerJob: r(failedWritesPerJob),
    lostRaceWruPerJob: r(lostRaceWruPerJob),
    logBytesPerJob: rounded({ ...logBytesPerJob }) as unknown as LogBytes,
    sqsRequestsPerJob: r(sqsRequestsPerJob),
    usdPerMillion: rounded({ ...usd, total }) as Record<CostComponent, number>,
    excluded: m.excluded,
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fixed = (x: number, digits = 2) => (Math.abs(x) < 1e-9 ? '–' : x.toFixed(digits));
const usd = (x: number) => (Math.abs(x) < 0.005 ? '–' : `$${x.toFixed(2)}`);

/**
 * Workers claiming at once on the pull paths: the issue's 16 claimers on a default queue, whose
 * lost races the complete model prices.
 */
export const CLAIMERS = 16;

export function specs(quick: boolean): PathSpec[] {
  const batch = quick ? 10 : 100;
  const workers = quick ? 4 : CLAIMERS;
  const pull = quick ? 40 : 400;
  // Enough jobs that every worker's batch claims race the others' for the whole run.
  const batched = quick ? 40 : 4 * workers * batch;
  const managed = quick ? 3 : 50;
  return [
    { kind: 'single', label: '(a) pull, one job per call', jobs: pull, workers },
    {
      kind: 'single',
      label: '(a′) pull, one job per call, rate-limited',
      jobs: pull,
      rateLimited: true,
      workers,
    },
    { kind: 'batched', label: `(b) pull, ${batch} per call (\`ignore\`)`, jobs: batched, batch, workers },
    {
      kind: 'batched-unique',
      label: `(b′) pull, ${batch} per call (\`unique\`)`,
      jobs: batched,
      batch,
      workers,
    },
    { kind: 'lambda', label: '(c) managed, Lambda inline', jobs: managed },
    { kind: 'fargate', label: '(d) managed, Fargate', jobs: managed },
  ];
}

function callsTable(costs: readonly PathCost[]): string {
  /** A count with its analytical part shown apart: `3.00 + 1 †`. */
  const calls = (c: PathCost, key: string) => {
    const counted = c.analytical[key] ?? 0;
    const measured = (c.callsPerJob[key] ?? 0) - counted;
    if (!counted) return fixed(measured);
    return measured > 1e-9 ? `${fixed(measured)} + ${counted} †` : `${counted} †`;
  };
  /** Units that include counted ones: the Fargate extras, and transactions. */
  const units = (c: PathCost, value: number) =>
    `**${fixed(value)}**${c.kind === 'fargate' || c.kind === 'batched-unique' ? ' †' : ''}`;
  const keys = [...new Set(costs.flatMap((c) => Object.keys(c.callsPerJob)))].sort();
  const rows = keys.map((key) => [key, ...costs.map((c) => calls(c, key))]);
  rows.push(
    ['HTTP API requests', ...costs.map((c) => fixed(c.apiRequestsPerJob))],
    [
      'Lambda invocations',
      ...costs.map((c) => `${fixed(c.lambdaInvocationsPerJob)}${c.kind === 'fargate' ? ' †' : ''}`),
    ],
    ['**DynamoDB WRU**', ...costs.map((c) => units(c, c.wruPerJob))],
    ['… of them lost races', ...costs.map((c) => fixed(c.lostRaceWruPerJob))],
    [
      '**DynamoDB RRU**',
      ...costs.map((c) => (c.kind === 'fargate' ? units(c, c.rruPerJob) : `**${fixed(c.rruPerJob)}**`)),
    ],
    ['failed conditional writes', ...costs.map((c) => fixed(c.failedWritesPerJob))],
    ['**CloudWatch Logs bytes**', ...costs.map((c) => `**${fixed(c.logBytesPerJob.total, 0)}**`)],
    ['… Lambda system logs', ...costs.map((c) => fixed(c.logBytesPerJob.platform, 0))],
    ['… API access log', ...costs.map((c) => fixed(c.logBytesPerJob.access, 0))],
    ['… EMF metrics', ...costs.map((c) => fixed(c.logBytesPerJob.emf, 0))],
    ['… Relay’s log lines', ...costs.map((c) => fixed(c.logBytesPerJob.app, 0))],
    ['ms per API request (local)', ...costs.map((c) => fixed(c.localMs.perApiRequest, 0))],
    ['dispatcher ms per job (local)', ...costs.map((c) => fixed(c.localMs.dispatcherPerJob, 0))],
  );
  return table(['per job', ...costs.map((c) => c.label)], rows);
}

function costTable(costs: readonly PathCost[]): string {
  const sfn = SFN_TRANSITIONS_PER_JOB * PRICES.stepFunctionsTransitions.usd;
  const rows = costs.map((c) => {
    const u = c.usdPerMillion;
    return [
      c.label,
      usd(u.api),
      usd(u.lambdaRequests),
      usd(u.lambdaDuration),
      usd(u.dynamoWrites),
      usd(u.dynamoReads),
      usd(u.lostRaces),
      usd(u.sqs),
      usd(u.logs),
      usd(u.fargate),
      `**${usd(u.total)}**`,
    ];
  });
  rows.push([
    `Step Functions Standard, ${SFN_TRANSITIONS_PER_JOB} transitions`,
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    `$${sfn.toFixed(2)} + compute`,
  ]);
  return table(
    [
      'per million jobs',
      'HTTP API',
      'Lambda requests',
      'Lambda GB-s',
      'DynamoDB writes',
      'DynamoDB reads',
      'lost races',
      'SQS',
      'CloudWatch Logs',
      'Fargate',
      'total',
    ],
    rows,
  );
}

/** Who writes a path's log bytes, the writers of none left out. */
function logParts(logs: LogBytes): string {
  const parts = [
    [logs.access, 'the access log'],
    [logs.emf, 'the EMF metrics (one document per transition, as each is its own request)'],
    [logs.app, 'Relay’s log lines'],
    [logs.platform, 'Lambda’s system logs'],
  ] as const;
  const written = parts.filter(([bytes]) => bytes > 0).map(([bytes, who]) => `${fixed(bytes, 0)} ${who}`);
  return `${written.slice(0, -1).join(', ')}${written.length > 1 ? ' and ' : ''}${written.at(-1) ?? ''}`;
}

/** The issue's all-in targets per million pull jobs (the complete model: logs and lost races in). */
export const PULL_TARGETS_USD = { single: 9, batched: 5.5 } as const;

/** Where the pull paths' dollars go, against the targets, and what would lower them. */
function pullVerdict(single: PathCost | undefined, batched: PathCost | undefined): string {
  if (!single) return '';
  const u = single.usdPerMillion;
  const perRequest = u.api + u.lambdaRequests + u.lambdaDuration;
  const byIndex = Object.entries(single.indexWruPerJob).sort(([a], [b]) => a.localeCompare(b));
  const indexWru = byIndex.reduce((sum, [, wru]) => sum + wru, 0);
  const jobWru = single.wruPerJob - single.lostRaceWruPerJob;
  const against = (c: PathCost, target: number) =>
    `**${usd(c.usdPerMillion.total)}** per million jobs (target ≤ $${target}: ${c.usdPerMillion.total <= target ? 'met' : 'not met'})`;
  const logs = single.logBytesPerJob;
  return [
    `The pull path with one call per step costs ${against(single, PULL_TARGETS_USD.single)}.`,
    `DynamoDB writes are ${usd(u.dynamoWrites)} of it, ${fixed(jobWru)} WRU per job:`,
    `${fixed(jobWru - indexWru)} for the job item (enqueue, claim, complete) and ${fixed(indexWru)} for index`,
    `entries (${byIndex.map(([index, wru]) => `\`${index}\` ${fixed(wru)}`).join(', ')}; docs/design.md, "Writes per job").`,
    `With ${single.workers} workers claiming at once, ${fixed(single.failedWritesPerJob)} claim writes per job lose their race:`,
    `${usd(u.lostRaces)} of write units that bought nothing, and the reads of their retries.`,
    `${usd(perRequest)} is per request: ${fixed(single.apiRequestsPerJob, 0)} API Gateway requests and as many Lambda`,
    `invocations per job. CloudWatch Logs take ${usd(u.logs)}: ${fixed(logs.total, 0)} bytes per job,`,
    `${logParts(logs)}. Lambda’s start, runtime-done and report events would add`,
    `${fixed(billedBytes(platformLines(MEMORY_GB.api * 1024, 'info')) * single.lambdaInvocationsPerJob, 0)} bytes`,
    `with \`platformLogs: 'info'\` (\`${DEFAULT_PLATFORM_LOGS}\` by default).`,
    batched
      ? `Batching (b) shares the requests, and a claim’s metrics, among the jobs of a call: ${against(batched, PULL_TARGETS_USD.batched)}, not the writes.`
      : '',
    'Further down: fewer index entries per job (each is 1 WRU in and 1 out), and provisioned capacity, billed per write unit-hour rather than per request, which costs several',
    'times less per write under steady, high utilisation (https://aws.amazon.com/dynamodb/pricing/provisioned/).',
  ]
    .filter(Boolean)
    .join(' ');
}

export const bench: Bench = async (ctx) => {
  const costs: PathCost[] = [];
  for (const spec of specs(ctx.quick)) {
    const cost = costOf(await measurePath(ctx, spec));
    ctx.log(`economy: ${spec.label}: ${spec.jobs} jobs in ${cost.seconds.toFixed(1)} s`);
    costs.push(cost);
  }
  const markdown = [
    callsTable(costs),
    '',
    costTable(costs),
    '',
    pullVerdict(
      costs.find((c) => c.kind === 'single'),
      costs.find((c) => c.kind === 'batched'),
    ),
    '',
    '**How measured.** Each path runs its jobs on a fresh queue of the local stack. Pull paths claim',
    `with ${CLAIMERS} workers at once (as a fleet does; each asks only for jobs no claim in flight has asked`,
    'for, so a failed write is a race lost to another worker, never an empty queue). Every AWS call of',
    'Relay’s clients passes a client hook (`addClientHook`)',
    'that asks DynamoDB for `ConsumedCapacity` per index; managed runs execute in the stack’s process,',
    'so their calls pass it too. Left out, as they are not per',
    'job: the maintenance sweep (told apart by its async stack; on AWS it runs once a minute), empty SQS',
    'long polls, and queue-layout reads (once per queue and process). A read that finds nothing is billed',
    'at DynamoDB’s minimum (0.5 RRU, 1 consistent), which DynamoDB Local reports as 0. A write refused by',
    'its condition is billed 1 WRU (“lost races”). HTTP API requests',
    'are the client’s requests. Lambda invocations are those plus one dispatcher invocation per SQS',
    'receive that returned messages (the local poller takes up to 10, as the event source does), and',
    'for inline runs one executor invocation per job (†: locally the stack starts the command itself).',
    `Lambda GB-s use assumed in-region times (API ${ASSUMED_MS.api} ms at ${MEMORY_GB.api * 1024} MB; dispatcher`,
    `${ASSUMED_MS.inlineRun} ms per inline run, ${ASSUMED_MS.fargateDispatch} ms per Fargate start, at`,
    `${MEMORY_GB.dispatcher * 1024} MB; executor ${ASSUMED_MS.inlineCommand} ms per inline command at`,
    `${MEMORY_GB.executor * 1024} MB), not the local times above: the emulators (and, on managed paths,`,
    'commands sharing the CPU) are far slower than DynamoDB. † Counted, not measured: locally every',
    'run executes in the stack’s process, so for Fargate the dispatcher’s `RunTask` (free; ECS bills only the',
    'task) and `recordTask` write (1 WRU), and the TaskEvents invocation on the STOPPED event',
    `(${ASSUMED_MS.taskEvent} ms, one consistent read) are added per job; the runner task is ${FARGATE.vcpu} vCPU`,
    `and ${FARGATE.gb} GB for the one-minute minimum. Transactions are counted as ${TRANSACT_ENQUEUE_WRU} WRU per`,
    'job (the item twice, two index entries once), as DynamoDB Local misreports them.',
    '**CloudWatch Logs** are what the handlers write, captured: the bench runs them with EMF on',
    '(`RELAY_METRICS=emf`, as on Lambda) and Relay’s logs at every level, and counts each JSON line they',
    'write (runner processes count theirs through the preload; on AWS those lines are the dispatcher’s',
    'for inline runs and the task’s for Fargate). Lambda’s system logs are added per invocation that has',
    `a log group (the executor has none) at the level the functions are deployed with (\`platformLogs\`,`,
    `lib/function-logging.ts): ${fixed(billedBytes(platformLines(512)), 0)} bytes at \`${DEFAULT_PLATFORM_LOGS}\`, the default;`,
    `${fixed(billedBytes(platformLines(512, 'info')), 0)} at \`info\`, with each invocation’s start, runtime-done and report events.`,
    'The access log line `RelayApi` writes (lib/access-log.ts) is added per HTTP request, rendered with',
    'the request’s route and status. Each line is billed with the',
    `${EVENT_OVERHEAD_BYTES} bytes CloudWatch Logs adds per event, at $${PRICES.logsIngestion.usd} per GB ingested;`,
    'storage (compressed, one month’s retention) is a few percent of that and left out. Not counted:',
    'CloudWatch metrics (per metric and month, not per job), data transfer, and',
    'EventBridge (events from AWS services are free).',
    '',
    'Prices (us-east-1, on demand):',
    '',
    priceTable(),
  ].join('\n');
  return [
    {
      id: 'economy',
      title: 'Cost per job',
      parameters: {
        paths: specs(ctx.quick),
        leaseSeconds: LEASE_SECONDS,
        memoryGb: MEMORY_GB,
        assumedMs: ASSUMED_MS,
        fargate: { ...FARGATE, minimumSeconds: FARGATE_MINIMUM_SECONDS },
        transactEnqueueWru: TRANSACT_ENQUEUE_WRU,
        prices: PRICES,
      },
      results: costs,
      markdown,
    },
  ];
};
