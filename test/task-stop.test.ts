/**
 * Stopping the Fargate task of a run that should no longer go on: a cancelled job, or a run whose
 * lease expired (its runner may be hung). ECS has no emulator here, so ECS calls go to a scripted
 * client; everything else is real (DynamoDB Local, the HTTP API).
 */
import type { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ecsStopper, fargateExecutor } from '../functions/dispatch/executors.ts';
import { maintain } from '../functions/dispatch/maintenance.ts';
import type { NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { shellJob } from './support/jobs.ts';
import { freshStore, TestClock } from './support/store.ts';

/** A managed job whose command runs for 10 minutes. */
const sleeper = (id: string, extra: Partial<NewJob> = {}): NewJob =>
  shellJob(id, { payload: { command: 'sleep', args: ['600'], timeout: '2h' }, ...extra });

const recordingStopper = () => {
  const stops: { task: string; reason: string }[] = [];
  return { stops, stop: async (task: string, reason: string) => void stops.push({ task, reason }) };
};

let clock: TestClock;
let store: JobStore;
beforeEach(async () => {
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  store = (await freshStore({ clock: clock.read })).store;
});

async function runningWithTask(id: string, task: string, extra: Partial<NewJob> = {}) {
  await store.enqueue(sleeper(id, extra));
  const run = await store.claimById('q', id);
  expect(await store.recordTask('q', id, String(run?.run_id), task)).toBe(true);
  return run;
}

describe('recording a run’s task', () => {
  it('keeps the task of the current run only', async () => {
    const run = await runningWithTask('a', 'arn:task/1');
    expect((await store.get('q', 'a'))?.task_arn).toBe('arn:task/1');
    await store.releaseRun('q', 'a', String(run?.run_id), 'test');
    expect(await store.recordTask('q', 'a', String(run?.run_id), 'arn:task/late')).toBe(false);
  });

  it('forgets the last run’s task when a new run starts', async () => {
    const run = await runningWithTask('a', 'arn:task/1', { timeout: 1 });
    await store.failRun('q', 'a', String(run?.run_id), { error: 'x', exit_code: 1 });
    clock.advance(3_600_000);
    expect((await store.claimById('q', 'a'))?.task_arn).toBeNull();
  });

  it('is done by the Fargate executor once a task starts', async () => {
    await store.enqueue(sleeper('f'));
    const job = await store.claimById('q', 'f');
    const ecs = {
      send: async (_: RunTaskCommand) => ({ tasks: [{ taskArn: 'arn:aws:ecs:task/started' }], failures: [] }),
    };
    const settings = {
      cluster: 'c',
      taskDefinition: 't',
      container: 'runner',
      subnets: ['s'],
      securityGroups: [],
      assignPublicIp: false,
    };
    if (!job) throw new Error('not claimed');
    await fargateExecutor(ecs, settings, store)(job);
    expect((await store.get('q', 'f'))?.task_arn).toBe('arn:aws:ecs:task/started');
  });
});

describe('stopping tasks', () => {
  it('stops the task of a run whose lease expired, when the sweep ends that run', async () => {
    await runningWithTask('a', 'arn:task/expired', { timeout: 2 });
    await runningWithTask('b', 'arn:task/alive', { timeout: 600 });
    clock.advance(5_000);
    const stopper = recordingStopper();
    const result = await maintain({ store, stopTask: stopper.stop, now: clock.read });
    expect(result).toMatchObject({ requeued: 1, stopped: 1 });
    expect(stopper.stops).toEqual([{ task: 'arn:task/expired', reason: 'the run’s lease expired' }]);
  });

  it('asks ECS to stop the task in the cluster, and ignores a task that is already gone', async () => {
    const sent: StopTaskCommand[] = [];
    let gone = false;
    const ecs = {
      send: async (command: StopTaskCommand) => {
        sent.push(command);
        if (gone)
          throw Object.assign(new Error('The referenced task was not found.'), {
            name: 'InvalidParameterException',
          });
        return {};
      },
    };
    const stop = ecsStopper(ecs, 'relay-cluster');
    await stop('arn:task/1', 'cancelled');
    gone = true;
    await stop('arn:task/1', 'cancelled again');
    expect(sent.map((c) => c.input)).toEqual([
      { cluster: 'relay-cluster', task: 'arn:task/1', reason: 'cancelled' },
      { cluster: 'relay-cluster', task: 'arn:task/1', reason: 'cancelled again' },
    ]);
  });

  describe('through the API', () => {
    let api: TestApi;
    const stopper = recordingStopper();
    beforeEach(async () => {
      stopper.stops.length = 0;
      api = await startTestApi({ stopTask: stopper.stop });
      store = api.store;
    });
    afterEach(() => api.close());

    it('stops the task of a running job that is cancelled', async () => {
      await runningWithTask('c', 'arn:task/cancelled');
      const response = await api.fetch('/v1/queues/q/jobs/c/cancel', { method: 'POST' });
      expect(response.status).toBe(200);
      expect(stopper.stops).toEqual([{ task: 'arn:task/cancelled', reason: 'job q/c was cancelled' }]);
    });

    it('stops nothing when a job without a task is cancelled', async () => {
      await store.enqueue(sleeper('waiting'));
      expect((await api.fetch('/v1/queues/q/jobs/waiting/cancel', { method: 'POST' })).status).toBe(200);
      expect(stopper.stops).toEqual([]);
    });
  });
});
