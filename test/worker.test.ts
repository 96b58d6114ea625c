import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClaimedJob, type Job, type JobInput, RelayClient } from '../functions/sdk/client.ts';
import { type JobHandler, PermanentError, Worker, type WorkerOptions } from '../functions/sdk/worker.ts';
import { startTestApi, type TestApi } from './support/api.ts';

let api: TestApi;
let client: RelayClient;
const workers: Worker[] = [];

beforeAll(async () => {
  api = await startTestApi();
  client = new RelayClient({ endpoint: api.url });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await api.close();
});

const newQueue = () => `q-${randomUUID()}`;

/** A started worker with fast polling and short long polls (`stop()` waits for one), stopped after the test. */
function startWorker(queue: string, handler: JobHandler, options: Partial<WorkerOptions> = {}): Worker {
  const worker = new Worker({
    client,
    queue,
    handler,
    longPollSeconds: 1,
    pollIntervalMs: 10,
    maxPollIntervalMs: 100,
    ...options,
  });
  workers.push(worker);
  worker.start();
  return worker;
}

/** Retries without delay between runs of backoff: the tests wait for outcomes, not for backoff. */
const quickRetries: JobInput['backoff'] = {
  strategy: 'fixed',
  base_seconds: 0.01,
  max_seconds: 0.01,
  jitter: 'none',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds, failing after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

const settled = (queue: string, id: string, status: Job['status']) =>
  eventually(
    () => client.status(queue, id),
    (job) => job.status === status,
  );

/** A promise and the function that resolves it. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('Worker', () => {
  it('runs every job exactly once with several handlers at a time', async () => {
    const queue = newQueue();
    const ids = Array.from({ length: 24 }, (_, i) => `job-${i}`);
    await Promise.all(ids.map((id) => client.submit({ queue, id, payload: { id } })));
    const seen: string[] = [];
    let running = 0;
    let peak = 0;
    startWorker(
      queue,
      async (job) => {
        seen.push(job.id);
        peak = Math.max(peak, ++running);
        await sleep(30);
        running--;
      },
      { concurrency: 4 },
    );

    await eventually(
      () => client.list({ queue, status: 'completed', limit: 100 }),
      (page) => page.jobs.length === ids.length,
    );
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
  });

  it('shares a queue between two workers without running a job twice', async () => {
    const queue = newQueue();
    const ids = Array.from({ length: 30 }, (_, i) => `job-${i}`);
    await Promise.all(ids.map((id) => client.submit({ queue, id, payload: null })));
    const seen: string[] = [];
    const handler: JobHandler = async (job) => {
      seen.push(job.id);
      await sleep(5);
    };
    startWorker(queue, handler, { concurrency: 3 });
    startWorker(queue, handler, { concurrency: 3 });

    await eventually(
      () => client.list({ queue, status: 'completed', limit: 100 }),
      (page) => page.jobs.length === ids.length,
    );
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it('passes the claimed job to the handler', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: { to: 'x' }, state: { step: 1 }, timeout: 20 });
    const received: ClaimedJob[] = [];
    startWorker(queue, async (job) => {
      received.push(job);
    });

    await settled(queue, 'a', 'completed');
    expect(received).toEqual([
      expect.objectContaining({ queue, id: 'a', payload: { to: 'x' }, state: { step: 1 }, timeout: 20 }),
    ]);
  });

  it('long-polls when idle: runs a job submitted while it waits, without polling again', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'first', payload: null });
    const ran: string[] = [];
    // Without the long poll, the empty claim after 'first' would wait a minute before the next one.
    startWorker(queue, async (job) => void ran.push(job.id), {
      longPollSeconds: 3,
      pollIntervalMs: 60_000,
      maxPollIntervalMs: 60_000,
    });
    await settled(queue, 'first', 'completed');
    await sleep(300); // the worker now waits in a long poll
    await client.submit({ queue, id: 'late', payload: null });
    await settled(queue, 'late', 'completed');
    expect(ran).toEqual(['first', 'late']);
  });

  it('polls again at once when a long poll ended empty', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'first', payload: null });
    startWorker(queue, async () => {}, {
      longPollSeconds: 1,
      pollIntervalMs: 60_000,
      maxPollIntervalMs: 60_000,
    });
    await settled(queue, 'first', 'completed');
    await sleep(1_500); // past the end of the first empty long poll
    await client.submit({ queue, id: 'later', payload: null });
    await settled(queue, 'later', 'completed');
  });

  it('fails a job whose handler throws until its retries are spent, then it is dead', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, max_retries: 2, backoff: quickRetries });
    let calls = 0;
    startWorker(queue, async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    });

    const job = await settled(queue, 'a', 'dead');
    expect(job).toMatchObject({ attempts: 3, retries_remaining: 0, last_error: 'boom 3' });
    expect(calls).toBe(3);
  });

  it('sends a job that throws PermanentError to the dead-letter queue at once', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, max_retries: 5, backoff: quickRetries });
    startWorker(queue, async () => {
      throw new PermanentError('bad payload');
    });

    const job = await settled(queue, 'a', 'dead');
    expect(job).toMatchObject({ attempts: 1, last_error: 'bad payload' });
  });

  it('keeps a job running past its timeout by heartbeating', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'long', payload: null, timeout: 1, max_retries: 0 });
    const midway = gate();
    const release = gate();
    startWorker(queue, async () => {
      midway.open();
      await release.opened;
    });

    await midway.opened;
    await sleep(2_500); // two and a half leases
    // A claimer would take the job now if its lease had lapsed.
    const stolen = await client.claim(queue, 1);
    release.open();

    expect(stolen).toEqual([]);
    expect(await settled(queue, 'long', 'completed')).toMatchObject({ attempts: 1 });
  });

  it('resends the latest state with every automatic heartbeat', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, timeout: 1, state: { step: 0 } });
    const started = gate();
    const release = gate();
    startWorker(queue, async (_job, { heartbeat }) => {
      await heartbeat({ step: 1 });
      started.open();
      await release.opened;
    });

    await started.opened;
    // Past three automatic heartbeats: each would clear the state if it did not resend it.
    await sleep(1_200);
    const running = await client.status(queue, 'a');
    release.open();

    expect(running.state).toEqual({ step: 1 });
  });

  it('aborts the handler and does not complete the job when its lease is lost', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, timeout: 1 });
    const started = gate();
    let abortReason: unknown;
    startWorker(queue, async (_job, { signal }) => {
      started.open();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      abortReason = signal.reason;
    });

    await started.opened;
    await client.cancel(queue, 'a');

    await eventually(
      async () => abortReason,
      (reason) => reason !== undefined,
    );
    expect(abortReason).toMatchObject({ name: 'LeaseLostError' });
    expect(await client.status(queue, 'a')).toMatchObject({ status: 'cancelled' });
  });

  it('waits for the running job to finish when stopped', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    const started = gate();
    const release = gate();
    let aborted = false;
    const worker = startWorker(queue, async (_job, { signal }) => {
      started.open();
      await release.opened;
      aborted = signal.aborted;
    });

    await started.opened;
    let stopped = false;
    const stopping = worker.stop().then(() => {
      stopped = true;
    });
    await sleep(100);
    const stoppedEarly = stopped;
    release.open();
    await stopping;

    expect(stoppedEarly).toBe(false);
    expect(aborted).toBe(false);
    expect(await client.status(queue, 'a')).toMatchObject({ status: 'completed' });
  });

  it('stops claiming once stopped', async () => {
    const queue = newQueue();
    const worker = startWorker(queue, async () => {});
    await worker.stop();
    await client.submit({ queue, id: 'late', payload: null });
    await sleep(200);

    expect(await client.status(queue, 'late')).toMatchObject({ status: 'pending' });
  });

  it('aborts a handler still running when the grace period ends, failing its job', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null, backoff: quickRetries });
    const started = gate();
    const worker = startWorker(
      queue,
      async (_job, { signal }) => {
        started.open();
        await new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      },
      { gracePeriodMs: 50 },
    );

    await started.opened;
    await worker.stop();

    expect(await client.status(queue, 'a')).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: 'the worker stopped before the job finished',
    });
  });
});
