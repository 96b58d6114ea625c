/**
 * Managed shell jobs end to end on the local stack as users run it (`relay dev`, built): the API
 * writes the job and sends its dispatch hint to SQS (fauxqs), the dispatcher claims it from the
 * local poller, the runner runs it as a child process, and the outcome lands in DynamoDB.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../functions/core/clients.ts';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { type DevProcess, startDev } from './support/cli.ts';

let dev: DevProcess;
beforeAll(async () => {
  dev = await startDev(['--port', String(await freePort())]);
});
afterAll(async () => {
  dev.child.kill('SIGINT');
  await dev.exited;
});

const queue = () => `managed-${randomUUID().slice(0, 8)}`;

async function submit(job: Record<string, unknown>) {
  const response = await fetch(`${dev.url}/v1/managed/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(job),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { queue: string; id: string };
}

const status = async (q: string, id: string) =>
  (await (await fetch(`${dev.url}/v1/queues/${q}/jobs/${id}/status`)).json()) as Record<string, unknown>;

const logs = async (q: string, id: string) =>
  (
    (await (await fetch(`${dev.url}/v1/queues/${q}/jobs/${id}/logs`)).json()) as {
      entries: { stream: string; text: string; run_id: string }[];
    }
  ).entries;

/** Waits until the job reaches `want` (or fails the test after 45 s). */
async function until(q: string, id: string, want: string) {
  await expect.poll(async () => (await status(q, id)).status, { timeout: 45_000, interval: 250 }).toBe(want);
  return status(q, id);
}

const runs = async (q: string, id: string) =>
  (
    (await (await fetch(`${dev.url}/v1/queues/${q}/jobs/${id}/runs`)).json()) as {
      runs: { attempt: number; outcome: string; exit_code: number | null; error: string | null }[];
    }
  ).runs;

describe('run history of managed jobs on the local stack', () => {
  it('keeps each run of a failing job with its exit code and error', async () => {
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: { command: '/bin/sh', args: ['-c', 'exit 3'] },
      max_retries: 1,
      backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
    });
    await until(job.queue, job.id, 'dead');
    expect((await runs(job.queue, job.id)).map((r) => [r.attempt, r.outcome, r.exit_code, r.error])).toEqual([
      [1, 'failed', 3, 'exited with code 3'],
      [2, 'failed', 3, 'exited with code 3'],
    ]);
  });

  it('keeps a completed run with exit code 0 and a run stopped at its timeout as timed out', async () => {
    const [done, slow] = await Promise.all([
      submit({ queue: queue(), type: 'SHELL', payload: { command: 'true' } }),
      submit({
        queue: queue(),
        type: 'SHELL',
        payload: { command: 'sleep', args: ['30'], timeout: '1s' },
        max_retries: 0,
      }),
    ]);
    await Promise.all([until(done.queue, done.id, 'completed'), until(slow.queue, slow.id, 'dead')]);
    expect(await runs(done.queue, done.id)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'completed', exit_code: 0, error: null }),
    ]);
    expect(await runs(slow.queue, slow.id)).toEqual([
      expect.objectContaining({ outcome: 'timed_out', exit_code: 124, error: 'timed out after 1s' }),
    ]);
  });
});

describe('managed shell jobs on the local stack', () => {
  it('runs an echo job to completion and keeps its stdout', async () => {
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: { command: 'echo', args: ['hello world'] },
    });
    const done = await until(job.queue, job.id, 'completed');
    expect(done).toMatchObject({ attempts: 1, result: { exit_code: 0 } });
    expect(
      (await logs(job.queue, job.id))
        .filter((e) => e.stream === 'stdout')
        .map((e) => e.text)
        .join(''),
    ).toBe('hello world\n');
  });

  it('runs a failing job with max_retries=1 exactly twice, then makes it dead without putting it on the SQS DLQ', async () => {
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: { command: '/bin/sh', args: ['-c', 'echo boom >&2; exit 3'] },
      max_retries: 1,
      backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
    });
    const dead = await until(job.queue, job.id, 'dead');
    expect(dead).toMatchObject({ attempts: 2, result: { exit_code: 3 } });
    expect(String(dead.last_error)).toContain('exited with code 3');
    const stderr = (await logs(job.queue, job.id)).filter((e) => e.stream === 'stderr');
    expect(stderr.map((e) => e.text)).toEqual(['boom\n', 'boom\n']);
    expect(new Set(stderr.map((e) => e.run_id)).size).toBe(2);

    const endpoint = /SQS \(fauxqs\) at (\S+)/.exec(dev.output())?.[1] as string;
    const sqs = new SQSClient(awsClientConfig(endpoint));
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'relay-dispatch-dlq' }));
    // The DLQ holds only hints SQS gave up on: a job dead of its own runs is never there, even
    // after a few maintenance passes (one a second).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('kills a job that outlives its timeout with exit 124', async () => {
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: { command: 'sleep', args: ['30'], timeout: '1s' },
      max_retries: 0,
    });
    const dead = await until(job.queue, job.id, 'dead');
    expect(dead).toMatchObject({ result: { exit_code: 124 }, last_error: 'timed out after 1s' });
  });

  it('enqueues on_success once and runs it', async () => {
    const q = queue();
    const parent = await submit({
      queue: q,
      type: 'SHELL',
      payload: { command: 'echo', args: ['first'] },
      on_success: { type: 'SHELL', payload: { command: 'echo', args: ['second'] } },
    });
    const done = await until(q, parent.id, 'completed');
    const children = done.children as string[];
    expect(children).toHaveLength(1);
    const child = await until(q, children[0] as string, 'completed');
    expect(child.parent).toMatchObject({ queue: q, id: parent.id });
    expect((await logs(q, children[0] as string)).map((e) => e.text).join('')).toBe('second\n');
  });

  it('runs a dead job again when it is requeued from the dead-letter queue', async () => {
    // Fails while the marker file is missing, creating it: the first run fails, the second passes.
    const marker = path.join(tmpdir(), `relay-requeue-${randomUUID()}`);
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: { command: '/bin/sh', args: ['-c', `test -f ${marker} && exit 0; touch ${marker}; exit 1`] },
      max_retries: 0,
    });
    await until(job.queue, job.id, 'dead');
    const requeued = await fetch(`${dev.url}/v1/managed/queues/${job.queue}/dlq/${job.id}/requeue`, {
      method: 'POST',
    });
    expect(requeued.status).toBe(200);
    const done = await until(job.queue, job.id, 'completed');
    expect(done).toMatchObject({ result: { exit_code: 0 } });
    // The second run at least; a loaded machine may start a runner so slowly that a 2 s lease runs
    // out first, and the run after it completes.
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    rmSync(marker, { force: true });
  });

  it('runs every dead job of a queue again when they are all requeued, without waiting for the sweep', async () => {
    const q = queue();
    const markers = [0, 1].map(() => path.join(tmpdir(), `relay-requeue-all-${randomUUID()}`));
    const jobs = await Promise.all(
      markers.map((marker) =>
        submit({
          queue: q,
          type: 'SHELL',
          payload: {
            command: '/bin/sh',
            args: ['-c', `test -f ${marker} && exit 0; touch ${marker}; exit 1`],
          },
          max_retries: 0,
        }),
      ),
    );
    for (const job of jobs) await until(q, job.id, 'dead');
    const response = await fetch(`${dev.url}/v1/managed/queues/${q}/dlq/requeue`, { method: 'POST' });
    expect(await response.json()).toEqual({ requeued: 2, skipped_pull: 0 });
    // Well inside the sweep's 30 s re-dispatch grace: they were dispatched as they were requeued.
    for (const job of jobs) {
      await expect
        .poll(async () => (await status(q, job.id)).status, { timeout: 15_000, interval: 250 })
        .toBe('completed');
    }
    for (const marker of markers) rmSync(marker, { force: true });
  });

  it('runs a job again after its runner is killed mid-run, never two runs at once', async () => {
    const marker = path.join(tmpdir(), `relay-sigkill-${randomUUID()}`);
    const seconds = 20_000 + Math.floor(Math.random() * 80_000);
    // First run: marks itself and sleeps (until killed); second run: sees the mark and exits 0.
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      payload: {
        command: '/bin/sh',
        args: [
          '-c',
          `test -f ${marker} && { echo second run; exit 0; }; touch ${marker}; exec sleep ${seconds}`,
        ],
      },
      timeout: 2,
    });
    await until(job.queue, job.id, 'running');
    const processes = async () => (await promisify(execFile)('ps', ['-eo', 'pid=,args='])).stdout.split('\n');
    const sleeping = async () =>
      (await processes()).filter((l) => l.trim().endsWith(`sleep ${seconds}`)).length;
    await expect.poll(sleeping, { timeout: 10_000 }).toBe(1);
    const runner = (await processes()).find((l) => l.includes(`--job ${job.queue} ${job.id}`));
    process.kill(Number(runner?.trim().split(/\s+/)[0]), 'SIGKILL');
    // The first run's command dies with its runner...
    await expect.poll(sleeping, { timeout: 5_000, interval: 50 }).toBe(0);
    const goneBy = Date.now();
    const done = await until(job.queue, job.id, 'completed');
    expect(done).toMatchObject({ result: { exit_code: 0 } });
    // The second run at least; a loaded machine may start a runner so slowly that a 2 s lease runs
    // out first, and the run after it completes.
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    // ...before the second run (after the lease expired and the sweep re-dispatched) printed.
    const second = (await logs(job.queue, job.id)).find((e) => e.text === 'second run\n') as unknown as {
      at: number;
    };
    expect(second.at).toBeGreaterThan(goneBy - 100);
    rmSync(marker, { force: true });
  });

  it('kills the whole process group of a cancelled running job', async () => {
    // Durations no other test uses, so the process table check sees only this job's processes.
    const a = 10_000 + Math.floor(Math.random() * 80_000);
    const job = await submit({
      queue: queue(),
      type: 'SHELL',
      // A background `sleep` of the shell too: cancelling must not leave it behind.
      payload: { command: '/bin/sh', args: ['-c', `sleep ${a} & sleep ${a + 1}`] },
      timeout: 30,
    });
    await until(job.queue, job.id, 'running');
    // Whole command lines only: the shell's own line ends in `sleep N` too. Zombies read `[sleep]`.
    const mine = new RegExp(`^sleep (${a}|${a + 1})$`);
    const sleepers = async () => {
      const { stdout } = await promisify(execFile)('ps', ['-eo', 'args=']);
      return stdout.split('\n').filter((l) => mine.test(l.trim())).length;
    };
    await expect.poll(sleepers, { timeout: 10_000 }).toBe(2);
    const cancelled = await fetch(`${dev.url}/v1/queues/${job.queue}/jobs/${job.id}/cancel`, {
      method: 'POST',
    });
    expect(cancelled.status).toBe(200);
    await expect.poll(sleepers, { timeout: 20_000, interval: 250 }).toBe(0);
    expect((await status(job.queue, job.id)).status).toBe('cancelled');
  });
});
