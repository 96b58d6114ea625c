/**
 * Relay's reliability scenarios. Each submits a known set of jobs, applies one fault while they
 * run, waits until none is left waiting or running, and then counts what became of every job and
 * every run. `npm run chaos` (bench/chaos.ts) runs them at full size; test/chaos.test.ts runs the
 * same code small, inside `npm test`.
 *
 * What a scenario reports, and fails on:
 * - `runs`: runs Relay started (the jobs' `attempts`). A re-run after a crash is allowed: delivery
 *   is at-least-once.
 * - `duplicates-concurrent`: pairs of runs of one job that were alive at the same moment. They are
 *   counted from the runs' own records, never from Relay's view of them: pull workers append each
 *   handler's start and end to a file (a killed worker's runs end when it died), and shell commands
 *   take an exclusive `flock` on their job's record file, which the kernel releases when the
 *   command dies, so a command that starts while another run of its job is alive records it.
 * - `lost`: submitted jobs that are neither completed nor dead once the scenario has drained
 *   (or that are missing). Dead is allowed: a job may spend its retries on crashes.
 *
 * The scenarios share one in-process local stack (`startLocalStack`), each with its own queue, so
 * hooks installed here reach the API, the dispatcher, the runs of managed jobs (which the stack
 * runs in its process) and the sweep. The pull workers are processes of their own: they get their
 * faults and clocks from a preload in the `NODE_OPTIONS` they inherit (test/support/preload.ts).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { addClientHook, documentClient, sqsClient } from '../functions/core/clients.ts';
import { readConfig } from '../functions/core/config.ts';
import { Env } from '../functions/core/env.ts';
import { DispatchQueue } from '../functions/dispatch/queue.ts';
import { redispatchLost } from '../functions/dispatch/repair.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { LOCAL_TABLE, type LocalStack } from '../functions/local/stack.ts';
import { type Job, type JobInput, RelayApiError, RelayClient } from '../functions/sdk/client.ts';
import { errorFaults, type FaultKind, messageFaults } from '../test/support/faults.ts';
import { childHooksPreload } from '../test/support/preload.ts';
import type { WorkerRecord } from './chaos-worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Sizes and results
// ---------------------------------------------------------------------------------------------

/** How big each scenario is: `FULL` for `npm run chaos`, `SHORT` for `npm test`. */
export interface ChaosSizes {
  readonly workerKills: { readonly jobs: number; readonly workers: number; readonly kills: number };
  readonly commandKills: { readonly jobs: number; readonly kills: number };
  readonly errors: { readonly pullJobs: number; readonly managedJobs: number };
  /** `drop`: share of messages dropped (as many again are duplicated, and delayed). */
  readonly messages: { readonly jobs: number; readonly drop: number };
  readonly restart: { readonly pullJobs: number; readonly managedJobs: number };
  readonly skew: { readonly pullJobs: number; readonly managedJobs: number };
  readonly burst: { readonly jobs: number; readonly producers: number };
  /**
   * SIGKILLs of the whole `relay dev --data-dir` (node and its JVM), each right after an
   * acknowledgement once `producers` sending `unique` batches of `batch` jobs have loaded it for up
   * to `maxLoadMs`. What they enqueued is then drained, within `drainTimeoutMs`: a stack on a data
   * directory writes to disk, so it drains slower than the in-memory one.
   */
  readonly stackKills: {
    readonly kills: number;
    readonly producers: number;
    readonly batch: number;
    readonly maxLoadMs: number;
    readonly drainTimeoutMs: number;
  };
  /**
   * Run the lost-dispatch repair beside the stack's own sweep with this grace. The stack's grace is
   * `DISPATCH_GRACE_MS` (30 s) and not configurable, so the full run waits for it and proves the
   * shipped setting; the short run repairs with the same code after 2 s to fit inside `npm test`.
   */
  readonly repairGraceMs?: number;
  /** Longest wait for a scenario to drain; jobs still live after it count as lost. */
  readonly drainTimeoutMs: number;
}

/**
 * About 10 minutes on an idle 2-core machine, most of it the 10,000-job burst, the 30 s grace of
 * the lost-dispatch repair and the restarts after the stack's SIGKILLs. Dropping one message in ten keeps the chance of a job whose hint is
 * lost twice in a row (a full minute of repair) small.
 */
export const FULL: ChaosSizes = {
  workerKills: { jobs: 300, workers: 4, kills: 12 },
  commandKills: { jobs: 30, kills: 10 },
  errors: { pullJobs: 200, managedJobs: 30 },
  messages: { jobs: 40, drop: 0.1 },
  restart: { pullJobs: 150, managedJobs: 20 },
  skew: { pullJobs: 200, managedJobs: 20 },
  burst: { jobs: 10_000, producers: 32 },
  stackKills: { kills: 16, producers: 8, batch: 50, maxLoadMs: 1_500, drainTimeoutMs: 480_000 },
  drainTimeoutMs: 240_000,
};

/** For `npm test`: a few of each fault, and the 2 s repair grace. */
export const SHORT: ChaosSizes = {
  workerKills: { jobs: 60, workers: 3, kills: 4 },
  commandKills: { jobs: 8, kills: 3 },
  errors: { pullJobs: 40, managedJobs: 6 },
  messages: { jobs: 12, drop: 0.2 },
  restart: { pullJobs: 30, managedJobs: 6 },
  skew: { pullJobs: 40, managedJobs: 6 },
  burst: { jobs: 1_000, producers: 32 },
  stackKills: { kills: 3, producers: 4, batch: 25, maxLoadMs: 600, drainTimeoutMs: 150_000 },
  repairGraceMs: 2_000,
  drainTimeoutMs: 50_000,
};

export interface ScenarioResult {
  readonly scenario: string;
  /** The scenario's queue, which also names its directory of run records. */
  readonly queue: string;
  readonly submitted: number;
  readonly completed: number;
  readonly dead: number;
  readonly runs: number;
  readonly duplicatesConcurrent: number;
  /** The jobs those pairs belong to, to look up in the scenario's records. */
  readonly overlapping: readonly string[];
  readonly lost: number;
  /** Jobs listed in the scenario's queue that were never submitted, or listed more than once. */
  readonly unexpected: number;
  /** How often the fault struck: processes killed, calls failed, messages misdelivered, restarts, skewed processes. */
  readonly faults: number;
  /** What the fault did, for the log. */
  readonly detail: string;
}

/** The scenario's one-line summary. */
export function formatResult(r: ScenarioResult): string {
  return (
    `${r.scenario}: submitted ${r.submitted} / completed ${r.completed} / dead ${r.dead} / ` +
    `runs ${r.runs} / duplicates-concurrent ${r.duplicatesConcurrent} / lost ${r.lost}`
  );
}

/** Why a scenario failed; empty when it passed. */
export function problems(r: ScenarioResult): string[] {
  return [
    r.lost ? `${r.lost} jobs lost` : '',
    r.duplicatesConcurrent
      ? `${r.duplicatesConcurrent} pairs of runs of one job overlapped (${r.overlapping.join(', ')})`
      : '',
    r.unexpected ? `${r.unexpected} jobs listed that were not submitted once` : '',
    // Every job has retries enough for the faults it meets: a dead one means runs failed for another reason.
    r.dead ? `${r.dead} jobs ended dead` : '',
  ].filter(Boolean);
}

export interface ChaosContext {
  /** The in-process local stack the scenarios share; each scenario uses its own queue. */
  readonly stack: LocalStack;
  /** Scratch space: run records, the bundled worker, a restarted stack's data. */
  readonly workDir: string;
  /** The pull worker program (bench/chaos-worker.ts, bundled so a restart takes no compile). */
  readonly workerScript: string;
  readonly log: (line: string) => void;
}

/** Bundles the worker program into `workDir`; dist/relay.mjs must be built (`npm run build`). */
export async function chaosContext(
  stack: LocalStack,
  workDir: string,
  log: (line: string) => void,
): Promise<ChaosContext> {
  // Commands may run as a uid of their own (the stack run as root): they must reach their records.
  chmodSync(workDir, 0o755);
  const workerScript = path.join(workDir, 'chaos-worker.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'bench/chaos-worker.ts')],
    outfile: workerScript,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  return { stack, workDir, workerScript, log };
}

export type Scenario = (ctx: ChaosContext, sizes: ChaosSizes) => Promise<ScenarioResult>;

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/** Pull jobs hold a 4 s lease: short for quick recovery, long beside a heartbeat every 1.3 s. */
const PULL_TIMEOUT_S = 4;
/**
 * Managed runs hold 10 s. The lease starts at the claim and is renewed before the command starts,
 * then every third of the timeout: on a loaded machine a store call can take a second or more.
 */
const MANAGED_TIMEOUT_S = 10;
/** Retries for a crash-prone job; a job that crashes more often than this is dead, which is allowed. */
const MAX_RETRIES = 5;

/** 1a. Pull worker processes are SIGKILLed at random moments and replaced; their leases expire and other workers take the jobs. */
export const workerKills: Scenario = async (ctx, sizes) => {
  const { jobs, workers, kills } = sizes.workerKills;
  const run = newRun(ctx, 'worker-kills');
  const ids = await submitAll(
    run.client,
    range(jobs, (i) => pullJob(run.queue, `job-${i}`, between(100, 600))),
  );
  const fleet = new WorkerFleet(ctx, run, { concurrency: 4 });
  try {
    fleet.start(workers);
    let killed = 0;
    while (killed < kills && (await live(run))) {
      await pause(between(300, 1_200));
      await fleet.killOne();
      killed++;
    }
    const detail = `${killed} worker processes SIGKILLed and restarted`;
    return await finish(run, ids, sizes, { fleet, faults: killed, detail });
  } finally {
    await fleet.stop();
  }
};

/**
 * 1b. The commands of managed jobs are SIGKILLed mid-run, with everything they started: each such
 * run fails, and its job runs again after its backoff, never beside the run that was killed.
 */
export const commandKills: Scenario = async (ctx, sizes) => {
  const { jobs, kills } = sizes.commandKills;
  const run = newRun(ctx, 'command-kills');
  const ids = await submitAll(
    run.client,
    range(jobs, (i) => shellJob(run, `job-${i}`, { seconds: between(1, 3) })),
  );
  let killed = 0;
  const deadline = Date.now() + sizes.drainTimeoutMs;
  while (killed < kills && Date.now() < deadline && (await live(run))) {
    await pause(between(200, 1_000));
    const commands = await commandProcesses(run);
    const victim = commands[Math.floor(Math.random() * commands.length)];
    if (!victim) continue;
    try {
      // The command leads its process group: its `sleep` goes too, and with it the record's lock.
      process.kill(-victim.pid, 'SIGKILL');
      killed++;
    } catch {
      // It ended on its own just now.
    }
  }
  return finish(run, ids, sizes, { faults: killed, detail: `${killed} commands SIGKILLed mid-run` });
};

/** 2. 10% of DynamoDB and SQS calls fail: throttled, or a 500 before or after the call took effect. */
export const injectedErrors: Scenario = async (ctx, sizes) => {
  const { pullJobs, managedJobs } = sizes.errors;
  const run = newRun(ctx, 'injected-errors');
  const tally = new Map<string, number>();
  const remove = addClientHook(
    errorFaults(0.1, {
      onFault: (call, kind) =>
        tally.set(`${call.service} ${kind}`, (tally.get(`${call.service} ${kind}`) ?? 0) + 1),
    }),
  );
  const fleet = new WorkerFleet(ctx, run, { concurrency: 4 });
  const repair = repairLoop(sizes.repairGraceMs, () => inProcessRepair(ctx.stack));
  try {
    const ids = await submitAll(run.client, [
      ...range(pullJobs, (i) => pullJob(run.queue, `pull-${i}`, between(50, 400))),
      ...range(managedJobs, (i) => shellJob(run, `shell-${i}`, { seconds: between(0.2, 1) })),
    ]);
    fleet.start(3);
    await drain(run, sizes.drainTimeoutMs);
    remove();
    const detail = `faults injected in the stack's process, managed runs included: ${describeTally(tally)}`;
    return await finish(run, ids, sizes, { fleet, faults: total(tally), detail });
  } finally {
    remove();
    await repair();
    await fleet.stop();
  }
};

/** 3. SQS messages are dropped, sent twice and delayed; the sweep's lost-dispatch repair re-sends what was lost. */
export const messageMisdelivery: Scenario = async (ctx, sizes) => {
  const run = newRun(ctx, 'sqs-misdelivery');
  const { jobs, drop } = sizes.messages;
  const shares = { drop, duplicate: 0.2, delay: 0.2 };
  const tally = new Map<FaultKind, number>();
  const remove = addClientHook(
    messageFaults(shares, { onFault: (_call, kind) => tally.set(kind, (tally.get(kind) ?? 0) + 1) }),
  );
  // Runs send the hints of retries: half of the jobs fail their first run, so retries are misdelivered too.
  const repair = repairLoop(sizes.repairGraceMs, () => inProcessRepair(ctx.stack));
  try {
    const ids = await submitAll(
      run.client,
      range(jobs, (i) => shellJob(run, `job-${i}`, { seconds: between(0.2, 1), failFirst: i % 2 === 0 })),
    );
    await drain(run, sizes.drainTimeoutMs);
    remove();
    const detail = `SendMessage in the stack's process, managed runs included: ${describeTally(tally)}`;
    return await finish(run, ids, sizes, { faults: total(tally), detail });
  } finally {
    remove();
    await repair();
  }
};

/**
 * 4. The local stack is restarted mid-run with `--data-dir`: DynamoDB keeps every job, the SQS
 * emulator loses every hint. It runs as its own `relay dev` process, as a user restarts it (the
 * handlers' clients are process-wide singletons bound to the first endpoints they saw).
 */
export const stackRestart: Scenario = async (ctx, sizes) => {
  const { pullJobs, managedJobs } = sizes.restart;
  const port = await freePort();
  const dataDir = path.join(ctx.workDir, `restart-data-${randomUUID().slice(0, 8)}`);
  let stack = await startDevProcess(port, dataDir);
  const run = newRun(ctx, 'stack-restart', stack.url);
  const fleet = new WorkerFleet(ctx, run, { concurrency: 4 });
  let repair = async () => {};
  try {
    const ids = await submitAll(run.client, [
      ...range(pullJobs, (i) => pullJob(run.queue, `pull-${i}`, between(100, 600))),
      // Running at the restart: stopped with the stack, then retried once their lease expires.
      ...range(Math.ceil(managedJobs / 2), (i) => shellJob(run, `shell-${i}`, { seconds: between(1, 3) })),
      // Due after the restart: their delayed hints are lost with the SQS emulator.
      ...range(Math.floor(managedJobs / 2), (i) =>
        shellJob(run, `delayed-${i}`, { seconds: between(0.2, 1), delay: between(4, 8) }),
      ),
    ]);
    fleet.start(3);
    await pause(3_000);
    const inFlight = (await run.client.stats(run.queue)).running;
    const stoppedAt = Date.now();
    await stack.stop();
    stack = await startDevProcess(port, dataDir);
    const downS = (Date.now() - stoppedAt) / 1000;
    const restarted = stack;
    repair = repairLoop(sizes.repairGraceMs, () => childRepair(restarted));
    await drain(run, sizes.drainTimeoutMs);
    const detail = `restarted after 3 s with ${inFlight} runs in flight, down for ${downS.toFixed(1)} s; SQS hints lost`;
    return await finish(run, ids, sizes, { fleet, faults: 1, detail });
  } finally {
    await repair();
    await fleet.stop();
    await stack.stop();
  }
};

/**
 * 5. Pull workers' clocks run 2 s ahead of or behind the API's. Workers never send a time (the API
 * stamps every lease), so their skew must be harmless. Managed jobs run beside them, with the
 * stack's clock: the stack keeps their books, as the dispatcher does on AWS.
 */
export const clockSkew: Scenario = async (ctx, sizes) => {
  const { pullJobs, managedJobs } = sizes.skew;
  const run = newRun(ctx, 'clock-skew');
  const skewed = (clockSkewMs: number[]) => childHooksPreload({ clockSkewMs }, ctx.workDir);
  const [ahead, behind] = [await skewed([2_000]), await skewed([-2_000])];
  const fleet = new WorkerFleet(ctx, run, {
    concurrency: 4,
    env: (i) => ({ NODE_OPTIONS: i % 2 ? behind : ahead }),
  });
  try {
    const ids = await submitAll(run.client, [
      ...range(pullJobs, (i) => pullJob(run.queue, `pull-${i}`, between(100, 1_500))),
      ...range(managedJobs, (i) =>
        shellJob(run, `shell-${i}`, { seconds: between(2, 5), failFirst: i % 3 === 0 }),
      ),
    ]);
    fleet.start(4);
    await drain(run, sizes.drainTimeoutMs);
    const workers = new Map(fleet.records().map((r) => [r.pid, r.skew_ms]));
    const skews = [...workers.values()];
    const seen = [...countBy(skews.map((ms) => `${ms > 0 ? '+' : ''}${ms} ms`))];
    const detail = `clocks off by ${seen.map(([skew, n]) => `${skew} (${n}×)`).join(', ')} in ${workers.size} worker processes`;
    return await finish(run, ids, sizes, {
      fleet,
      faults: skews.filter((ms) => Math.abs(ms) >= 1_000).length,
      detail,
    });
  } finally {
    await fleet.stop();
  }
};

/** 6. A burst of jobs from many concurrent producers, then drained by workers: each job exactly once, completed. */
export const burst: Scenario = async (ctx, sizes) => {
  const { jobs, producers } = sizes.burst;
  const run = newRun(ctx, 'burst');
  const startedAt = Date.now();
  const ids = await submitAll(
    run.client,
    range(jobs, (i) => pullJob(run.queue, `job-${i}`, 0)),
    producers,
  );
  const submittedS = (Date.now() - startedAt) / 1000;
  // Few workers, each running many jobs at once: claimers racing for the same heads only cost time.
  const workers = 2;
  const fleet = new WorkerFleet(ctx, run, { concurrency: 50 });
  try {
    fleet.start(workers);
    const drainedAt = Date.now();
    await drain(run, sizes.drainTimeoutMs);
    const detail =
      `${producers} producers enqueued ${jobs} jobs in ${submittedS.toFixed(1)} s; ` +
      `${workers} workers drained them in ${((Date.now() - drainedAt) / 1000).toFixed(1)} s`;
    return await finish(run, ids, sizes, { fleet, faults: 0, detail });
  } finally {
    await fleet.stop();
  }
};

/**
 * 7. The whole `relay dev --data-dir` (node and DynamoDB Local's JVM, one process group) is
 * SIGKILLed during a load of `unique` batches, right after an acknowledgement, then started again
 * on the same data, again and again. Every acknowledged job must be there afterwards, and workers
 * must be able to drain them all: an answer sent before its write was durable loses a batch here
 * (DynamoDB Local answers a transaction before SQLite commits it, unless Relay waits).
 */
export const stackKills: Scenario = async (ctx, sizes) => {
  const port = await freePort();
  const dataDir = path.join(ctx.workDir, `kill-data-${randomUUID().slice(0, 8)}`);
  const queue = `chaos-stack-kills-${randomUUID().slice(0, 8)}`;
  const acknowledged: string[] = [];
  const { kills, maxLoadMs, drainTimeoutMs } = sizes.stackKills;
  for (let kill = 0; kill < kills; kill++) {
    const stack = await startDevProcess(port, dataDir);
    const load = { ...sizes.stackKills, loadMs: between(maxLoadMs / 4, maxLoadMs) };
    acknowledged.push(...(await loadThenKill(stack, queue, `k${kill}`, load)));
  }
  const stack = await startDevProcess(port, dataDir);
  const run = { ...newRun(ctx, 'stack-kills', stack.url), queue };
  const fleet = new WorkerFleet(ctx, run, { concurrency: 50 });
  try {
    const stored = new Set((await listAll(run)).map((job) => job.id));
    const missing = acknowledged.filter((id) => !stored.has(id));
    fleet.start(2);
    const detail =
      `${kills} SIGKILLs of relay dev and its JVM right after an acknowledged batch; ` +
      `${acknowledged.length} jobs acknowledged, ${missing.length} missing after the restarts` +
      (missing.length ? ` (${missing.slice(0, 5).join(', ')}…)` : '');
    // Relay's to keep: every acknowledged job, and any written whose answer died with the stack.
    const ids = [...new Set([...acknowledged, ...stored])];
    return await finish(run, ids, { ...sizes, drainTimeoutMs }, { fleet, faults: kills, detail });
  } finally {
    await fleet.stop();
    await stack.stop();
  }
};

/**
 * `producers` send `unique` batches of `batch` pull jobs (ids `<prefix>-<producer>-<n>-<i>`); once
 * the first is acknowledged, the load runs on for `loadMs` (a backlog builds up in the emulator),
 * then the stack's process group is SIGKILLed right after the next acknowledgement. Returns the ids
 * of every acknowledged batch.
 */
async function loadThenKill(
  stack: DevProcess,
  queue: string,
  prefix: string,
  load: { readonly producers: number; readonly batch: number; readonly loadMs: number },
) {
  const acknowledged: string[] = [];
  let armed = Number.POSITIVE_INFINITY;
  let killed = false;
  let batch = 0;
  const producer = async (p: number) => {
    while (!killed) {
      const ids = range(load.batch, (i) => `${prefix}-${p}-${batch}-${i}`);
      batch++;
      const jobs = ids.map((id) => pullJob(queue, id, 0));
      const response = await fetch(`${stack.url}/v2/queues/jobs?mode=unique`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(jobs),
      }).catch(() => undefined);
      if (!response || killed) return;
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`enqueue answered ${response.status}`);
      acknowledged.push(...ids);
      armed = Math.min(armed, Date.now() + load.loadMs);
      if (Date.now() >= armed && !killed) {
        killed = true;
        await stack.kill();
      }
    }
  };
  await Promise.all(range(load.producers, producer));
  return acknowledged;
}

/** Every scenario, by the name `npm run chaos -- <name>` takes, in the order they run. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  'worker-kills': workerKills,
  'command-kills': commandKills,
  'injected-errors': injectedErrors,
  'sqs-misdelivery': messageMisdelivery,
  'stack-restart': stackRestart,
  'clock-skew': clockSkew,
  burst,
  'stack-kills': stackKills,
};

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

interface ScenarioRun {
  readonly name: string;
  readonly queue: string;
  readonly url: string;
  readonly client: RelayClient;
  /** Pull workers' record files. */
  readonly workerRecords: string;
  /** Shell commands' record files, one per job, each also its lock. */
  readonly shellRecords: string;
}

function newRun(ctx: ChaosContext, name: string, url = ctx.stack.url): ScenarioRun {
  const queue = `chaos-${name}-${randomUUID().slice(0, 8)}`;
  const dir = path.join(ctx.workDir, queue);
  const workerRecords = path.join(dir, 'workers');
  const shellRecords = path.join(dir, 'commands');
  mkdirSync(workerRecords, { recursive: true });
  mkdirSync(shellRecords, { recursive: true, mode: 0o777 });
  chmodSync(shellRecords, 0o777);
  return { name, queue, url, client: new RelayClient({ endpoint: url }), workerRecords, shellRecords };
}

function pullJob(queue: string, id: string, sleepMs: number): JobInput {
  return {
    queue,
    id,
    payload: { sleep_ms: Math.round(sleepMs) },
    timeout: PULL_TIMEOUT_S,
    max_retries: MAX_RETRIES,
  };
}

/**
 * The command every managed job runs: lock the job's record file (a second live run of the job
 * cannot, and says so), record the start, sleep, optionally fail the first run, record the end.
 * Times are the command's own (`date`).
 */
const COMMAND = `
exec 9>>"$1"
if flock -n 9; then overlap=false; else overlap=true; fi
started=$(date +%s%3N)
printf '{"event":"start","at":%s,"overlap":%s}\\n' "$started" "$overlap" >&9
sleep "$2"
if [ -n "$3" ] && [ ! -e "$3" ]; then
  : > "$3"
  printf '{"event":"fail","at":%s}\\n' "$(date +%s%3N)" >&9
  exit 1
fi
printf '{"event":"end","at":%s}\\n' "$(date +%s%3N)" >&9
`;

function shellJob(
  run: ScenarioRun,
  id: string,
  options: { seconds: number; failFirst?: boolean; delay?: number },
): JobInput {
  const record = path.join(run.shellRecords, `${id}.jsonl`);
  const marker = options.failFirst ? path.join(run.shellRecords, `${id}.failed-once`) : '';
  return {
    queue: run.queue,
    id,
    type: 'SHELL',
    payload: {
      command: '/bin/sh',
      args: ['-c', COMMAND, 'chaos', record, options.seconds.toFixed(2), marker],
      timeout: 60,
    },
    timeout: MANAGED_TIMEOUT_S,
    max_retries: MAX_RETRIES,
    // A failed first run is retried after a second, not after the default exponential backoff.
    backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
    ...(options.delay === undefined ? {} : { delay: Math.round(options.delay) }),
  };
}

/**
 * Submits every job with `producers` requests in flight, and returns their ids. A producer retries
 * until Relay confirms: a 2xx, or a 409 when an earlier try was written but its answer was lost
 * (the id is the producer's, so a retry can never create a second job).
 */
async function submitAll(client: RelayClient, jobs: readonly JobInput[], producers = 8): Promise<string[]> {
  let next = 0;
  const producer = async () => {
    for (let i = next++; i < jobs.length; i = next++) {
      const job = jobs[i] as JobInput;
      for (let attempt = 1; ; attempt++) {
        try {
          await client.submit(job);
          break;
        } catch (error) {
          if (error instanceof RelayApiError && error.status === 409) break;
          const retryable = !(error instanceof RelayApiError) || error.status >= 500 || error.status === 429;
          if (!retryable || attempt >= 20) throw error;
          await pause(Math.min(2_000, 50 * 2 ** attempt) * Math.random());
        }
      }
    }
  };
  await Promise.all(range(producers, producer));
  return jobs.map((job) => job.id as string);
}

// ---------------------------------------------------------------------------------------------
// Draining and counting
// ---------------------------------------------------------------------------------------------

/** Whether the queue still has waiting or running jobs; `true` when Relay cannot say right now. */
async function live(run: ScenarioRun): Promise<boolean> {
  try {
    const s = await run.client.stats(run.queue);
    return s.pending + s.scheduled + s.running + s.failed > 0;
  } catch {
    return true;
  }
}

/** Waits until the queue has no waiting or running job, or the bound passes (the census then counts the rest as lost). */
async function drain(run: ScenarioRun, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await live(run))) await pause(250);
}

/** Every job of the queue, from Relay's listing. */
async function listAll(run: ScenarioRun): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await run.client.list({ queue: run.queue, limit: 100, cursor });
    jobs.push(...page.jobs);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return jobs;
}

/** Drains, then counts jobs (Relay's listing) and overlapping runs (the runs' own records). */
async function finish(
  run: ScenarioRun,
  ids: readonly string[],
  sizes: ChaosSizes,
  options: { fleet?: WorkerFleet; faults: number; detail: string },
): Promise<ScenarioResult> {
  await drain(run, sizes.drainTimeoutMs);
  await options.fleet?.stop();
  const listed = await listAll(run);
  const submitted = new Set(ids);
  const seen = new Map<string, Job>();
  let unexpected = 0;
  for (const job of listed) {
    if (!submitted.has(job.id) || seen.has(job.id)) unexpected++;
    else seen.set(job.id, job);
  }
  const final = [...seen.values()];
  const completed = final.filter((job) => job.status === 'completed').length;
  const dead = final.filter((job) => job.status === 'dead').length;
  const overlaps = [...overlappingPairs(options.fleet?.runs() ?? []), ...shellOverlaps(run)];
  return {
    scenario: run.name,
    queue: run.queue,
    submitted: ids.length,
    completed,
    dead,
    runs: final.reduce((sum, job) => sum + job.attempts, 0),
    duplicatesConcurrent: overlaps.length,
    overlapping: [...new Set(overlaps)],
    lost: ids.length - completed - dead,
    unexpected,
    faults: options.faults,
    detail: options.detail,
  };
}

interface RunSpan {
  readonly id: string;
  readonly start: number;
  readonly end: number;
}

/** One job id per pair of its runs whose spans overlap. */
function overlappingPairs(runs: readonly RunSpan[]): string[] {
  const byJob = new Map<string, RunSpan[]>();
  for (const span of runs) byJob.set(span.id, [...(byJob.get(span.id) ?? []), span]);
  const pairs: string[] = [];
  for (const [id, spans] of byJob) {
    const ordered = [...spans].sort((a, b) => a.start - b.start);
    ordered.forEach((earlier, i) => {
      for (const later of ordered.slice(i + 1)) if (later.start < earlier.end) pairs.push(id);
    });
  }
  return pairs;
}

/** One job id per start of a shell command that found another command of its job holding the lock. */
function shellOverlaps(run: ScenarioRun): string[] {
  return readdirSync(run.shellRecords)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((file) =>
      readLines<{ event: string; overlap?: boolean }>(path.join(run.shellRecords, file))
        .filter((entry) => entry.event === 'start' && entry.overlap)
        .map(() => file.replace(/\.jsonl$/, '')),
    );
}

/** The JSON lines of a file; a line cut short by a kill is skipped. */
function readLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as T] : [];
      } catch {
        return [];
      }
    });
}

// ---------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------

/** Pull worker processes over one queue, which can be SIGKILLed and replaced. */
class WorkerFleet {
  private readonly alive = new Map<number, { child: ChildProcess; slot: number }>();
  /** When each killed worker was seen dead: the end of the runs it left without an end record. */
  private readonly killedAt = new Map<number, number>();
  private readonly exits: Promise<void>[] = [];

  constructor(
    private readonly ctx: ChaosContext,
    private readonly run: ScenarioRun,
    private readonly options: { concurrency: number; env?: (slot: number) => Record<string, string> },
  ) {}

  start(count: number): void {
    for (let slot = 0; slot < count; slot++) this.spawn(slot);
  }

  private spawn(slot: number): void {
    const child = spawn(process.execPath, [this.ctx.workerScript], {
      env: {
        ...process.env,
        RELAY_URL: this.run.url,
        CHAOS_QUEUE: this.run.queue,
        CHAOS_RECORDS: this.run.workerRecords,
        CHAOS_CONCURRENCY: String(this.options.concurrency),
        ...this.options.env?.(slot),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const pid = child.pid as number;
    this.alive.set(pid, { child, slot });
    this.exits.push(
      new Promise((resolve) =>
        child.once('exit', () => {
          this.alive.delete(pid);
          resolve();
        }),
      ),
    );
  }

  /** SIGKILLs a random worker, waits until it is gone, and starts its replacement. */
  async killOne(): Promise<void> {
    const workers = [...this.alive.entries()];
    const picked = workers[Math.floor(Math.random() * workers.length)];
    if (!picked) return;
    const [pid, { child, slot }] = picked;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
    this.killedAt.set(pid, Date.now());
    this.spawn(slot);
  }

  /** Stops every worker, letting running handlers finish. */
  async stop(): Promise<void> {
    for (const { child } of this.alive.values()) child.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const { child } of this.alive.values()) child.kill('SIGKILL');
    }, 10_000);
    await Promise.all(this.exits);
    clearTimeout(force);
  }

  records(): WorkerRecord[] {
    return readdirSync(this.run.workerRecords).flatMap((file) =>
      readLines<WorkerRecord>(path.join(this.run.workerRecords, file)),
    );
  }

  /** Every handler run, ending when it recorded its end or else when its process died. */
  runs(): RunSpan[] {
    const spans = new Map<string, { id: string; start?: number; end?: number; pid: number }>();
    for (const r of this.records()) {
      const key = `${r.id}\u0000${r.run_id}`;
      const span = spans.get(key) ?? { id: r.id, pid: r.pid };
      if (r.event === 'start') span.start = r.at;
      else span.end = r.at;
      spans.set(key, span);
    }
    return [...spans.values()].flatMap((s) =>
      s.start === undefined
        ? []
        : [{ id: s.id, start: s.start, end: s.end ?? this.killedAt.get(s.pid) ?? Number.POSITIVE_INFINITY }],
    );
  }
}

/** Commands of the in-process stack's managed runs of `run`'s jobs: its children that name a record file of the run. */
async function commandProcesses(run: ScenarioRun): Promise<{ pid: number }[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]);
  return stdout.split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    return match?.[2]?.includes(`${run.shellRecords}/`) ? [{ pid: Number(match[1]) }] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// A `relay dev` process, and the lost-dispatch repair
// ---------------------------------------------------------------------------------------------

interface DevProcess {
  readonly url: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** Ends it gracefully (SIGINT), as Ctrl-C does. */
  stop(): Promise<void>;
  /** SIGKILLs its whole process group (node and the JVM; commands die with node) at once, as a power cut would. */
  kill(): Promise<void>;
}

/**
 * Starts the built CLI's `relay dev`, in a process group of its own, and resolves once it printed
 * where it runs.
 */
async function startDevProcess(port: number, dataDir: string): Promise<DevProcess> {
  // Only the log level: the in-process stack's RELAY_* endpoints must not leak into this one.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('RELAY_') || name === 'RELAY_LOG_LEVEL'),
  );
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'dist/relay.mjs'), 'dev', '--port', String(port), '--data-dir', dataDir],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<DevProcess>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const url = /Relay is running at (\S+)/.exec(output)?.[1];
      const emulators = /DynamoDB Local at (\S+), SQS \(fauxqs\) at (\S+)/.exec(output);
      if (url && emulators) {
        resolve({
          url,
          dynamodbEndpoint: emulators[1] as string,
          sqsEndpoint: emulators[2] as string,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
            await exited;
          },
          kill: async () => {
            try {
              if (child.pid) process.kill(-child.pid, 'SIGKILL');
            } catch {
              // Gone already.
            }
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    void exited.then(() => reject(new Error(`relay dev exited before it was ready:\n${output}`)));
  });
  return ready;
}

interface RepairTarget {
  readonly store: JobStore;
  readonly dispatch: DispatchQueue;
  /** Releases clients made for the repair alone. */
  close(): void;
}

/** The repair's store and queue in this process: the stack's own. */
async function inProcessRepair(stack: LocalStack): Promise<RepairTarget> {
  return { store: stack.store, dispatch: stack.dispatch, close: () => {} };
}

/** The repair's store and queue for a `relay dev` process, from the endpoints it printed. */
async function childRepair(dev: DevProcess): Promise<RepairTarget> {
  const config = readConfig({ [Env.TABLE_NAME]: LOCAL_TABLE, [Env.DYNAMODB_ENDPOINT]: dev.dynamodbEndpoint });
  const sqs = sqsClient(dev.sqsEndpoint);
  const db = documentClient(dev.dynamodbEndpoint);
  const url = async (name: string) =>
    (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
  // The names the local stack gives its queues (functions/local/stack.ts).
  const dispatch = new DispatchQueue(sqs, await url('relay-dispatch'), await url('relay-dispatch-dlq'));
  return {
    store: new JobStore(db, config),
    dispatch,
    close: () => {
      sqs.destroy();
      db.destroy();
    },
  };
}

/**
 * Runs the lost-dispatch repair every half second with `graceMs`, beside the stack's own sweep;
 * does nothing when `graceMs` is undefined. Returns how to stop it.
 */
function repairLoop(graceMs: number | undefined, target: () => Promise<RepairTarget>): () => Promise<void> {
  if (graceMs === undefined) return async () => {};
  let stopping = false;
  const loop = (async () => {
    const { store, dispatch, close } = await target();
    while (!stopping) {
      try {
        await redispatchLost(store, dispatch, Date.now(), graceMs);
      } catch {
        // Injected faults reach the repair too; the next round tries again.
      }
      await pause(500);
    }
    close();
  })();
  return async () => {
    stopping = true;
    await loop;
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

const total = (tally: ReadonlyMap<string, number>) => [...tally.values()].reduce((sum, n) => sum + n, 0);

function describeTally(tally: ReadonlyMap<string, number>): string {
  const entries = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([kind, n]) => `${n} ${kind}`).join(', ') : 'none';
}

const range = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
const between = (min: number, max: number) => min + Math.random() * (max - min);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
