import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { type Job, type JobPage, RelayClient } from '../functions/sdk/client.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { childPids, isAlive, runCli, startDev } from './support/cli.ts';

let api: TestApi;
let client: RelayClient;
let dir: string;

beforeAll(async () => {
  [api, dir] = await Promise.all([startTestApi(), mkdtemp(path.join(tmpdir(), 'relay-cli-'))]);
  client = new RelayClient({ endpoint: api.url });
});

afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

const newQueue = () => `q-${randomUUID()}`;

/** The CLI against the test API. */
const relay = (args: readonly string[], input?: string) =>
  runCli(['--endpoint', api.url, ...args], { input });

/** Writes a job file and returns its path. */
async function jobFile(content: unknown): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.json`);
  await writeFile(file, JSON.stringify(content));
  return file;
}

/** A job that has run and failed for good. */
async function deadJob(queue: string, id: string): Promise<void> {
  await client.submit({ queue, id, payload: null });
  const [claimed] = await client.claim(queue);
  await client.fail(queue, id, { error: 'boom', runId: claimed?.run_id, retry: false });
}

describe.concurrent('relay submit', () => {
  it('submits a job file and prints the created job', async () => {
    const queue = newQueue();
    const file = await jobFile({ queue, id: 'a', payload: { to: 'x' }, backoff: 'exponential', timeout: 60 });

    const result = await relay(['submit', file]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^id\s+a$/m);
    expect(result.stdout).toMatch(/^status\s+pending$/m);
    expect(await client.status(queue, 'a')).toMatchObject({ payload: { to: 'x' }, timeout: 60 });
  });

  it('submits a job read from stdin with -', async () => {
    const queue = newQueue();

    const result = await relay(['--json', 'submit', '-'], JSON.stringify({ queue, payload: [1, 2] }));

    expect(result.code).toBe(0);
    const job = JSON.parse(result.stdout) as Job;
    expect(job).toMatchObject({ queue, payload: [1, 2], status: 'pending' });
    expect(await client.status(queue, job.id)).toMatchObject({ payload: [1, 2] });
  });

  it('exits 2 with the API’s message for a SHELL job file without a command', async () => {
    const file = await jobFile({
      queue: newQueue(),
      type: 'SHELL',
      payload: { args: ['x'] },
      on_success: { payload: 1 },
    });

    const result = await relay(['submit', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^relay: .*payload\.command/);
    expect(result.stdout).toBe('');
  });

  it('exits 2 naming the file when it is not JSON', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{ nope');

    const result = await relay(['submit', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`relay: ${file} is not valid JSON`);
  });
});

describe.concurrent('relay submit: job file errors', () => {
  it('exits 2 naming a job file that does not exist', async () => {
    const file = path.join(dir, 'missing.json');

    const result = await relay(['submit', file]);

    expect(result).toMatchObject({ code: 2, stdout: '', stderr: `relay: no job file ${file}\n` });
  });

  it('exits 2 with a hint for a near-miss field', async () => {
    const file = await jobFile({
      queue: newQueue(),
      payload: 1,
      retries: 3,
      on_success: { payload: 2, prority: 1 },
    });

    const result = await relay(['submit', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown field retries: did you mean max_retries?');
    expect(result.stderr).toContain('unknown field on_success.prority: did you mean on_success.priority?');
  });

  it('gives no hint for a field like no known one', async () => {
    const file = await jobFile({ queue: newQueue(), payload: 1, colour: 'red' });

    const result = await relay(['submit', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('did you mean');
  });
});

describe.concurrent('naming a job by its bare id', () => {
  it('finds the one queue that has the id, for status, cancel and retry', async () => {
    const [queue, id] = [newQueue(), randomUUID()];
    await client.submit({ queue, id, payload: null });

    const status = await relay(['--json', 'status', id]);
    const cancel = await relay(['--json', 'cancel', id]);
    const retry = await relay(['--json', 'retry', id]);

    expect(JSON.parse(status.stdout)).toMatchObject({ queue, id, status: 'pending' });
    expect(JSON.parse(cancel.stdout)).toMatchObject({ queue, id, status: 'cancelled' });
    expect(JSON.parse(retry.stdout)).toMatchObject({ queue, id, status: 'pending' });
  });

  it('requeues and deletes a dead job given by its bare id', async () => {
    const [queue, id, other] = [newQueue(), randomUUID(), randomUUID()];
    await deadJob(queue, id);
    await deadJob(queue, other);

    const requeue = await relay(['dlq', 'requeue', id]);
    const remove = await relay(['dlq', 'delete', other, '--yes']);

    expect([requeue.code, remove.code]).toEqual([0, 0]);
    expect(await client.status(queue, id)).toMatchObject({ status: 'pending' });
    expect(await client.dlqList(queue)).toMatchObject({ jobs: [] });
  });

  it('exits 2 naming every queue that has the id', async () => {
    const [first, second, id] = [newQueue(), newQueue(), randomUUID()];
    await client.submit({ queue: first, id, payload: null });
    await client.submit({ queue: second, id, payload: null });

    const result = await relay(['cancel', id]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`job id \`${id}\` is in 2 queues`);
    expect(result.stderr).toContain(first);
    expect(result.stderr).toContain(second);
    expect(result.stderr).toContain('give <queue>/<id>');
    expect((await client.status(first, id)).status).toBe('pending');
  });

  it('exits 1 when no queue has the id', async () => {
    const id = randomUUID();

    const result = await relay(['status', id]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^relay: no job with id \`${id}\` in any queue`));
  });
});

describe.concurrent('relay status', () => {
  it('prints a job as a table', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: { n: 1 } });

    const result = await relay(['status', queue, 'a']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^queue\s+q-/m);
    expect(result.stdout).toMatch(/^payload\s+\{"n":1\}$/m);
  });

  it('prints the API’s JSON with --json', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: { n: 1 } });

    const result = await relay(['status', queue, 'a', '--json']);

    expect(JSON.parse(result.stdout)).toEqual(await client.status(queue, 'a'));
  });

  it('accepts the job as <queue>/<id>', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a/b', payload: null });

    const result = await relay(['--json', 'status', `${queue}/a/b`]);

    expect(JSON.parse(result.stdout)).toMatchObject({ queue, id: 'a/b' });
  });

  it('exits 1 with a clear message for an unknown job', async () => {
    const result = await relay(['status', 'nowhere', 'nope']);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('relay: job with id `nope` not found in queue `nowhere`.\n');
  });

  it('exits 1 naming the endpoint when nothing answers there', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;

    const result = await runCli(['--endpoint', endpoint, 'status', 'q', 'a']);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`relay: cannot reach Relay at ${endpoint}: ECONNREFUSED\n`);
  });

  it('reads the endpoint from RELAY_URL', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await runCli(['--json', 'status', queue, 'a'], { env: { RELAY_URL: api.url } });

    expect(JSON.parse(result.stdout)).toMatchObject({ id: 'a' });
  });
});

describe.concurrent('relay list', () => {
  it('lists the jobs of a queue and status as --json', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'now', payload: null });
    await client.submit({ queue, id: 'later', payload: null, delay: 3600 });

    const result = await relay(['list', '--queue', queue, '--status', 'scheduled', '--json']);

    expect(result.code).toBe(0);
    const page = JSON.parse(result.stdout) as JobPage;
    expect(page.jobs.map((j) => j.id)).toEqual(['later']);
  });

  it('prints one aligned row per job under a header', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    await client.submit({ queue, id: 'bb', payload: null });

    const result = await relay(['list', '--queue', queue]);

    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^QUEUE\s+ID\s+STATUS\s+ATTEMPTS/);
    expect(rows).toHaveLength(2);
    const statusColumn = header?.indexOf('STATUS');
    for (const row of rows) expect(row.slice(statusColumn).startsWith('pending')).toBe(true);
  });

  it('fits 100 columns, shows when each job was created, and lists them newest first', async () => {
    const queue = newQueue();
    const error = 'x'.repeat(300);
    for (const id of ['first', 'second']) {
      await client.submit({ queue, id, payload: null });
      const [claimed] = await client.claim(queue);
      await client.fail(queue, id, { error, runId: claimed?.run_id, retry: false });
    }

    const result = await relay(['list', '--queue', queue]);

    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^QUEUE\s+ID\s+STATUS\s+ATTEMPTS\s+CREATED\s+LAST ERROR$/);
    for (const line of [header, ...rows]) expect(line?.length).toBeLessThanOrEqual(100);
    expect(rows.map((row) => row.split(/\s+/)[1])).toEqual(['second', 'first']);
    expect(rows.map((row) => row.split(/\s+/)[4])).toEqual([
      expect.stringMatching(/^(just|\d+s)$/),
      expect.stringMatching(/^(just|\d+s)$/),
    ]);
    expect(rows[0]).toMatch(/xxx…$/);
  });

  it('shows when a scheduled job runs', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'later', payload: null, delay: 3600 });

    const result = await relay(['list', '--queue', queue]);

    expect(result.stdout).toMatch(/scheduled in (59m|1h)/);
  });

  it('prints the cursor of the next page', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b']) await client.submit({ queue, id, payload: null });

    const first = await relay(['list', '--queue', queue, '--limit', '1']);
    const cursor = /--cursor (\S+)/.exec(first.stdout)?.[1] ?? '';
    const second = await relay(['--json', 'list', '--queue', queue, '--limit', '1', '--cursor', cursor]);

    expect((JSON.parse(second.stdout) as JobPage).jobs).toHaveLength(1);
  });
});

describe.concurrent('relay retry and cancel', () => {
  it('cancels a job', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['cancel', queue, 'a']);

    expect(result.code).toBe(0);
    expect(await client.status(queue, 'a')).toMatchObject({ status: 'cancelled' });
  });

  it('retries a cancelled job', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    await client.cancel(queue, 'a');

    const result = await relay(['--json', 'retry', queue, 'a']);

    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'pending' });
  });

  it('exits 1 with the API’s message for a transition the job’s status forbids', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['retry', queue, 'a']);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('relay: cannot retry job with status: pending\n');
  });
});

describe.concurrent('relay dlq', () => {
  it('lists the dead jobs of a queue', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');

    const result = await relay(['--json', 'dlq', 'list', queue]);

    expect((JSON.parse(result.stdout) as JobPage).jobs.map((j) => [j.id, j.status])).toEqual([['a', 'dead']]);
  });

  it('says so when a queue has no dead jobs', async () => {
    const queue = newQueue();

    const result = await relay(['dlq', 'list', queue]);

    expect(result.stdout).toBe(`no dead jobs in ${queue}\n`);
  });

  it('requeues one dead job', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');

    const result = await relay(['dlq', 'requeue', queue, 'a']);

    expect(result.code).toBe(0);
    expect(await client.status(queue, 'a')).toMatchObject({ status: 'pending' });
  });

  it('requeues every dead job with --all', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');
    await deadJob(queue, 'b');

    const result = await relay(['dlq', 'requeue', queue, '--all']);

    expect(result.stdout).toBe(`requeued 2 dead job(s) in ${queue}\n`);
    expect(await client.stats(queue)).toMatchObject({ pending: 2, dead: 0 });
  });

  it('refuses to delete without a terminal to ask on, unless given --yes', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');

    const result = await relay(['dlq', 'delete', queue, 'a']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    expect(await client.dlqList(queue)).toMatchObject({ jobs: [{ id: 'a' }] });
  });

  it('deletes a dead job with --yes', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');

    const result = await relay(['dlq', 'delete', queue, 'a', '--yes']);

    expect(result.code).toBe(0);
    expect(await client.dlqList(queue)).toMatchObject({ jobs: [] });
  });
});

describe.concurrent('relay stats and queues', () => {
  it('prints a queue’s counts by status', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['stats', queue]);

    const [header, row] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^QUEUE\s+STATE\s+AGING\s+RATE:BURST\s+MAX\s+PENDING\s+SCHEDULED\s+RUNNING\s+FAILED\s+DEAD$/,
    );
    expect(row?.split(/\s+/)).toEqual([queue, 'running', 'off', 'off', 'off', '1', '0', '0', '0', '0']);
  });

  it('exits 1 saying so for a queue that does not exist', async () => {
    const queue = newQueue();

    const result = await relay(['stats', queue]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^relay: no queue named \`${queue}\``));
    expect(result.stdout).toBe('');
  });

  it('prints the stats JSON with --json', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['--json', 'stats', queue]);

    expect(JSON.parse(result.stdout)).toEqual({
      queue,
      paused: false,
      paused_at: null,
      aging_seconds_per_level: null,
      rate_per_second: null,
      burst: null,
      max_running: null,
      pending: 1,
      scheduled: 0,
      running: 0,
      failed: 0,
      dead: 0,
    });
  });

  it('lists queues', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['--json', 'queues']);

    const { queues } = JSON.parse(result.stdout) as { queues: { name: string }[] };
    expect(queues.map((q) => q.name)).toContain(queue);
  });
});

describe.concurrent('relay pause, resume, aging and limits', () => {
  it('pauses a queue: claims get nothing, and queues and stats show it paused', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['pause', queue]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^${queue} paused \\(since .+\\), aging off$`, 'm'));
    expect(await client.claim(queue)).toEqual([]);
    const listed = await relay(['queues']);
    expect(listed.stdout).toMatch(
      new RegExp(`^${queue}\\s+paused\\s+priority\\s+4\\s+off\\s+off\\s+off\\s+1\\s`, 'm'),
    );
    const stats = await relay(['--json', 'stats', queue]);
    expect(JSON.parse(stats.stdout)).toMatchObject({ queue, paused: true, pending: 1 });
  });

  it('resumes a paused queue, whose job is claimed again', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });
    await relay(['pause', queue]);

    const result = await relay(['--json', 'resume', queue]);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: queue, paused: false, paused_at: null });
    expect((await client.claim(queue)).map((job) => job.id)).toEqual(['a']);
  });

  it('sets and clears a queue’s aging rate', async () => {
    const queue = newQueue();

    const set = await relay(['aging', queue, '30']);
    expect(set.stdout).toMatch(new RegExp(`^${queue} running, aging 30s/level$`, 'm'));
    expect(await client.stats(queue)).toMatchObject({ aging_seconds_per_level: 30 });

    const off = await relay(['aging', queue, 'off']);
    expect(off.stdout).toMatch(/aging off$/m);
  });

  it('sets, shows and clears a queue’s rate limit, which claims then meet', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b']) await client.submit({ queue, id, payload: null });

    const set = await relay(['limits', queue, '--rate', '0.1', '--burst', '1']);
    expect(set).toMatchObject({ code: 0, stdout: `${queue} rate 0.1/s, burst 1, max running off\n` });
    expect(await client.claim(queue, 2)).toHaveLength(1);
    expect(await client.claim(queue, 2)).toEqual([]);
    expect((await relay(['limits', queue])).stdout).toBe(`${queue} rate 0.1/s, burst 1, max running off\n`);
    const listed = await relay(['stats', queue]);
    expect(listed.stdout).toMatch(new RegExp(`^${queue}\\s+running\\s+off\\s+0.1/s:1\\s+off\\s`, 'm'));

    const cleared = await relay(['--json', 'limits', queue, '--clear']);
    expect(JSON.parse(cleared.stdout)).toEqual({
      queue,
      rate_per_second: null,
      burst: null,
      max_running: null,
    });
  });

  it('sets a queue’s max running, which claims then meet', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b']) await client.submit({ queue, id, payload: null });

    const set = await relay(['limits', queue, '--max-running', '1']);
    expect(set).toMatchObject({ code: 0, stdout: `${queue} rate off, max running 1\n` });
    expect(await client.claim(queue, 2)).toHaveLength(1);
    expect(await client.claim(queue, 2)).toEqual([]);
  });

  it.each([
    [['--rate', 'fast'], '--rate must be a positive number'],
    [['--burst', '0'], '--burst must be a positive number'],
    [['--clear', '--rate', '1'], '--clear removes every limit'],
    [['--max-running', 'many'], '--max-running must be a positive number'],
  ])('exits 2 on limits %j', async (args, message) => {
    const result = await relay(['limits', newQueue(), ...args]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('exits 1 with the API’s reason on a burst that is not whole', async () => {
    const result = await relay(['limits', newQueue(), '--rate', '1', '--burst', '1.5']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('burst must be a whole number');
  });

  it('exits 2 on an aging rate that is not a positive number or off', async () => {
    const result = await relay(['aging', newQueue(), 'soon']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('aging must be a positive number of seconds or `off`');
  });
});

describe.concurrent('relay usage errors', () => {
  it('exits 2 on an unknown command', async () => {
    const result = await relay(['frobnicate']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 on a missing argument', async () => {
    expect((await relay(['stats'])).code).toBe(2);
  });

  it('exits 2 on an unknown status filter', async () => {
    expect((await relay(['list', '--status', 'sleeping'])).code).toBe(2);
  });

  it('exits 2 when dlq requeue gets a job and --all', async () => {
    expect((await relay(['dlq', 'requeue', 'q', 'a', '--all'])).code).toBe(2);
  });

  it('exits 2 when dlq requeue gets --limit without --all', async () => {
    expect((await relay(['dlq', 'requeue', 'q/a', '--limit', '5'])).code).toBe(2);
  });

  it('prints errors as JSON on stderr with --json, API errors and usage errors alike', async () => {
    const missing = await relay(['--json', 'status', 'nowhere', 'nope']);
    const unknown = await relay(['--json', 'frobnicate']);
    const usage = await relay(['submit', '-', '--timeout', '5', '--json']);

    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({
      error: {
        code: 'job_not_found',
        message: 'job with id `nope` not found in queue `nowhere`.',
        status: 404,
        exit_code: 1,
      },
    });
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: { code: 'usage', exit_code: 2 } });
    expect(JSON.parse(unknown.stderr).error.message).toContain("unknown command 'frobnicate'");
    expect(JSON.parse(usage.stderr)).toMatchObject({
      error: { message: '--timeout needs --wait', exit_code: 2 },
    });
  });

  it('prints the version with --version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));

    const result = await relay(['--version']);

    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('lists the global options and examples in a subcommand’s help', async () => {
    const result = await relay(['retry', '--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Global Options:[\s\S]*--endpoint <url>[\s\S]*--json/);
    expect(result.stdout).toMatch(/Examples:\n\s+\$ relay retry report-1/);
  });

  it('lists dlq delete in the help of dlq', async () => {
    const result = await relay(['dlq', '--help']);

    expect(result.stdout).toMatch(/^\s+delete \[options\] <job> \[id\]\s+delete a dead job/m);
  });

  it('exits 0 with usage on --help', async () => {
    const result = await relay(['--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: relay');
  });
});

describe('relay completion', () => {
  /** What bash completes after `words`, with the script `relay completion bash` printed. */
  async function complete(words: string[]): Promise<string[]> {
    const script = (await relay(['completion', 'bash'])).stdout;
    const line = `COMP_WORDS=(relay ${words.join(' ')}); COMP_CWORD=${words.length}; _relay; echo "\${COMPREPLY[*]}"`;
    const { stdout } = await promisify(execFile)('bash', ['-c', `${script}\n${line}`]);
    return stdout.trim().split(' ');
  }

  it('completes commands, subcommands and options in bash', async () => {
    expect(await complete(['dl'])).toEqual(['dlq']);
    expect(await complete(['dlq', 're'])).toEqual(['requeue']);
    expect(await complete(['dlq', 'delete', '--y'])).toEqual(['--yes']);
    expect(await complete(['--json', 'logs', '--f'])).toEqual(['--follow']);
  });

  it('prints a zsh script that loads the bash one', async () => {
    const result = await relay(['completion', 'zsh']);

    expect(result.stdout).toMatch(/^#compdef relay\nautoload -U \+X bashcompinit && bashcompinit\n/);
  });

  it('exits 2 for a shell it does not know', async () => {
    expect((await relay(['completion', 'fish'])).code).toBe(2);
  });
});

describe('relay dev', () => {
  it('exits 2 when it cannot bind the address it was given', async () => {
    const result = await runCli([
      '--token',
      't',
      'dev',
      '--host',
      '203.0.113.5',
      '--port',
      String(await freePort()),
    ]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('203.0.113.5 is not an address of this machine');
  });

  it('serves the API and the dashboard on the given port and stops cleanly on SIGINT', async () => {
    const port = await freePort();
    const dev = await startDev(['--port', String(port)]);
    try {
      expect(dev.url).toBe(`http://127.0.0.1:${port}`);
      const engines = await childPids(dev.child.pid ?? 0);
      const health = await fetch(`${dev.url}/health`);
      const page = await fetch(`${dev.url}/dashboard/`);
      const script = await fetch(`${dev.url}/dashboard/app.js`);

      dev.child.kill('SIGINT');
      const exit = await dev.exited;

      expect(health.status).toBe(200);
      expect(dev.output()).toContain(`Dashboard: ${dev.url}/dashboard/`);
      expect(await page.text()).toContain('<title>Relay</title>');
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(engines.length).toBeGreaterThan(0);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(engines.filter(isAlive)).toEqual([]);
    } finally {
      dev.child.kill('SIGKILL');
    }
  });
});
