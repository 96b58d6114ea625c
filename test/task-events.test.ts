/**
 * A runner's Fargate task stopped (ECS Task State Change, STOPPED): its run fails at once, fenced
 * by the run id in the task's command override, instead of holding its lease for a whole timeout.
 * Real DynamoDB Local and SQS emulator; the events are shaped as ECS sends them.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DispatchQueue } from '../functions/dispatch/queue.ts';
import {
  RUNNER_STARTED_BY,
  type TaskStateChange,
  taskStateChangeSchema,
  taskStopped,
} from '../functions/dispatch/task-events.ts';
import type { NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { shellJob } from './support/jobs.ts';
import { messagesIn, sqsForFile } from './support/sqs.ts';
import { freshStore } from './support/store.ts';

const sqs = sqsForFile();
let store: JobStore;
let dispatch: DispatchQueue;

beforeEach(async () => {
  store = (await freshStore()).store;
  dispatch = await sqs.dispatchQueue({ maxReceiveCount: 5 });
});

/** A managed job whose command runs for an hour, on a 10-minute lease. */
const sleeper = (id: string, extra: Partial<NewJob> = {}): NewJob =>
  shellJob(id, {
    payload: { command: 'sleep', args: ['3600'], timeout: '2h' },
    timeout: 600,
    max_retries: 2,
    ...extra,
  });

/** A STOPPED event's detail for the task running `runId`, as EventBridge delivers it. */
function stoppedTask(id: string, runId: string, extra: Record<string, unknown> = {}): TaskStateChange {
  return taskStateChangeSchema.parse({
    clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/relay',
    taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/relay/${runId}`,
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    startedBy: RUNNER_STARTED_BY,
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [
      { name: 'runner', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' },
    ],
    overrides: { containerOverrides: [{ name: 'runner', command: ['--job', 'q', id, runId] }] },
    ...extra,
  });
}

async function running(id: string, extra: Partial<NewJob> = {}): Promise<string> {
  await store.enqueue(sleeper(id, extra));
  const run = await store.claimById('q', id);
  if (!run?.run_id) throw new Error('not claimed');
  return String(run.run_id);
}

/** Hints on the queue, visible or still delayed (a retry's hint waits out its backoff). */
const hints = (queueUrl: string) => messagesIn(sqs.client, queueUrl, ['visible', 'delayed']);

async function received(queueUrl: string): Promise<string[]> {
  const out = await sqs.client.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return (out.Messages ?? []).map((m) => String(m.Body));
}

describe('a runner task that stops', () => {
  it('fails its run at once, with the stop reason and exit code, and schedules the retry', async () => {
    const runId = await running('a');

    const result = await taskStopped(stoppedTask('a', runId), { store, dispatch });

    expect(result).toEqual({ kind: 'failed', status: 'failed' });
    const job = await store.get('q', 'a');
    expect(job).toMatchObject({ status: 'failed', run_id: null, result: { exit_code: 137 } });
    expect(job?.last_error).toContain('OutOfMemoryError');
    expect(job?.last_error).toContain('EssentialContainerExited');
    expect(await hints(dispatch.queueUrl)).toBe(1);
  });

  it('leaves the job dead, in DynamoDB only, when that was the last retry', async () => {
    const runId = await running('last', { max_retries: 0 });

    const result = await taskStopped(stoppedTask('last', runId), { store, dispatch });

    expect(result).toEqual({ kind: 'failed', status: 'dead' });
    expect((await store.get('q', 'last'))?.status).toBe('dead');
    // The SQS DLQ holds only hints SQS gave up on; the dead-letter API lists this job from DynamoDB.
    expect(await received(dispatch.deadLetterUrl)).toEqual([]);
    expect((await store.deadLetters('q', 10)).items.map((j) => j.id)).toEqual(['last']);
  });

  it('changes nothing when the runner already ended the run', async () => {
    const runId = await running('done');
    await store.completeRun('q', 'done', runId, { exit_code: 0, duration_ms: 5 });

    const result = await taskStopped(
      stoppedTask('done', runId, { containers: [{ name: 'runner', exitCode: 0 }] }),
      {
        store,
        dispatch,
      },
    );

    expect(result).toEqual({ kind: 'stale' });
    expect((await store.get('q', 'done'))?.status).toBe('completed');
    expect(await hints(dispatch.queueUrl)).toBe(0);
  });

  it('records TaskFailed for a run its stopped task failed, and nothing for a run already ended', async () => {
    const records: { queue: string; values: object; context?: object }[] = [];
    const metrics = {
      record: (queue: string, values: object, context?: object) => records.push({ queue, values, context }),
    };
    const failedRun = await running('oom');
    const endedRun = await running('ended');
    await store.completeRun('q', 'ended', endedRun, { exit_code: 0, duration_ms: 5 });

    await taskStopped(stoppedTask('oom', failedRun), { store, dispatch, metrics });
    await taskStopped(stoppedTask('ended', endedRun), { store, dispatch, metrics });

    expect(records).toEqual([
      { queue: 'q', values: { TaskFailed: 1 }, context: { job_id: 'oom', run_id: failedRun } },
    ]);
  });

  it('changes nothing when the job has moved on to a newer run', async () => {
    const oldRun = await running('moved', { timeout: 1 });
    await store.releaseRun('q', 'moved', oldRun, 'test: given back');
    const newRun = (await store.claimById('q', 'moved'))?.run_id;

    const result = await taskStopped(stoppedTask('moved', oldRun), { store, dispatch });

    expect(result).toEqual({ kind: 'stale' });
    expect(await store.get('q', 'moved')).toMatchObject({ status: 'running', run_id: newRun });
  });

  it('changes nothing for a cancelled job', async () => {
    const runId = await running('cancelled');
    await store.cancel('q', 'cancelled');

    expect(await taskStopped(stoppedTask('cancelled', runId), { store, dispatch })).toEqual({
      kind: 'stale',
    });
    expect((await store.get('q', 'cancelled'))?.status).toBe('cancelled');
  });

  it('ignores tasks Relay did not start, tasks still running, and tasks without a job reference', async () => {
    const runId = await running('other');

    for (const detail of [
      stoppedTask('other', runId, { startedBy: 'someone-else' }),
      stoppedTask('other', runId, { lastStatus: 'RUNNING' }),
      stoppedTask('other', runId, {
        overrides: { containerOverrides: [{ name: 'runner', command: ['--spec', '{}'] }] },
      }),
      stoppedTask('other', runId, { overrides: {} }),
    ]) {
      expect(await taskStopped(detail, { store, dispatch })).toEqual({ kind: 'ignored' });
    }
    expect((await store.get('q', 'other'))?.status).toBe('running');
  });

  it('rejects an event without a task ARN or status', () => {
    expect(() => taskStateChangeSchema.parse({ startedBy: RUNNER_STARTED_BY })).toThrow();
  });
});
