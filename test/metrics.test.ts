import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { dynamoClient } from '../functions/core/clients.ts';
import {
  emfMetrics,
  type JobMetrics,
  type MetricContext,
  type MetricValues,
  metricsFromEnv,
  noMetrics,
} from '../functions/core/metrics.ts';
import { dispatchOne } from '../functions/dispatch/dispatcher.ts';
import {
  DuplicateIdempotencyKeyError,
  InvalidTransitionError,
  JobExistsError,
  JobNotFoundError,
  LeaseLostError,
} from '../functions/jobs/errors.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { toRecord } from '../functions/local/sqs-poller.ts';
import { completes, recordingExecutor } from './support/dispatch.ts';
import { onClient } from './support/faults.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

interface Recorded {
  readonly queue: string;
  readonly values: MetricValues;
  readonly context?: MetricContext;
}

/** Keeps every record in memory, so a test reads exactly what a transition recorded. */
class RecordingMetrics implements JobMetrics {
  readonly records: Recorded[] = [];
  record(queue: string, values: MetricValues, context?: MetricContext): void {
    this.records.push(context === undefined ? { queue, values } : { queue, values, context });
  }
  /** Forgets what the arrange steps recorded. */
  clear(): void {
    this.records.length = 0;
  }
}

const shell = (id: string, extra: Partial<NewJob> = {}): NewJob =>
  job(id, { payload: { command: ['echo', id] }, type: 'SHELL', ...extra });

type Run = Job & { run_id: string };

let clock: TestClock;
let metrics: RecordingMetrics;
let store: JobStore;
let another: (clock?: () => number) => JobStore;
let fresh: TestStore;

beforeEach(async () => {
  // Terminal jobs carry a TTL from this clock, and DynamoDB Local deletes expired items in real time.
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  metrics = new RecordingMetrics();
  fresh = await freshStore({ clock: clock.read, metrics });
  store = fresh.store;
  another = fresh.another;
});

afterEach(async () => {
  await fresh.dispose();
});

/** Claims the next job of `queue`, failing the test when there is none. */
async function claim(queue = 'q'): Promise<Run> {
  const [run] = await store.claim(queue, 1);
  if (!run?.run_id) throw new Error(`expected a claimable job in ${queue}`);
  return run as Run;
}

/** Claims a managed job by id, as the dispatcher does. */
async function dispatch(id: string): Promise<Run> {
  const run = await store.claimById('q', id);
  if (!run?.run_id) throw new Error(`expected q/${id} to be claimable`);
  return run as Run;
}

/** What `metrics` writes to stdout for one `Enqueued` record of queue `q`. */
function stdoutOf(metrics: JobMetrics): string {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    metrics.record('q', { Enqueued: 1 });
    return write.mock.calls.map((call) => String(call[0])).join('');
  } finally {
    write.mockRestore();
  }
}

const runOf = (run: Run): MetricContext => ({ job_id: run.id, run_id: run.run_id, attempt: run.attempts });

describe('emfMetrics', () => {
  it('writes one EMF line per record: namespace, both dimension sets, the unit of each duration (a count has none) and correlation keys', () => {
    const lines: string[] = [];
    const emf = emfMetrics(
      (line) => lines.push(line),
      () => 1_700_000_000_123,
    );

    emf.record('emails', { Claimed: 1, QueueWait: 250 }, { job_id: 'j1', run_id: 'r1', attempt: 2 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_123,
        CloudWatchMetrics: [
          {
            Namespace: 'Relay',
            Dimensions: [['queue'], []],
            Metrics: [{ Name: 'Claimed' }, { Name: 'QueueWait', Unit: 'Milliseconds' }],
          },
        ],
      },
      queue: 'emails',
      Claimed: 1,
      QueueWait: 250,
      job_id: 'j1',
      run_id: 'r1',
      attempt: 2,
    });
  });

  it("scopes every line to its Relay: the relay dimension in both sets, and as the line's property", () => {
    const lines: string[] = [];
    const emf = emfMetrics((line) => lines.push(line), undefined, { relay: 'Prod/Relay' });

    emf.record('emails', { Enqueued: 1 });

    const line = JSON.parse(lines[0] ?? '');
    expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay', 'queue'], ['relay']]);
    expect(line).toMatchObject({ relay: 'Prod/Relay', queue: 'emails', Enqueued: 1 });
  });

  it('gives a queue outside its scope no series of its own: the aggregate only, the queue a plain property', () => {
    const lines: string[] = [];
    const emf = emfMetrics((line) => lines.push(line), undefined, {
      relay: 'R',
      queues: new Set(['emails']),
    });

    emf.record('emails', { Enqueued: 1 });
    emf.record('tenant-4711', { Enqueued: 1 });

    const [listed, other] = lines.map((l) => JSON.parse(l));
    expect(listed._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay', 'queue'], ['relay']]);
    expect(other._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay']]);
    expect(other).toMatchObject({ queue: 'tenant-4711', Enqueued: 1 });
  });

  it('leaves out a metric that has no value', () => {
    const lines: string[] = [];
    const emf = emfMetrics(
      (line) => lines.push(line),
      () => 0,
    );

    emf.record('q', { Completed: 1, RunDuration: undefined });

    const line = JSON.parse(lines[0] ?? '');
    expect(line._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'Completed' }]);
    expect(line).not.toHaveProperty('RunDuration');
  });

  it('writes each line to stdout, newline-terminated, by default', () => {
    const text = stdoutOf(emfMetrics());
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(2);
    expect(JSON.parse(text)).toMatchObject({ queue: 'q', Enqueued: 1 });
  });

  it("writes no job payload or state into the store's lines", async () => {
    const lines: string[] = [];
    const emf = await freshStore({ clock: clock.read, metrics: emfMetrics((l) => lines.push(l)) });
    onTestFinished(() => emf.dispose());
    const emfStore = emf.store;

    await emfStore.enqueue(job('a', { payload: { secret: 'p4yload' }, state: { token: 's7ate' } }));
    await emfStore.claim('q', 1);
    await emfStore.complete('q', 'a');

    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain('p4yload');
      expect(line).not.toContain('s7ate');
    }
  });
});

describe('metricsFromEnv', () => {
  const emfLine = { _aws: { CloudWatchMetrics: [{ Namespace: 'Relay' }] }, queue: 'q', Enqueued: 1 };

  it('writes EMF on Lambda', () => {
    expect(JSON.parse(stdoutOf(metricsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'relay-api' })))).toMatchObject(
      emfLine,
    );
  });

  it('records nothing off Lambda', () => {
    expect(metricsFromEnv({})).toBe(noMetrics);
    expect(stdoutOf(metricsFromEnv({}))).toBe('');
  });

  it('records nothing on Lambda when RELAY_METRICS is off', () => {
    expect(metricsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'relay-api', RELAY_METRICS: 'off' })).toBe(noMetrics);
  });

  it('writes EMF off Lambda when RELAY_METRICS is emf', () => {
    expect(JSON.parse(stdoutOf(metricsFromEnv({ RELAY_METRICS: 'emf' })))).toMatchObject(emfLine);
  });

  it('names the Relay from RELAY_NAME and the queues with series of their own from RELAY_METRIC_QUEUES', () => {
    const env = { AWS_LAMBDA_FUNCTION_NAME: 'f', RELAY_NAME: 'Prod/Relay', RELAY_METRIC_QUEUES: 'a, q' };

    const line = JSON.parse(stdoutOf(metricsFromEnv(env)));

    expect(line).toMatchObject({ relay: 'Prod/Relay' });
    expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay', 'queue'], ['relay']]);
    const unlisted = JSON.parse(stdoutOf(metricsFromEnv({ ...env, RELAY_METRIC_QUEUES: 'a' })));
    expect(unlisted._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay']]);
  });

  it('gives every queue a series of its own when RELAY_METRIC_QUEUES is unset or has *', () => {
    for (const queues of [undefined, '*', 'a,*']) {
      const env = { AWS_LAMBDA_FUNCTION_NAME: 'f', RELAY_NAME: 'R', RELAY_METRIC_QUEUES: queues };
      const line = JSON.parse(stdoutOf(metricsFromEnv(env)));
      expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['relay', 'queue'], ['relay']]);
    }
  });

  it('rejects an unknown RELAY_METRICS value, naming the variable and its values', () => {
    expect(() => metricsFromEnv({ RELAY_METRICS: 'statsd' })).toThrow(
      'RELAY_METRICS must be one of emf, off',
    );
  });
});

describe('JobStore metrics: enqueue', () => {
  it('records Enqueued, naming the job, when a job is enqueued', async () => {
    await store.enqueue(job('a'));
    expect(metrics.records).toEqual([{ queue: 'q', values: { Enqueued: 1 }, context: { job_id: 'a' } }]);
  });

  it('records Enqueued when replace mode overwrites a live job', async () => {
    await store.enqueue(job('a'));
    metrics.clear();

    await store.enqueue(job('a', { payload: 'second' }), 'replace');

    expect(metrics.records).toEqual([{ queue: 'q', values: { Enqueued: 1 }, context: { job_id: 'a' } }]);
  });

  it('records nothing when a duplicate enqueue is rejected or ignored', async () => {
    await store.enqueue(job('a'));
    metrics.clear();

    await expect(store.enqueue(job('a'))).rejects.toBeInstanceOf(JobExistsError);
    await store.enqueue(job('a'), 'ignore');

    expect(metrics.records).toEqual([]);
  });

  it('records an idempotent enqueue once, and nothing for a repeat of its key', async () => {
    await store.enqueue(job('a', { idempotency_key: 'k' }));
    await expect(store.enqueue(job('b', { idempotency_key: 'k' }))).rejects.toBeInstanceOf(
      DuplicateIdempotencyKeyError,
    );
    expect(metrics.records).toEqual([{ queue: 'q', values: { Enqueued: 1 }, context: { job_id: 'a' } }]);
  });

  it('records one Enqueued per queue for a batch', async () => {
    await store.enqueueMany(
      [job('a'), job('b'), job('c', { queue: 'other' }), job('d'), job('e', { queue: 'other' })],
      'unique',
    );
    expect(metrics.records).toEqual([
      { queue: 'q', values: { Enqueued: 3 } },
      { queue: 'other', values: { Enqueued: 2 } },
    ]);
  });

  it('counts only the jobs an ignore-mode batch wrote', async () => {
    await store.enqueue(job('b'));
    metrics.clear();

    await store.enqueueMany([job('a'), job('b'), job('c')], 'ignore');

    expect(metrics.records).toEqual([{ queue: 'q', values: { Enqueued: 2 } }]);
  });

  it('records nothing for a unique batch that a conflict rejects', async () => {
    await store.enqueue(job('b'));
    metrics.clear();

    await expect(store.enqueueMany([job('a'), job('b')], 'unique')).rejects.toBeInstanceOf(JobExistsError);

    expect(metrics.records).toEqual([]);
  });
});

describe('JobStore metrics: claim', () => {
  it('records Claimed and QueueWait when a worker claims a job', async () => {
    await store.enqueue(job('a'));
    clock.advance(2_500);
    metrics.clear();

    const run = await claim();

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Claimed: 1, QueueWait: 2_500 }, context: runOf(run) },
    ]);
    expect(runOf(run)).toEqual({ job_id: 'a', run_id: expect.any(String), attempt: 1 });
  });

  it('measures QueueWait of a scheduled job from its run_at', async () => {
    await store.enqueue(job('a', { run_at: clock.now + 10_000 }));
    clock.advance(12_000);
    metrics.clear();

    await claim();

    expect(metrics.records[0]?.values).toEqual({ Claimed: 1, QueueWait: 2_000 });
  });

  it('measures QueueWait of a requeued expired run from its requeue, not its first run_at', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    await claim();
    clock.advance(1_500);
    await store.sweep();
    clock.advance(700);
    metrics.clear();

    await claim();

    expect(metrics.records[0]?.values).toEqual({ Claimed: 1, QueueWait: 700 });
  });

  it('records Claimed and QueueWait when the dispatcher claims a managed job by id', async () => {
    await store.enqueue(shell('m'));
    clock.advance(300);
    metrics.clear();

    const run = await dispatch('m');

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Claimed: 1, QueueWait: 300 }, context: runOf(run) },
    ]);
  });

  it('records nothing when a duplicate dispatch message meets a running job', async () => {
    await store.enqueue(shell('m'));
    await dispatch('m');
    metrics.clear();

    expect(await store.claimById('q', 'm')).toBeUndefined();

    expect(metrics.records).toEqual([]);
  });

  it('records one Claimed when 10 dispatchers race for one job', async () => {
    await store.enqueue(shell('m'));
    metrics.clear();

    await Promise.all(Array.from({ length: 10 }, () => another().claimById('q', 'm')));

    expect(metrics.records.filter((r) => r.values.Claimed)).toHaveLength(1);
  });
});

describe('JobStore metrics: claim conflicts', () => {
  /**
   * A store whose first claim write waits until `rival` has run: the race a claimer loses when
   * another takes the job between its read and its write, forced at its DynamoDB client (the
   * emulator cannot be made to interleave two callers on its own).
   */
  function slowStore(rival: () => Promise<unknown>): JobStore {
    const raw = dynamoClient(fresh.config.dynamodbEndpoint);
    onTestFinished(() => raw.destroy());
    let waited = false;
    onClient(raw, async (call, next) => {
      const claimWrite = call.operation === 'UpdateItem' || call.operation === 'TransactWriteItems';
      if (claimWrite && !waited) {
        waited = true;
        await rival();
      }
      return next();
    });
    const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    return new JobStore(db, fresh.config, clock.read, metrics);
  }

  it('records ClaimConflicts when another worker claims the job between its read and its write (forced at the client)', async () => {
    await store.enqueue(job('a'));
    metrics.clear();

    const jobs = await slowStore(() => store.claim('q', 1)).claim('q', 1);

    expect(jobs).toEqual([]);
    expect(metrics.records.filter((r) => r.values.ClaimConflicts)).toEqual([
      { queue: 'q', values: { ClaimConflicts: 1 } },
    ]);
  });

  it('records ClaimConflicts when another dispatcher starts the job between its read and its write (forced at the client)', async () => {
    await store.enqueue(shell('m'));
    metrics.clear();

    expect(await slowStore(() => store.claimById('q', 'm')).claimById('q', 'm')).toBeUndefined();

    expect(metrics.records.filter((r) => r.values.ClaimConflicts)).toEqual([
      { queue: 'q', values: { ClaimConflicts: 1 } },
    ]);
  });

  it('records no ClaimConflicts for a claim that meets no rival', async () => {
    await store.enqueue(job('a'));
    metrics.clear();

    await claim();

    expect(metrics.records.filter((r) => r.values.ClaimConflicts)).toEqual([]);
  });
});

describe('dispatcher metrics', () => {
  /** The record SQS hands the dispatcher for a hint of `q/<id>` sent at `sentAt`. */
  const hintSentAt = (id: string, sentAt: number): SQSRecord => ({
    ...toRecord(
      { MessageId: id, ReceiptHandle: id, Body: JSON.stringify({ v: 1, kind: 'hint', queue: 'q', id }) },
      'arn:aws:sqs:us-east-1:000000000000:dispatch',
      'us-east-1',
    ),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(sentAt),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(sentAt),
    },
  });
  const dispatcher = () => ({
    store,
    execute: recordingExecutor(completes(store)).execute,
    now: clock.read,
    metrics,
  });

  it('records DispatchLag from the hint being sent to the dispatcher starting the run', async () => {
    await store.enqueue(shell('m'));
    const sentAt = clock.now;
    clock.advance(750);
    metrics.clear();

    await dispatchOne(hintSentAt('m', sentAt), dispatcher());

    expect(metrics.records.filter((r) => r.values.DispatchLag !== undefined)).toEqual([
      { queue: 'q', values: { DispatchLag: 750 }, context: { job_id: 'm', run_id: expect.any(String) } },
    ]);
  });

  it('measures DispatchLag of a delayed hint from its job being due, not from its sending', async () => {
    const sentAt = clock.now;
    await store.enqueue(shell('m', { run_at: sentAt + 10_000 }));
    clock.advance(10_200);
    metrics.clear();

    await dispatchOne(hintSentAt('m', sentAt), dispatcher());

    expect(metrics.records.find((r) => r.values.DispatchLag !== undefined)?.values).toEqual({
      DispatchLag: 200,
    });
  });

  it('records no DispatchLag for a stale hint, whose job is already running', async () => {
    await store.enqueue(shell('m'));
    await dispatch('m');
    metrics.clear();

    expect(await dispatchOne(hintSentAt('m', clock.now), dispatcher())).toBe('stale');

    expect(metrics.records).toEqual([]);
  });
});

describe('JobStore metrics: run ends', () => {
  it('records Completed and RunDuration when a run completes', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    clock.advance(4_000);
    metrics.clear();

    await store.complete('q', 'a', run.run_id);

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Completed: 1, RunDuration: 4_000 }, context: runOf(run) },
    ]);
  });

  it('records nothing when a stale run id completes', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    const stale = await claim();
    clock.advance(1_500);
    await claim(); // takes over the expired lease
    metrics.clear();

    await expect(store.complete('q', 'a', stale.run_id)).rejects.toBeInstanceOf(LeaseLostError);

    expect(metrics.records).toEqual([]);
  });

  it('records the on_success child as Enqueued in its own queue when a managed run completes', async () => {
    await store.enqueue(shell('m', { on_success: { payload: 'next', queue: 'after' } }));
    const run = await dispatch('m');
    clock.advance(900);
    metrics.clear();

    await store.completeRun('q', 'm', run.run_id, { exit_code: 0, duration_ms: 900 });

    expect(metrics.records).toHaveLength(2);
    expect(metrics.records).toContainEqual({
      queue: 'after',
      values: { Enqueued: 1 },
      context: { job_id: `m~${run.run_id}~success` },
    });
    expect(metrics.records).toContainEqual({
      queue: 'q',
      values: { Completed: 1, RunDuration: 900 },
      context: runOf(run),
    });
  });

  it('records Failed, Retried and RunDuration when a run fails with a retry left', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    clock.advance(1_200);
    metrics.clear();

    await store.fail('q', 'a', { error: 'boom', runId: run.run_id });

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Retried: 1, RunDuration: 1_200 }, context: runOf(run) },
    ]);
  });

  it('records Failed and Dead when the last retry fails', async () => {
    await store.enqueue(
      job('a', {
        max_retries: 1,
        backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
      }),
    );
    const first = await claim();
    await store.fail('q', 'a', { error: 'boom 1', runId: first.run_id });
    clock.advance(1_000);
    const last = await claim();
    clock.advance(600);
    metrics.clear();

    await store.fail('q', 'a', { error: 'boom 2', runId: last.run_id });

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Dead: 1, RunDuration: 600 }, context: runOf(last) },
    ]);
    expect(last.attempts).toBe(2);
  });

  it('records Failed and Dead when a failure says not to retry', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    metrics.clear();

    await store.fail('q', 'a', { error: 'bad input', runId: run.run_id, retry: false });

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Dead: 1, RunDuration: 0 }, context: runOf(run) },
    ]);
  });

  it('records the on_failure child as Enqueued when a managed run fails for good', async () => {
    await store.enqueue(shell('m', { max_retries: 0, on_failure: { payload: 'cleanup', queue: 'ops' } }));
    const run = await dispatch('m');
    metrics.clear();

    await store.failRun('q', 'm', run.run_id, { error: 'exit 1', exit_code: 1 });

    expect(metrics.records).toHaveLength(2);
    expect(metrics.records).toContainEqual({
      queue: 'ops',
      values: { Enqueued: 1 },
      context: { job_id: `m~${run.run_id}~failure` },
    });
    expect(metrics.records).toContainEqual({
      queue: 'q',
      values: { Failed: 1, Dead: 1, RunDuration: 0 },
      context: runOf(run),
    });
  });

  it('records nothing for a repeated failure of a run that is already dead', async () => {
    await store.enqueue(shell('m', { max_retries: 0 }));
    const run = await dispatch('m');
    await store.failRun('q', 'm', run.run_id, { error: 'exit 1', exit_code: 1 });
    metrics.clear();

    await expect(
      store.failRun('q', 'm', run.run_id, { error: 'exit 1', exit_code: 1 }),
    ).rejects.toBeInstanceOf(JobNotFoundError);

    expect(metrics.records).toEqual([]);
  });
});

describe('JobStore metrics: lease expiry', () => {
  it('records Failed, Retried and RunDuration to the lease deadline when a sweep expires a run', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    const run = await claim();
    clock.advance(5_000);
    metrics.clear();

    await store.sweep();

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Retried: 1, RunDuration: 1_000 }, context: runOf(run) },
    ]);
  });

  it('records Failed and Dead when the sweep expires the last run', async () => {
    await store.enqueue(job('a', { timeout: 1, max_retries: 0 }));
    const run = await claim();
    clock.advance(1_500);
    metrics.clear();

    await store.sweep();

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Dead: 1, RunDuration: 1_000 }, context: runOf(run) },
    ]);
  });

  it('records the expired run and the new one when a claimer takes over an expired lease', async () => {
    await store.enqueue(job('a', { timeout: 1 }));
    const expired = await claim();
    clock.advance(1_500);
    metrics.clear();

    const run = await claim();

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Retried: 1, RunDuration: 1_000 }, context: runOf(expired) },
      { queue: 'q', values: { Claimed: 1, QueueWait: 500 }, context: runOf(run) },
    ]);
  });

  it('records one expiry when sweeps and claimers race for it', async () => {
    await store.enqueue(job('a', { timeout: 1, max_retries: 5 }));
    await claim();
    clock.advance(1_500);
    metrics.clear();

    await Promise.all([
      ...Array.from({ length: 5 }, () => another().sweep()),
      ...Array.from({ length: 5 }, () => another().claim('q', 1)),
    ]);

    expect(metrics.records.filter((r) => r.values.Failed)).toHaveLength(1);
  });

  it('records nothing when the sweep finds a run that heartbeated', async () => {
    await store.enqueue(job('a', { timeout: 2 }));
    const run = await claim();
    clock.advance(1_500);
    await store.heartbeat('q', 'a', null, run.run_id);
    clock.advance(1_500);
    metrics.clear();

    expect((await store.sweep()).refreshed).toBe(1);

    expect(metrics.records).toEqual([]);
  });
});

describe('JobStore metrics: other transitions', () => {
  it('records Dead only when a waiting job is marked dead', async () => {
    await store.enqueue(shell('m'));
    metrics.clear();

    await store.markDead('q', 'm', 'dispatch dead-lettered');

    expect(metrics.records).toEqual([{ queue: 'q', values: { Dead: 1 }, context: { job_id: 'm' } }]);
  });

  it('records Failed, Dead and RunDuration when a running job is marked dead', async () => {
    await store.enqueue(shell('m'));
    const run = await dispatch('m');
    clock.advance(250);
    metrics.clear();

    await store.markDead('q', 'm', 'dispatch dead-lettered');

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Failed: 1, Dead: 1, RunDuration: 250 }, context: runOf(run) },
    ]);
  });

  it('records Cancelled when a job is cancelled', async () => {
    await store.enqueue(job('a'));
    metrics.clear();

    await store.cancel('q', 'a');

    expect(metrics.records).toEqual([{ queue: 'q', values: { Cancelled: 1 }, context: { job_id: 'a' } }]);
  });

  it('records nothing when cancelling a completed job is refused', async () => {
    await store.enqueue(job('a'));
    await claim();
    await store.complete('q', 'a');
    metrics.clear();

    await expect(store.cancel('q', 'a')).rejects.toBeInstanceOf(InvalidTransitionError);

    expect(metrics.records).toEqual([]);
  });

  it('records the run Completed and the job Enqueued when a running job is rescheduled', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    clock.advance(800);
    metrics.clear();

    await store.reschedule(job('a', { run_at: clock.now + 60_000 }), run.run_id);

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Completed: 1, RunDuration: 800 }, context: runOf(run) },
      { queue: 'q', values: { Enqueued: 1 }, context: { job_id: 'a' } },
    ]);
  });

  it('records the run Completed and each job Enqueued when a run is replaced by new jobs', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    clock.advance(700);
    metrics.clear();

    await store.replaceRun('q', 'a', run.run_id, [job('b'), job('c', { queue: 'other' })], 'unique');

    expect(metrics.records).toEqual([
      { queue: 'q', values: { Completed: 1, RunDuration: 700 }, context: runOf(run) },
      { queue: 'q', values: { Enqueued: 1 }, context: { job_id: 'b' } },
      { queue: 'other', values: { Enqueued: 1 }, context: { job_id: 'c' } },
    ]);
  });

  it('records nothing when a stale run id replaces its run', async () => {
    await store.enqueue(job('a'));
    const run = await claim();
    await store.complete('q', 'a', run.run_id);
    metrics.clear();

    expect(await store.replaceRun('q', 'a', run.run_id, [job('b')], 'unique')).toBe(false);

    expect(metrics.records).toEqual([]);
  });

  it('records nothing when an operator retries a dead job', async () => {
    await store.enqueue(job('a', { max_retries: 0 }));
    const run = await claim();
    await store.fail('q', 'a', { error: 'x', runId: run.run_id });
    metrics.clear();

    await store.retry('q', 'a');

    expect(metrics.records).toEqual([]);
  });

  it('keeps a transition written when the metrics sink throws', async () => {
    const broken: JobMetrics = {
      record() {
        throw new Error('sink down');
      },
    };
    const brokenFresh = await freshStore({ clock: clock.read, metrics: broken });
    onTestFinished(() => brokenFresh.dispose());
    const brokenStore = brokenFresh.store;

    await brokenStore.enqueue(job('a'));
    const [run] = await brokenStore.claim('q', 1);

    expect(run?.status).toBe('running');
    expect((await brokenStore.get('q', 'a'))?.status).toBe('running');
  });
});
