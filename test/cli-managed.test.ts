/**
 * The CLI's commands for managed jobs, built and run against `relay dev` as users run them:
 * `relay submit --wait` follows a job to its end, `relay logs` prints what its runs wrote.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { type Job, type JobInput, type LogEntry, RelayClient } from '../functions/sdk/client.ts';
import { type DevProcess, runCli, startDev } from './support/cli.ts';

let dev: DevProcess;
let client: RelayClient;
let dir: string;

beforeAll(async () => {
  [dev, dir] = await Promise.all([
    startDev(['--port', String(await freePort())]),
    mkdtemp(path.join(tmpdir(), 'relay-cli-managed-')),
  ]);
  // Commands may run as a uid of their own (the stack as root): they write their markers here.
  await chmod(dir, 0o777);
  client = new RelayClient({ endpoint: dev.url });
});

afterAll(async () => {
  dev.child.kill('SIGINT');
  await dev.exited;
  await rm(dir, { recursive: true, force: true });
});

const newQueue = () => `cli-${randomUUID().slice(0, 8)}`;

/** The built CLI against the dev server. */
const relay = (args: readonly string[], input?: string) =>
  runCli(['--endpoint', dev.url, ...args], { input });

/** A managed job running `/bin/sh -c script`. */
const shell = (queue: string, script: string, extra: Record<string, unknown> = {}) => ({
  queue,
  type: 'SHELL',
  payload: { command: '/bin/sh', args: ['-c', script] },
  ...extra,
});

/** Writes a job file and returns its path. */
async function jobFile(content: unknown): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.json`);
  await writeFile(file, JSON.stringify(content));
  return file;
}

/** Submits a job through the SDK; the SDK's `JobInput` does not name the managed-job fields. */
const submit = (job: Record<string, unknown>) => client.submit(job as unknown as JobInput);

/** Waits until the job reaches `status` (or fails the test after 45 s). */
async function until(job: Job, status: Job['status']): Promise<Job> {
  await expect
    .poll(async () => (await client.status(job.queue, job.id)).status, { timeout: 45_000, interval: 250 })
    .toBe(status);
  return client.status(job.queue, job.id);
}

/**
 * A job that wrote `first` and failed, then wrote `second` and completed: it fails while its
 * marker file is missing, creating it.
 */
async function failedOnceThenCompleted(): Promise<Job> {
  const marker = path.join(dir, randomUUID());
  const script = `test -f ${marker} && echo second && exit 0; touch ${marker}; echo first; exit 1`;
  const backoff = { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' };
  return until(await submit(shell(newQueue(), script, { max_retries: 1, backoff })), 'completed');
}

/** The value of one row of `relay status`'s table. */
const field = (table: string, name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(table)?.[1];

describe.concurrent('relay submit --wait', () => {
  it('follows a job with an on_success child to completion and exits 0', async () => {
    const file = await jobFile({
      type: 'SHELL',
      payload: { command: '/bin/sh', args: ['-c', 'echo processing'], timeout: '5m' },
      on_success: { type: 'SHELL', payload: { command: '/bin/echo', args: ['notify'] } },
      max_retries: 3,
      backoff: 'exponential',
    });

    const result = await relay(['submit', file, '--wait']);

    expect(result.code, result.stderr).toBe(0);
    expect(field(result.stdout, 'status')).toBe('completed');
    const job = await client.status('default', field(result.stdout, 'id') ?? '');
    expect(job.children).toHaveLength(1);
  });

  it('exits 1 and shows the job dead when its only run fails', async () => {
    const file = await jobFile(shell(newQueue(), 'exit 3', { max_retries: 0 }));

    const result = await relay(['submit', file, '--wait']);

    expect(result.code).toBe(1);
    expect(field(result.stdout, 'status')).toBe('dead');
    expect(field(result.stdout, 'last_error')).toBe('exited with code 3');
  });

  it('prints the final job as JSON with --json', async () => {
    const queue = newQueue();

    const result = await relay(['--json', 'submit', '-', '--wait'], JSON.stringify(shell(queue, 'true')));

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ queue, status: 'completed', result: { exit_code: 0 } });
  });

  it('writes a progress line to stderr for each status change when stderr is not a terminal', async () => {
    const queue = newQueue();

    const result = await relay(['--json', 'submit', '-', '--wait'], JSON.stringify(shell(queue, 'sleep 2')));

    const { id } = JSON.parse(result.stdout) as Job;
    const lines = result.stderr.trimEnd().split('\n');
    expect(result.stderr).not.toContain('\r');
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${queue}/${id} running \\(attempt 1\\) \\d+\\.\\ds$`)),
    );
    expect(lines.at(-1)).toMatch(new RegExp(`^${queue}/${id} completed \\(attempt 1\\) \\d+\\.\\ds$`));
    expect(new Set(lines.map((l) => l.replace(/ [\d.]+s$/, ''))).size).toBe(lines.length);
  });

  it('exits 124, not 1, naming the job when --timeout passes before it ends', async () => {
    const queue = newQueue();

    const result = await relay(
      ['--json', 'submit', '-', '--wait', '--timeout', '1'],
      JSON.stringify(shell(queue, 'sleep 30')),
    );

    expect(result.code).toBe(124);
    const error = JSON.parse(result.stderr.trimEnd().split('\n').at(-1) ?? '');
    expect(error).toMatchObject({ error: { code: 'timeout', exit_code: 124 } });
    expect(error.error.message).toMatch(new RegExp(`^gave up waiting after 1s: ${queue}/\\S+ is still`));
    expect(result.stdout).toBe('');
    const [job] = (await client.list({ queue })).jobs;
    if (job) await client.cancel(queue, job.id);
  });

  it('shows the job’s output as it runs, then follows its on_success child', async () => {
    const queue = newQueue();
    const job = shell(queue, 'echo parent out; echo parent err >&2', {
      on_success: { type: 'SHELL', payload: { command: 'echo', args: ['child out'] } },
    });

    const result = await relay(['submit', '-', '--wait'], JSON.stringify(job));

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^parent out\nchild out\n/);
    expect(result.stderr).toContain('parent err\n');
    expect(result.stdout).toMatch(new RegExp(`^chained ${queue}/\\S+~success: completed$`, 'm'));
    expect(result.stderr).toMatch(new RegExp(`^${queue}/\\S+~success completed \\(attempt 1\\)`, 'm'));
  });

  it('follows an on_failure child of a job that died, and exits 1 for the dead job', async () => {
    const queue = newQueue();
    const job = shell(queue, 'exit 2', {
      max_retries: 0,
      on_failure: { type: 'SHELL', payload: { command: 'echo', args: ['cleaning up'] } },
    });

    const result = await relay(['submit', '-', '--wait'], JSON.stringify(job));

    expect(result.code).toBe(1);
    expect(field(result.stdout, 'status')).toBe('dead');
    expect(result.stdout).toContain('cleaning up\n');
    expect(result.stdout).toMatch(new RegExp(`^chained ${queue}/\\S+~failure: completed$`, 'm'));
  });

  it('exits 2 when --timeout is given without --wait', async () => {
    const result = await relay(['submit', '-', '--timeout', '5'], JSON.stringify(shell(newQueue(), 'true')));

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--timeout needs --wait');
  });
});

describe.concurrent('relay retry and dlq requeue of managed jobs', () => {
  it('retries a dead managed job on the managed route', async () => {
    const job = await until(await submit(shell(newQueue(), 'exit 1', { max_retries: 0 })), 'dead');

    const result = await relay(['--json', 'retry', job.id]);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: job.id, status: 'pending' });
  });

  it('requeues a dead managed job, one or --all', async () => {
    const queue = newQueue();
    const one = await until(await submit(shell(queue, 'exit 1', { max_retries: 0 })), 'dead');

    const result = await relay(['--json', 'dlq', 'requeue', `${queue}/${one.id}`]);
    await until(one, 'dead');
    const all = await relay(['dlq', 'requeue', queue, '--all']);

    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'pending' });
    expect(all.stdout).toBe(`requeued 1 dead job(s) in ${queue}\n`);
  });
});

describe.concurrent('relay logs', () => {
  it('prints an echo job’s output as the command wrote it', async () => {
    const job = await until(
      await submit({ queue: newQueue(), type: 'SHELL', payload: { command: 'echo', args: ['hello world'] } }),
      'completed',
    );

    const result = await relay(['logs', `${job.queue}/${job.id}`]);

    expect(result).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(result.stderr).toMatch(/^--- attempt 1 · run \S+ · completed \(exit 0\)\n$/);
  });

  it('writes the job’s stdout to stdout and its stderr to stderr', async () => {
    const job = await until(await submit(shell(newQueue(), 'echo out; echo err >&2')), 'completed');

    const result = await relay(['logs', job.queue, job.id]);

    expect(result).toMatchObject({ code: 0, stdout: 'out\n' });
    expect(result.stderr).toMatch(/^--- attempt 1 · .*\nerr\n$/);
  });

  it('prints every entry as a JSON line with --json', async () => {
    const job = await until(await submit(shell(newQueue(), 'echo out; echo err >&2')), 'completed');

    const result = await relay(['logs', `${job.queue}/${job.id}`, '--json']);

    const entries = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as LogEntry);
    expect(entries.map((e) => [e.stream, e.text, e.attempt])).toEqual([
      ['stdout', 'out\n', 1],
      ['stderr', 'err\n', 1],
    ]);
    expect(result.stderr).toBe('');
    const at = entries.map((e) => e.at as unknown as string);
    expect(at).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      expect.any(String),
    ]);
  });

  it('heads each run with its attempt, run id and how it ended', async () => {
    const job = await failedOnceThenCompleted();
    const logs = (await client.logs(job.queue, job.id)).entries;
    const [first, second] = [1, 2].map(
      (attempt) => logs.find((e) => e.attempt === attempt)?.run_id ?? 'missing',
    );

    const result = await relay(['logs', job.id]);

    expect(result.stdout).toBe('first\nsecond\n');
    expect(result.stderr).toBe(
      `--- attempt 1 · run ${first} · retried\n--- attempt 2 · run ${second} · completed (exit 0)\n`,
    );
  });

  it('prints only the given run with --run', async () => {
    const job = await failedOnceThenCompleted();
    const second = (await client.logs(job.queue, job.id)).entries.find((e) => e.attempt === 2);

    const all = await relay(['logs', job.queue, job.id]);
    const one = await relay(['logs', job.queue, job.id, '--run', second?.run_id ?? '']);

    expect(all.stdout).toBe('first\nsecond\n');
    expect(one).toEqual({ code: 0, stdout: 'second\n', stderr: expect.stringMatching(/^--- attempt 2 · /) });
  });

  it('follows a running job’s output with --follow and exits 0 once it completes', async () => {
    const job = await submit(shell(newQueue(), 'for i in 1 2 3; do echo line $i; sleep 0.5; done'));

    const result = await relay(['logs', `${job.queue}/${job.id}`, '--follow']);

    expect(result).toMatchObject({ code: 0, stdout: 'line 1\nline 2\nline 3\n' });
    expect(result.stderr).toMatch(/--- attempt 1 · run (\S+) · completed \(exit 0\)\n$/);
    expect((await client.status(job.queue, job.id)).status).toBe('completed');
  });

  it('exits 1 after following a job that ends dead', async () => {
    const job = await submit(shell(newQueue(), 'echo bye; exit 1', { max_retries: 0 }));

    const result = await relay(['logs', `${job.queue}/${job.id}`, '--follow']);

    expect(result).toMatchObject({ code: 1, stdout: 'bye\n' });
    expect(result.stderr).toMatch(/--- attempt 1 · run \S+ · dead: exited with code 1\n$/);
  });

  it('says a pending pull job has no output, with --follow too, without waiting for it', async () => {
    const job = await client.submit({ queue: newQueue(), payload: null });

    const results = await Promise.all([relay(['logs', job.id]), relay(['logs', job.id, '--follow'])]);

    for (const result of results) {
      expect(result).toMatchObject({ code: 0, stdout: '' });
      expect(result.stderr).toContain(`${job.queue}/${job.id} is a pull job (pending)`);
    }
  });

  it('says it is waiting while a followed managed job has not started', async () => {
    const job = await submit(shell(newQueue(), 'echo late', { delay: 8 }));

    const result = await relay(['logs', job.id, '--follow']);

    expect(result).toMatchObject({ code: 0, stdout: 'late\n' });
    expect(result.stderr).toMatch(
      new RegExp(`^waiting for ${job.queue}/${job.id} to run \\((scheduled|pending)\\)…\n`),
    );
  });

  it('exits 1 with a clear message for an unknown job', async () => {
    const result = await relay(['logs', 'nowhere/nope']);

    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'relay: job with id `nope` not found in queue `nowhere`.\n',
    });
  });
});
