import type { RunTaskCommand } from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { byRuntime, fargateExecutor, inlineExecutor, jobRuntime } from '../functions/dispatch/executors.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { DEFAULT_COMMAND_TIMEOUT_MS, INLINE_LIMIT_MS } from '../functions/runner/command.ts';
import { freshStore } from './support/store.ts';

const shell = (id: string, payload: unknown, extra: Partial<NewJob> = {}): NewJob => ({
  queue: 'q',
  id,
  payload,
  timeout: 30,
  max_retries: 3,
  type: 'SHELL',
  ...extra,
});

const settings = {
  cluster: 'relay',
  taskDefinition: 'runner:1',
  container: 'runner',
  subnets: ['subnet-1'],
  securityGroups: ['sg-1'],
  assignPublicIp: true,
};

/** An ECS client double that answers RunTask from a script: there is no ECS emulator. */
function scriptedEcs(answers: Array<'throttle' | 'capacity' | 'ok' | 'denied'>) {
  const calls: RunTaskCommand[] = [];
  return {
    calls,
    send: async (command: RunTaskCommand) => {
      calls.push(command);
      const answer = answers.shift() ?? 'ok';
      if (answer === 'throttle')
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      if (answer === 'denied')
        throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
      if (answer === 'capacity')
        return { tasks: [], failures: [{ reason: 'Capacity is unavailable at this time' }] };
      return { tasks: [{ taskArn: 'arn:aws:ecs:task/1' }], failures: [] };
    },
  };
}

let store: JobStore;
beforeEach(async () => {
  store = (await freshStore()).store;
});

const claimed = async (job: NewJob) => {
  await store.enqueue(job);
  return (await store.claimById(job.queue, job.id)) as Job;
};

describe('runtime choice', () => {
  it('runs a command of at most ten minutes inline and a longer one on Fargate', async () => {
    expect(jobRuntime((await claimed(shell('short', { command: 'true', timeout: '10m' }))) as Job)).toBe(
      'lambda',
    );
    expect(jobRuntime((await claimed(shell('long', { command: 'true', timeout: '11m' }))) as Job)).toBe(
      'fargate',
    );
    expect(INLINE_LIMIT_MS).toBe(600_000);
  });

  it('runs a command without a timeout inline: the default timeout is short', async () => {
    expect(DEFAULT_COMMAND_TIMEOUT_MS).toBe(300_000);
    expect(jobRuntime(await claimed(shell('no-timeout', { command: 'echo', args: ['hello'] })))).toBe(
      'lambda',
    );
  });

  it('follows payload.runtime when it is given', async () => {
    const job = await claimed(shell('pinned', { command: 'true', timeout: '1h', runtime: 'lambda' }));
    expect(jobRuntime(job)).toBe('lambda');
  });

  it('sends each job to the executor of its runtime', async () => {
    const seen: string[] = [];
    const route = byRuntime({
      lambda: async (job) => void seen.push(`lambda:${job.id}`),
      fargate: async (job) => void seen.push(`fargate:${job.id}`),
    });
    await route(await claimed(shell('a', { command: 'true', timeout: '1m' })));
    await route(await claimed(shell('b', { command: 'true', timeout: '2h' })));
    expect(seen).toEqual(['lambda:a', 'fargate:b']);
  });
});

describe('inline executor', () => {
  it('also writes the output as structured log lines, for CloudWatch Logs', async () => {
    vi.stubEnv('RELAY_LOG_LEVEL', 'info');
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      const job = await claimed(shell('loud', { command: 'echo', args: ['to cloudwatch'] }));
      await inlineExecutor({ store })(job);
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    const output = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'output');
    expect(output).toEqual([
      expect.objectContaining({
        queue: 'q',
        job_id: 'loud',
        stream: 'stdout',
        text: 'to cloudwatch\n',
        attempt: 1,
      }),
    ]);
  });

  it('runs the command to its end in this process and records the result', async () => {
    const job = await claimed(shell('echo', { command: 'echo', args: ['inline'] }));
    await inlineExecutor({ store })(job);
    expect(await store.get('q', 'echo')).toMatchObject({ status: 'completed', result: { exit_code: 0 } });
    const logs = await store.readLogs('q', 'echo', { limit: 10 });
    expect(logs.items.map((e) => e.text)).toEqual(['inline\n']);
  });
});

describe('fargate executor', () => {
  it('starts a task with the job reference only, never the payload', async () => {
    const ecs = scriptedEcs(['ok']);
    const job = await claimed(
      shell('f', { command: 'secret-tool', args: ['--token', 'abc'], timeout: '2h' }),
    );
    await fargateExecutor(ecs, settings, store)(job);
    const input = ecs.calls[0]?.input;
    expect(input?.overrides?.containerOverrides).toEqual([
      { name: 'runner', command: ['--job', 'q', 'f', job.run_id] },
    ]);
    expect(JSON.stringify(input)).not.toContain('secret-tool');
    expect(input?.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('ENABLED');
  });

  it('retries RunTask throttling and capacity failures until a task starts (injected ECS faults)', async () => {
    const ecs = scriptedEcs(['throttle', 'capacity', 'throttle', 'ok']);
    const job = await claimed(shell('f', { command: 'true', timeout: '2h' }));
    await fargateExecutor(ecs, settings, store, { sleep: async () => {} })(job);
    expect(ecs.calls).toHaveLength(4);
    expect((await store.get('q', 'f'))?.status).toBe('running');
  });

  it('gives the run back without spending a retry when no task can start (injected ECS faults)', async () => {
    const ecs = scriptedEcs(['capacity', 'capacity', 'capacity']);
    const job = await claimed(shell('f', { command: 'true', timeout: '2h' }));
    const run = fargateExecutor(ecs, settings, store, { attempts: 3, sleep: async () => {} })(job);
    await expect(run).rejects.toThrow('could not start a Fargate task');
    expect(await store.get('q', 'f')).toMatchObject({ status: 'pending', attempts: 0, retries_remaining: 3 });
  });

  it('does not retry an error that is not throttling (injected ECS fault)', async () => {
    const ecs = scriptedEcs(['denied', 'ok']);
    const job = await claimed(shell('f', { command: 'true', timeout: '2h' }));
    await expect(fargateExecutor(ecs, settings, store, { sleep: async () => {} })(job)).rejects.toThrow(
      'not authorized',
    );
    expect(ecs.calls).toHaveLength(1);
  });
});
