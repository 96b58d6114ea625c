import type { RunTaskCommand } from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { byRuntime, fargateExecutor, inlineExecutor, jobRuntime } from '../functions/dispatch/executors.ts';
import type { Job, NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { DEFAULT_COMMAND_TIMEOUT_MS, INLINE_LIMIT_MS } from '../functions/runner/command.ts';
import { runJob } from '../functions/runner/job.ts';
import { freshStore } from './support/store.ts';

/** Takes the lines written to stdout (where Relay's info lines go) into `lines` until restored. */
const captureStdout = (lines: string[]) =>
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });

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
    const spy = captureStdout(lines);
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

  it('echoes at most the bound of a run, then says how much it left out', async () => {
    vi.stubEnv('RELAY_LOG_LEVEL', 'info');
    const lines: string[] = [];
    const spy = captureStdout(lines);
    try {
      const job = await claimed(
        shell('chatty', {
          command: '/bin/sh',
          args: ['-c', 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.05; done'],
        }),
      );
      await runJob(
        { queue: job.queue, id: job.id, runId: String(job.run_id) },
        {
          store,
          echoOutput: true,
          echoLimitBytes: 14,
        },
      );
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    const logged = lines.map((l) => JSON.parse(l));
    const echoed = logged
      .filter((l) => l.message === 'output')
      .map((l) => l.text)
      .join('');

    expect(echoed).toBe('line 1\nline 2\n');
    expect(logged).toContainEqual(expect.objectContaining({ job_id: 'chatty', skipped_bytes: 21 }));
    // The job's own log is not bounded by the echo.
    expect((await store.readLogs('q', 'chatty', { limit: 10 })).items).toHaveLength(5);
  });

  it('keeps the last 256 KiB of a run that prints more, with a marker of what was dropped', async () => {
    const script = "head -c 600000 /dev/zero | tr '\\0' a; echo; echo 'exit 3: the error at the end'";
    const job = await claimed(shell('flood', { command: '/bin/sh', args: ['-c', script] }));
    await inlineExecutor({ store })(job);
    const entries = [];
    for (let after: string | undefined; ; ) {
      const page = await store.readLogs('q', 'flood', { limit: 1000, after });
      if (!page.items.length) break;
      entries.push(...page.items);
      after = page.cursor ?? undefined;
    }
    const kept = entries.filter((e) => !e.truncated);
    const dropped = 600_000 + 1 + 'exit 3: the error at the end\n'.length - 256 * 1024;

    expect(entries[0]).toMatchObject({
      truncated: true,
      text: expect.stringContaining(`${dropped} bytes dropped from the front`),
    });
    expect(kept.reduce((n, e) => n + Buffer.byteLength(e.text), 0)).toBe(256 * 1024);
    expect(kept.map((e) => e.text).join('')).toMatch(/a\nexit 3: the error at the end\n$/);
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
