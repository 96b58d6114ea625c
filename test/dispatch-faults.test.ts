/**
 * The dispatch path under faults, end to end over DynamoDB Local and fauxqs: managed jobs are
 * written and their hints sent as the API does, the real poller feeds the real dispatcher with
 * Lambda's batch semantics, and the maintenance sweep (lease expiry, lost-dispatch repair) runs on
 * a timer as it does locally. Each scenario applies one fault and then proves invariant 3: every
 * job completes (nothing lost) and no job ever has two runs alive at once.
 */
import { randomUUID } from 'node:crypto';
import { PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { awsClientConfig, documentClient } from '../functions/core/clients.ts';
import { createDispatcher } from '../functions/dispatch/dispatcher.ts';
import { redispatchLost } from '../functions/dispatch/repair.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { startSqsPoller } from '../functions/local/sqs-poller.ts';
import { runJob } from '../functions/runner/job.ts';
import {
  type ClaimedJob,
  completes,
  concurrentDuplicates,
  type RecordingExecutor,
  type RunEnd,
  recordingExecutor,
} from './support/dispatch.ts';
import { failCalls, onClient, throttled } from './support/faults.ts';
import { shellJob } from './support/jobs.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { freshStore } from './support/store.ts';

/** The repair sweep's grace here: long enough for a hint in flight, short enough for a test. */
const GRACE_MS = 500;
const SWEEP_EVERY_MS = 250;
const DRAIN_TIMEOUT_MS = 40_000;

const sqs = sqsForFile();

/** Pollers and sweep loops still going, stopped when the scenario drains or its test ends. */
const running: (() => Promise<void>)[] = [];
const clients: { destroy(): void }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((stop) => stop()));
  for (const client of clients.splice(0)) client.destroy();
});

/**
 * One deployment of the dispatch path: a table, a dispatch queue and its DLQ, the producer's and
 * the maintenance sweep's store, and the dispatcher's own store with its own DynamoDB client (as a
 * separate Lambda has), so faults can be injected into the dispatcher's calls alone.
 */
async function deployment() {
  const fresh = await freshStore();
  // A client of its own, as faults injected into it must not outlive the test.
  const sqsClient = new SQSClient(awsClientConfig(sqs.endpoint));
  // Redeliver a failed message after 1 s instead of a minute.
  const dispatch = await sqs.dispatchQueue({ visibilityTimeoutSeconds: 1 }, sqsClient);
  const dispatcherDb = documentClient(fresh.config.dynamodbEndpoint);
  clients.push(sqsClient, dispatcherDb);
  return {
    store: fresh.store,
    sqsClient,
    dispatch,
    dispatcherDb,
    dispatcherStore: new JobStore(dispatcherDb, fresh.config),
  };
}
type Deployment = Awaited<ReturnType<typeof deployment>>;

/** Writes `n` managed shell jobs, as the API does, and returns them. */
async function submit(d: Deployment, n: number, extra: Partial<NewJob> = {}): Promise<Job[]> {
  const queue = `faults-${randomUUID().slice(0, 8)}`;
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const { job } = await d.store.enqueue(shellJob(`job-${i}`, { queue, ...extra }));
      return job;
    }),
  );
}

/** Sends a job's hint after its write, as the API does: a failed send is left to the repair sweep. */
async function sendHint(d: Deployment, job: Job): Promise<void> {
  try {
    await d.dispatch.dispatch(job);
  } catch {
    // Durable before acknowledged: the job is in DynamoDB, the sweep re-sends its hint.
  }
}

/** The real poller feeding the real dispatcher, two batches at a time, as two Lambda invocations. */
async function startDispatcher(d: Deployment, executor: RecordingExecutor) {
  const poller = await startSqsPoller({
    client: d.sqsClient,
    queueUrl: d.dispatch.queueUrl,
    handler: createDispatcher({ store: d.dispatcherStore, execute: executor.execute, dispatch: d.dispatch }),
    batchSize: 10,
    waitTimeSeconds: 1,
    concurrency: 2,
  });
  running.push(() => poller.stop());
}

/** The maintenance sweep on a timer, as the local stack runs it: lease expiry, then lost-dispatch repair. */
function startSweep(d: Deployment) {
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      try {
        await d.store.sweep();
        await redispatchLost(d.store, d.dispatch, Date.now(), GRACE_MS);
      } catch {
        // A failed sweep is retried by the next one, as the scheduled Lambda would be.
      }
      await new Promise((resolve) => setTimeout(resolve, SWEEP_EVERY_MS));
    }
  })();
  running.push(async () => {
    stopping = true;
    await loop;
  });
}

interface Figures {
  readonly submitted: number;
  readonly completed: number;
  readonly runs: number;
  readonly duplicatesConcurrent: number;
  readonly lost: number;
}

/**
 * Waits (bounded) until every job is completed, stops the pollers and sweep, then prints and
 * returns the scenario's figures: a job not completed by then counts as lost.
 */
async function drain(
  name: string,
  d: Deployment,
  jobs: readonly Job[],
  executor: RecordingExecutor,
): Promise<{ figures: Figures; final: Job[] }> {
  const current = () => Promise.all(jobs.map(async (job) => (await d.store.get(job.queue, job.id)) as Job));
  const completedCount = async () => (await current()).filter((job) => job.status === 'completed').length;
  try {
    await expect.poll(completedCount, { timeout: DRAIN_TIMEOUT_MS, interval: 250 }).toBe(jobs.length);
  } catch {
    // Reported below as lost jobs.
  }
  await Promise.all(running.splice(0).map((stop) => stop()));
  const final = await current();
  const completed = final.filter((job) => job.status === 'completed').length;
  const figures: Figures = {
    submitted: jobs.length,
    completed,
    runs: executor.runs.length,
    duplicatesConcurrent: concurrentDuplicates(executor.runs),
    lost: jobs.length - completed,
  };
  console.log(
    `${name}: submitted ${figures.submitted} / completed ${figures.completed} / runs ${figures.runs} / ` +
      `duplicates-concurrent ${figures.duplicatesConcurrent} / lost ${figures.lost}`,
  );
  return { figures, final };
}

/** Completed runs per job: exactly one each means every job completed exactly once. */
function completionsPerJob(executor: RecordingExecutor, jobs: readonly Job[]): number[] {
  return jobs.map((job) => executor.runs.filter((run) => run.id === job.id && run.completed).length);
}

const visibleMessages = (d: Deployment) => messagesIn(d.sqsClient, d.dispatch.queueUrl, ['visible']);

describe('dispatch under faults', () => {
  it('runs each job once when every dispatch message is delivered twice', async () => {
    const d = await deployment();
    const jobs = await submit(d, 40);
    for (const job of jobs) {
      await sendHint(d, job);
      await sendHint(d, job);
    }
    const executor = recordingExecutor(completes(d.dispatcherStore));
    await startDispatcher(d, executor);

    const { figures, final } = await drain('duplicate delivery', d, jobs, executor);

    expect(figures).toMatchObject({ lost: 0, duplicatesConcurrent: 0, runs: 40 });
    expect(final.map((job) => job.attempts)).toEqual(jobs.map(() => 1));
    // Every copy was acknowledged: nothing is left for SQS to redeliver.
    expect(await visibleMessages(d)).toBe(0);
  });

  it('completes every job whose dispatch message was lost, from the repair sweep', async () => {
    const d = await deployment();
    const jobs = await submit(d, 40);
    for (const job of jobs) await sendHint(d, job);
    await d.sqsClient.send(new PurgeQueueCommand({ QueueUrl: d.dispatch.queueUrl }));
    expect(await visibleMessages(d)).toBe(0);
    const executor = recordingExecutor(completes(d.dispatcherStore));
    await startDispatcher(d, executor);
    startSweep(d);

    const { figures, final } = await drain('lost messages', d, jobs, executor);

    expect(figures).toMatchObject({ lost: 0, duplicatesConcurrent: 0, runs: 40 });
    expect(final.map((job) => job.attempts)).toEqual(jobs.map(() => 1));
  });

  it('completes every job exactly once with faults injected into every 10th DynamoDB and SQS send call', async () => {
    const d = await deployment();
    const jobs = await submit(d, 40, { timeout: 2, max_retries: 5 });
    // Every 10th call fails, not a random 10%: a random draw over 40 sends fails none about once
    // in 70 runs, and the scenario would then prove nothing about SQS.
    const injected = { dynamodb: 0, sqs: 0 };
    const seen = { dynamodb: 0, sqs: 0 };
    onClient(
      d.dispatcherDb,
      failCalls((call) => {
        if (++seen.dynamodb % 10 !== 0) return undefined;
        injected.dynamodb++;
        return throttled(call);
      }),
    );
    onClient(
      d.sqsClient,
      failCalls((call) => {
        if (call.operation !== 'SendMessage' || ++seen.sqs % 10 !== 0) return undefined;
        injected.sqs++;
        return throttled(call);
      }),
    );
    for (const job of jobs) await sendHint(d, job);
    // The runner's own calls go through the dispatcher's faulty clients too: it runs inline there.
    const executor = recordingExecutor(async (job: ClaimedJob): Promise<RunEnd> => {
      const result = await runJob(
        { queue: job.queue, id: job.id, runId: job.run_id },
        { store: d.dispatcherStore, dispatch: d.dispatch },
      );
      return { completed: result.kind === 'ended' && result.stored.job.status === 'completed' };
    });
    await startDispatcher(d, executor);
    startSweep(d);

    const { figures } = await drain('injected throttling', d, jobs, executor);

    expect(injected.dynamodb).toBeGreaterThan(0);
    expect(injected.sqs).toBeGreaterThan(0);
    // The runner retries a throttled read or outcome write, so no command runs twice.
    expect(figures).toMatchObject({ lost: 0, duplicatesConcurrent: 0, runs: 40 });
    expect(completionsPerJob(executor, jobs)).toEqual(jobs.map(() => 1));
  });

  it('runs a job again after its runner died without ending the run, once the lease has expired', async () => {
    const d = await deployment();
    const jobs = await submit(d, 10, { timeout: 2 });
    for (const job of jobs) await sendHint(d, job);
    const complete = completes(d.dispatcherStore);
    // The first run's runner dies at once: its lease keeps the run alive until the deadline.
    const executor = recordingExecutor(async (job: ClaimedJob) =>
      job.attempts === 1 ? { completed: false, aliveUntil: Number(job.lease_expires_at) } : complete(job),
    );
    await startDispatcher(d, executor);
    startSweep(d);

    const { figures, final } = await drain('runner died', d, jobs, executor);

    expect(figures).toMatchObject({ lost: 0, duplicatesConcurrent: 0, runs: 20 });
    expect(final.map((job) => job.attempts)).toEqual(jobs.map(() => 2));
    expect(completionsPerJob(executor, jobs)).toEqual(jobs.map(() => 1));
  });
});
