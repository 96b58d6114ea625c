/**
 * A managed job's command is untrusted: run on every executor shape there is here, a hostile
 * command must find no credential, token or setting of Relay's, and leave nothing behind.
 *
 * - the local stack (`relay dev`): the server keeps each run's books and starts its command;
 * - inline on AWS: the dispatcher keeps the books, the command runs on the executor Lambda (here a
 *   sandbox process behind a stand-in for Lambda's `InvokeWithResponseStream`);
 * - the Fargate runner program (`dist/runner.mjs --job`), which a task runs as root.
 *
 * A canary secret is planted where Relay keeps its own (the server's, dispatcher's and runner's
 * environments, the task credentials variable) and must never appear in what the command saw.
 * Separation between users needs root: that is how CI, the runner container and `relay dev` in a
 * container run. Without root the local stack runs commands as the user who started it, who owns
 * everything it could read anyway (docs/design.md, "Threat model").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../functions/core/clients.ts';
import { Env } from '../functions/core/env.ts';
import { inlineExecutor } from '../functions/dispatch/executors.ts';
import type { Job, LogEntry, NewJob } from '../functions/jobs/model.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { startLocalExecutor } from '../functions/local/executor.ts';
import { type LambdaStandIn, startLambdaStandIn } from './support/lambda-service.ts';
import { freshStore, type TestStore } from './support/store.ts';

const root = process.getuid?.() === 0;
const CANARY = `canary-${randomUUID()}`;
const RUNNER = path.resolve('dist/runner.mjs');
const CLI = path.resolve('dist/relay.mjs');

/**
 * Reads every environment it can reach: each ancestor's, PID 1's, every process's, its own, and
 * the task credentials variable. Each probe prints a marker, so a test can tell it ran.
 */
const HOSTILE = `
echo "probe: uid=$(id -u)"
p=$PPID
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
  echo "probe: ancestor $p"
  tr '\\0' '\\n' < /proc/$p/environ 2>&1
  p=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f2)
done
echo "probe: pid 1"
tr '\\0' '\\n' < /proc/1/environ 2>&1
echo "probe: every process"
for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f" 2>/dev/null; done
echo "probe: own"
env
echo "probe: task credentials [$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI]"
echo "probe: done"
`;

const hostileJob = (id: string, extra: Partial<NewJob> = {}): NewJob => ({
  queue: 'hostile',
  id,
  type: 'SHELL',
  payload: { command: '/bin/sh', args: ['-c', HOSTILE] },
  timeout: 30,
  max_retries: 0,
  ...extra,
});

/** What the command printed, from the job's stored log. */
async function outputOf(store: JobStore, queue: string, id: string): Promise<string> {
  const entries: LogEntry[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.readLogs(queue, id, { after, limit: 1000 });
    if (!page.items.length) break;
    entries.push(...page.items);
    after = page.cursor ?? undefined;
  }
  return entries.map((e) => e.text).join('');
}

/** Every live process of `uid` (zombies are dead already, waiting to be reaped), from /proc. */
function processesOf(uid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        return new RegExp(`^Uid:\\s+${uid}\\b`, 'm').test(status) && !/^State:\s+[ZX]/m.test(status);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Runs the runner program on a claimed job, as a Fargate task runs it, with `env` added. */
function runRunner(fresh: TestStore, job: Job, env: NodeJS.ProcessEnv): Promise<number | null> {
  const child = spawn(process.execPath, [RUNNER, '--job', job.queue, job.id, String(job.run_id)], {
    env: {
      PATH: process.env.PATH,
      [Env.TABLE_NAME]: fresh.config.tableName,
      [Env.DYNAMODB_ENDPOINT]: fresh.config.dynamodbEndpoint,
      RELAY_LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: 'ignore',
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe.runIf(root)(
  'a hostile command, with Relay running as root (as in CI and the runner container)',
  () => {
    let fresh: TestStore;
    let lambda: LambdaStandIn;
    const dev: ChildProcess[] = [];

    beforeAll(async () => {
      fresh = await freshStore();
      lambda = await startLambdaStandIn({
        firstUid: 1_990_100_000,
        // What Lambda puts in a sandbox: the executor role's credentials, which grant nothing.
        env: { AWS_ACCESS_KEY_ID: 'ASIAEXECUTORROLE', AWS_SECRET_ACCESS_KEY: 'executor-role-grants-nothing' },
      });
    });
    afterAll(async () => {
      await lambda?.stop();
      for (const child of dev) child.kill('SIGKILL');
    });

    const claimed = async (job: NewJob) => {
      await fresh.store.enqueue(job);
      return (await fresh.store.claimById(job.queue, job.id)) as Job;
    };

    it('on the Fargate runner program, reads nothing of the runner, PID 1 or the task credentials', async () => {
      const job = await claimed(hostileJob('fargate'));
      const code = await runRunner(fresh, job, {
        [Env.COMMAND_USER]: '1990000001:1990000001',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: `/v2/credentials/${CANARY}`,
        AWS_SECRET_ACCESS_KEY: CANARY,
        RELAY_TOKEN: CANARY,
      });
      const output = await outputOf(fresh.store, job.queue, job.id);

      expect(code).toBe(0);
      expect(output).toContain('probe: uid=1990000001');
      expect(output).toContain('probe: done');
      expect(output).toContain('probe: task credentials []');
      expect(output).not.toContain(CANARY);
      expect(await fresh.store.get(job.queue, job.id)).toMatchObject({ status: 'completed' });
    });

    it('inline on the executor Lambda, reads nothing of the dispatcher that keeps its books', async () => {
      const job = await claimed(hostileJob('inline'));
      // The dispatcher runs in a process of its own, started with the canary among its settings.
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            path.resolve('test/support/inline-dispatch.ts'),
            job.queue,
            job.id,
            String(job.run_id),
          ],
          {
            env: {
              PATH: process.env.PATH,
              [Env.TABLE_NAME]: fresh.config.tableName,
              [Env.DYNAMODB_ENDPOINT]: fresh.config.dynamodbEndpoint,
              [Env.EXECUTOR_FUNCTION]: 'relay-executor',
              RELAY_TEST_LAMBDA_ENDPOINT: lambda.endpoint,
              AWS_SECRET_ACCESS_KEY: CANARY,
              RELAY_TOKEN: CANARY,
              RELAY_LOG_LEVEL: 'silent',
            },
            stdio: 'inherit',
          },
        );
        child.once('exit', (c) => resolve(c));
      });
      const output = await outputOf(fresh.store, job.queue, job.id);

      expect(code).toBe(0);
      expect(output).toContain('probe: done');
      expect(output).toMatch(/probe: uid=1990100\d\d\d/);
      expect(output).not.toContain(CANARY);
      expect(await fresh.store.get(job.queue, job.id)).toMatchObject({ status: 'completed' });
    });

    it('in the local stack, reads nothing of the server that started it or of another run', async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [CLI, 'dev', '--port', String(port)], {
        env: {
          PATH: process.env.PATH,
          RELAY_TOKEN: CANARY,
          AWS_SECRET_ACCESS_KEY: CANARY,
          RELAY_LOG_LEVEL: 'silent',
        },
        stdio: 'ignore',
      });
      dev.push(child);
      const url = `http://127.0.0.1:${port}`;
      const headers = { authorization: `Bearer ${CANARY}`, 'content-type': 'application/json' };
      await expect
        .poll(
          () =>
            fetch(`${url}/health`, { headers }).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 45_000 },
        )
        .toBe(200);
      const submitted = await fetch(`${url}/v1/managed/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          queue: 'hostile',
          id: 'local',
          payload: hostileJob('local').payload,
          max_retries: 0,
        }),
      });
      expect(submitted.status).toBe(201);
      await expect
        .poll(
          async () =>
            ((await (await fetch(`${url}/v1/queues/hostile/jobs/local/status`, { headers })).json()) as Job)
              .status,
          { timeout: 30_000 },
        )
        .toBe('completed');
      const logs = (await (
        await fetch(`${url}/v1/queues/hostile/jobs/local/logs?limit=1000`, { headers })
      ).json()) as {
        entries: LogEntry[];
      };
      const output = logs.entries.map((e) => e.text).join('');

      expect(output).toMatch(/probe: uid=2000000\d\d\d/);
      expect(output).toContain('probe: done');
      expect(output).not.toContain(CANARY);
    });

    it('leaves no process behind in a reused executor sandbox, not even one started with setsid', async () => {
      const job = await claimed(
        hostileJob('leftover', {
          payload: {
            command: '/bin/sh',
            args: ['-c', 'setsid sleep 300 > /dev/null 2>&1 < /dev/null & echo started'],
          },
        }),
      );
      const lambdaClient = new LambdaClient({ ...awsClientConfig(lambda.endpoint) });
      await inlineExecutor({
        store: fresh.store,
        executor: { lambda: lambdaClient, functionName: 'relay-executor' },
      })(job);
      const sandbox = lambda.sandboxes.find((s) => s.process.exitCode === null && !s.busy);

      expect(await outputOf(fresh.store, job.queue, job.id)).toContain('started');
      expect(sandbox?.uid).toBeTypeOf('number');
      // Only the sandbox itself is left of its user: the sleeper went with its run.
      expect(processesOf(sandbox?.uid as number)).toEqual([sandbox?.process.pid]);
      lambdaClient.destroy();
    });

    it('leaves no process behind after a run of the runner program, not even one started with setsid', async () => {
      const job = await claimed(
        hostileJob('runner-leftover', {
          payload: {
            command: '/bin/sh',
            args: ['-c', 'setsid sleep 300 > /dev/null 2>&1 < /dev/null & echo started'],
          },
        }),
      );
      const code = await runRunner(fresh, job, { [Env.COMMAND_USER]: '1990000002:1990000002' });

      expect(code).toBe(0);
      expect(await outputOf(fresh.store, job.queue, job.id)).toContain('started');
      await expect.poll(() => processesOf(1_990_000_002)).toEqual([]);
    });

    it('lets a later run, as another uid of the same group, change what an earlier run wrote', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'relay-shared-'));
      chmodSync(dir, 0o777);
      const file = path.join(dir, 'shared.log');
      const appends = ['first', 'second'].map((word) =>
        hostileJob(`shared-${word}`, {
          payload: { command: '/bin/sh', args: ['-c', `echo ${word} >> ${file}`] },
        }),
      );
      const codes: (number | null)[] = [];
      for (const [i, job] of appends.entries()) {
        const uid = 1_990_000_010 + i;
        codes.push(await runRunner(fresh, await claimed(job), { [Env.COMMAND_USER]: `${uid}:1990000000` }));
      }

      expect(codes).toEqual([0, 0]);
      expect(readFileSync(file, 'utf8')).toBe('first\nsecond\n');
      rmSync(dir, { recursive: true, force: true });
    });

    it("cannot stop its runner: the run still ends with the command's own exit code", async () => {
      const job = await claimed(
        hostileJob('killer', {
          payload: { command: '/bin/sh', args: ['-c', 'kill -9 $PPID; echo "kill: $?"; exit 3'] },
        }),
      );
      const code = await runRunner(fresh, job, { [Env.COMMAND_USER]: '1990000003:1990000003' });

      expect(code).toBe(1);
      expect(await outputOf(fresh.store, job.queue, job.id)).toMatch(/kill: [^0]/);
      expect(await fresh.store.get(job.queue, job.id)).toMatchObject({
        status: 'dead',
        result: { exit_code: 3 },
      });
    });
  },
);

describe('a command of the local stack, started by the stack itself', () => {
  let fresh: TestStore;
  const planted = { RELAY_TOKEN: CANARY, AWS_SECRET_ACCESS_KEY: CANARY, AWS_PROFILE: CANARY };
  const before = Object.fromEntries(Object.keys(planted).map((name) => [name, process.env[name]]));
  beforeAll(async () => {
    fresh = await freshStore();
    // As if the stack had been started with them: the command must see none.
    Object.assign(process.env, planted);
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fresh?.dispose();
  });

  it("gets PATH, a HOME and its job's env, and nothing of the stack's settings or credentials", async () => {
    const job: NewJob = {
      queue: 'env',
      id: 'printenv',
      type: 'SHELL',
      payload: { command: '/usr/bin/env', env: { GREETING: 'hello' } },
      timeout: 30,
      max_retries: 0,
    };
    await fresh.store.enqueue(job);
    const claimed = (await fresh.store.claimById(job.queue, job.id)) as Job;
    // As root, uids no other test hands out.
    const executor = await startLocalExecutor({
      store: fresh.store,
      env: { [Env.COMMAND_USER]: '2000007610-2000007619' },
    });

    await executor.execute(claimed);
    await expect.poll(async () => (await fresh.store.get(job.queue, job.id))?.status).toBe('completed');
    const output = await outputOf(fresh.store, job.queue, job.id);
    await executor.stop();

    const names = output
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(0, line.indexOf('=')));
    expect(names.sort()).toEqual(['GREETING', 'HOME', 'PATH']);
    expect(output).toContain('GREETING=hello');
    expect(output).not.toContain(CANARY);
  });
});
