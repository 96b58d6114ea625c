/**
 * `relay dev` is safe to leave running: it listens on loopback only, a start that cannot succeed
 * exits at once and leaves nothing behind, and however it ends (SIGINT, SIGTERM to `npm start`,
 * SIGKILL) its processes end with it, and the runs it was executing are given back or retried,
 * never run beside their orphans.
 *
 * Each test runs the built CLI as a user would, with real DynamoDB Local JVMs, so they share the
 * stacks they start where they can.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { documentClient } from '../functions/core/clients.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { freePort, startDynamoDbLocal } from '../functions/local/dynamodb-local.ts';
import { LOCAL_TABLE } from '../functions/local/stack.ts';
import {
  CLI,
  childPids,
  type DevOptions,
  type DevProcess,
  isAlive,
  ROOT,
  runCli,
  startDev,
} from './support/cli.ts';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const started: ChildProcess[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const child of started) {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
  }
  for (const dir of dirs) {
    for (const pid of processesWith(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function dev(args: string[], options: DevOptions = {}): Promise<DevProcess> {
  const stack = await startDev(args, options);
  started.push(stack.child);
  return stack;
}

/** Pids of live processes whose command line contains `text` (the JVM names its data dir, a run its command). */
function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (/^State:\s+[ZX]/m.test(readFileSync(`/proc/${name}/status`, 'utf8'))) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) {
        pids.push(Number(name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Whether something accepts a TCP connection at `host:port` within a second. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Whether this process could listen on 127.0.0.1:`port` now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** An IPv4 or IPv6 address as /proc/net/tcp{,6} writes it (32-bit words in host byte order, little-endian here). */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return '::1';
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6. */
function listenersOn(port: number): string[] {
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A: LISTEN
      const [address = '', hexPort = ''] = local.split(':');
      if (Number.parseInt(hexPort, 16) === port) found.push(procAddress(address));
    }
  }
  return found;
}

const isLoopback = (address: string) => /^(::ffff:)?127\./.test(address) || address === '::1';

/** This machine's addresses other than loopback. */
const outsideAddresses = () =>
  Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && !i.address.startsWith('fe80'))
    .map((i) => i?.address as string);

const portOf = (url: string) => Number(new URL(url).port);

/** The ports the stack printed: the API, DynamoDB Local, fauxqs. */
function stackPorts(output: string): number[] {
  const urls = [...output.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0]);
  return [...new Set(urls.slice(0, 3).map(portOf))];
}

const jvmOf = async (dev: DevProcess) =>
  (await childPids(dev.child.pid ?? 0)).filter((pid) =>
    readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('DynamoDbLocalLauncher'),
  );

describe('relay dev listening', () => {
  let stack: DevProcess;

  it('binds the API, DynamoDB Local and fauxqs to loopback only', async () => {
    stack = await dev(['--port', String(await freePort())]);
    const ports = stackPorts(stack.output());
    expect(ports).toHaveLength(3);

    // Evidence 1: every socket listening on those ports is bound to a loopback address.
    for (const port of ports) {
      expect(listenersOn(port).length).toBeGreaterThan(0);
      expect(listenersOn(port).filter((address) => !isLoopback(address))).toEqual([]);
    }
    // Evidence 2: nothing answers on this machine's other addresses (when it has any).
    const reachable: string[] = [];
    for (const address of outsideAddresses()) {
      for (const port of ports) if (await accepts(address, port)) reachable.push(`[${address}]:${port}`);
    }
    expect(reachable).toEqual([]);
    for (const port of ports) expect(await accepts('127.0.0.1', port)).toBe(true);
  });

  it('takes DynamoDB Local with it when node is killed with SIGKILL', async () => {
    const [jvm] = await jvmOf(stack);
    expect(jvm).toBeDefined();

    stack.child.kill('SIGKILL');
    await stack.exited;

    await expect.poll(() => isAlive(jvm as number), { timeout: 5_000, interval: 100 }).toBe(false);
    for (const port of stackPorts(stack.output())) expect(await portFree(port)).toBe(true);
  });
});

describe('relay dev that cannot start', () => {
  it('exits 2 within seconds with one line when the port is busy, starting nothing', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const dataDir = tempDir('relay-busy-');
    try {
      const startedAt = Date.now();
      const result = await runCli(['dev', '--port', String(port), '--data-dir', dataDir]);

      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `relay dev: port ${port} is already in use on 127.0.0.1: stop what listens there, or pick another port with --port or RELAY_PORT\n`,
      );
      expect(processesWith(dataDir)).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it('exits 2 with one line naming what is missing when Java is not on the PATH, starting nothing', async () => {
    const port = await freePort();
    const result = await runCli(['dev', '--port', String(port)], { env: { PATH: '/relay/no/java' } });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^relay dev: Java is missing: .*JDK 17.*\n$/);
    expect(result.stdout).toBe('');
    expect(await portFree(port)).toBe(true);
  });

  it('exits 2 with one line when RELAY_ALLOWED_HOSTS is not a list of host names, starting nothing', async () => {
    const port = await freePort();
    const result = await runCli(['dev', '--port', String(port)], {
      env: { RELAY_ALLOWED_HOSTS: 'http://evil.example.com/' },
    });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^relay dev: .*RELAY_ALLOWED_HOSTS.*\n$/);
    expect(await portFree(port)).toBe(true);
  });

  it('stops what it had started when a later step fails, and exits', async () => {
    const port = await freePort();
    const dataDir = tempDir('relay-fail-');
    // DynamoDB Local refuses a one-letter table name: the start fails after both emulators are up.
    const result = await runCli(['dev', '--port', String(port), '--data-dir', dataDir], {
      env: { RELAY_TABLE_NAME: 'x' },
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Table/index names must be between 3 and 255 characters');
    expect(processesWith(dataDir)).toEqual([]);
    expect(await portFree(port)).toBe(true);
  });
});

describe('npm start', () => {
  it('ends node and DynamoDB Local, freeing the port, on SIGTERM to npm', async () => {
    // The real `start` script in a project whose build step does nothing and whose dist/relay.mjs is
    // this repository's: rebuilding dist/ here would race the other test files that run it.
    const project = tempDir('relay-npm-start-');
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ private: true, scripts }));
    mkdirSync(path.join(project, 'scripts'));
    writeFileSync(path.join(project, 'scripts', 'build.mjs'), '');
    mkdirSync(path.join(project, 'dist'));
    symlinkSync(CLI, path.join(project, 'dist', 'relay.mjs'));
    const port = await freePort();
    const dataDir = tempDir('relay-npm-data-');
    const npm = spawn('npm', ['start', '--', '--port', String(port), '--data-dir', dataDir], {
      cwd: project,
      env: { ...process.env, RELAY_LOG_LEVEL: 'silent' },
      stdio: 'ignore',
      detached: true,
    });
    started.push(npm);
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/health`)
            .then((r) => r.status)
            .catch(() => 0),
        { timeout: 45_000, interval: 200 },
      )
      .toBe(200);
    const stack = [...(await childPids(npm.pid ?? 0)), ...processesWith(dataDir)];
    expect(stack.length).toBeGreaterThanOrEqual(2); // node (exec'd by the script's shell) and the JVM

    npm.kill('SIGTERM');
    await exited;

    await expect.poll(() => stack.filter(isAlive), { timeout: 15_000, interval: 100 }).toEqual([]);
    expect(await portFree(port)).toBe(true);
  });
});

describe('a shell job when the stack stops', () => {
  const dataDir = tempDir('relay-jobs-data-');
  const work = tempDir('relay-jobs-work-');
  chmodSync(work, 0o777);
  const starts = path.join(work, 'starts');
  const token = String(randomInt(1e8)).padStart(8, '0');
  // Unique command lines, to find the run's processes: its command, and (as root) one it detaches.
  const command = `300.${token}1`;
  const detached = `300.${token}2`;
  const env = { RELAY_COMMAND_USER: '2000007000-2000007009' };
  let port: number;
  let stack: DevProcess;

  const status = async () =>
    (await fetch(`http://127.0.0.1:${port}/v1/queues/lifecycle/jobs/sleeper/status`)).json() as Promise<{
      status: string;
      attempts: number;
      last_error: string | null;
      retries_remaining: number | null;
    }>;
  const runsStarted = () =>
    existsSync(starts) ? readFileSync(starts, 'utf8').split('\n').filter(Boolean).length : 0;

  it('dies with a stack killed with SIGKILL, and runs again once after a restart, never beside it', async () => {
    port = await freePort();
    stack = await dev(['--port', String(port), '--data-dir', dataDir], { env, detached: true });
    const script = isRoot
      ? `echo $$ >> "$STARTS"; setsid sleep ${detached} & exec sleep ${command}`
      : `echo $$ >> "$STARTS"; exec sleep ${command}`;
    const submitted = await fetch(`http://127.0.0.1:${port}/v1/managed/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        queue: 'lifecycle',
        id: 'sleeper',
        timeout: 5,
        max_retries: 5,
        payload: { command: '/bin/sh', args: ['-c', script], env: { STARTS: starts } },
      }),
    });
    expect(submitted.status).toBe(201);
    await expect.poll(() => processesWith(command).length, { timeout: 15_000 }).toBe(1);
    const orphan = processesWith(command);

    process.kill(-(stack.child.pid as number), 'SIGKILL');
    await stack.exited;

    await expect.poll(() => orphan.filter(isAlive), { timeout: 5_000, interval: 100 }).toEqual([]);
    if (isRoot) expect(processesWith(detached)).toHaveLength(1); // left the group: only the uid sweep finds it
    stack = await dev(['--port', String(port), '--data-dir', dataDir], { env, detached: true });
    expect(processesWith(detached)).toEqual([]);
    await expect.poll(runsStarted, { timeout: 20_000 }).toBe(2);
    await expect.poll(() => processesWith(command).length, { timeout: 5_000 }).toBe(1);
    expect(await status()).toMatchObject({ status: 'running', attempts: 2 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(runsStarted()).toBe(2);
  });

  it('is given back on SIGINT: waiting again, its attempt not spent, last_error saying why', async () => {
    const before = await status();

    process.kill(-(stack.child.pid as number), 'SIGINT'); // as a terminal's Ctrl-C: the whole group
    expect(await stack.exited).toEqual({ code: 0, signal: null });

    expect(processesWith(command)).toEqual([]);
    expect(processesWith(detached)).toEqual([]);
    const engine = await startDynamoDbLocal({ dataDir });
    try {
      const store = new JobStore(documentClient(engine.endpoint), {
        tableName: LOCAL_TABLE,
        dynamodbEndpoint: engine.endpoint,
        defaultShards: 4,
        maxShards: 4,
        strictQueues: new Set(),
        retentionSeconds: 86_400,
        idempotencyTtlSeconds: 86_400,
      });
      expect(await store.get('lifecycle', 'sleeper')).toMatchObject({
        status: 'pending',
        attempts: before.attempts - 1,
        retries_remaining: before.retries_remaining,
        last_error: 'the local stack stopped during the run',
      });
    } finally {
      await engine.stop();
    }
  });

  it('runs a given-back job again after a restart', async () => {
    stack = await dev(['--port', String(port), '--data-dir', dataDir], { env, detached: true });

    await expect.poll(runsStarted, { timeout: 15_000 }).toBe(3);
    expect(await status()).toMatchObject({ status: 'running', attempts: 2 });

    process.kill(-(stack.child.pid as number), 'SIGINT');
    expect(await stack.exited).toEqual({ code: 0, signal: null });
  });
});
