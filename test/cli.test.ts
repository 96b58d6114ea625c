import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

  it('exits 1 with the API’s message for a SHELL job file without a command', async () => {
    const file = await jobFile({
      queue: newQueue(),
      type: 'SHELL',
      payload: { args: ['x'] },
      on_success: { payload: 1 },
    });

    const result = await relay(['submit', file]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^relay: .*payload\.command/);
    expect(result.stdout).toBe('');
  });

  it('exits 1 naming the file when it is not JSON', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{ nope');

    const result = await relay(['submit', file]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`relay: ${file} is not valid JSON`);
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

  it('deletes a dead job', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a');

    const result = await relay(['dlq', 'delete', queue, 'a']);

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
    expect(header).toMatch(/^QUEUE\s+PENDING\s+SCHEDULED\s+RUNNING\s+FAILED\s+DEAD$/);
    expect(row?.split(/\s+/)).toEqual([queue, '1', '0', '0', '0', '0']);
  });

  it('prints the stats JSON with --json', async () => {
    const queue = newQueue();
    await client.submit({ queue, id: 'a', payload: null });

    const result = await relay(['--json', 'stats', queue]);

    expect(JSON.parse(result.stdout)).toEqual({
      queue,
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

  it('exits 2 when dlq requeue gets neither an id nor --all', async () => {
    expect((await relay(['dlq', 'requeue', 'q'])).code).toBe(2);
  });

  it('exits 0 with usage on --help', async () => {
    const result = await relay(['--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: relay');
  });
});

describe('relay dev', () => {
  it('serves the API on the given port and stops cleanly on SIGINT', async () => {
    const port = await freePort();
    const dev = await startDev(['--port', String(port)]);
    try {
      expect(dev.url).toBe(`http://127.0.0.1:${port}`);
      const engines = await childPids(dev.child.pid ?? 0);
      const health = await fetch(`${dev.url}/health`);

      dev.child.kill('SIGINT');
      const exit = await dev.exited;

      expect(health.status).toBe(200);
      expect(engines.length).toBeGreaterThan(0);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(engines.filter(isAlive)).toEqual([]);
    } finally {
      dev.child.kill('SIGKILL');
    }
  });
});
