/**
 * A command's life is bounded by the process that started it (the runner program, or the local
 * stack): it dies when that process dies, whatever a stack killed at once leaves is swept when the
 * next one starts, and a run the runner or the stack is told to stop is given back rather than left
 * `running` until its lease expires.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewJob } from '../functions/jobs/model.ts';
import { startLocalExecutor } from '../functions/local/executor.ts';
import { main } from '../functions/runner/main.ts';
import type { CommandOutcome, runCommand } from '../functions/runner/run.ts';
import { sweepUidRange } from '../functions/runner/sandbox.ts';
import { freshStore } from './support/store.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SANDBOX = fileURLToPath(new URL('../functions/runner/sandbox.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;
const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'relay-lifetime-'));

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  // The commands these tests leave on purpose, all in uids of their own.
  if (isRoot) sweepUidRange(2_000_007_200, 2_000_007_599);
  rmSync(dir, { recursive: true, force: true });
});

/** A unique `sleep` argument, to find the process by its command line. */
const marker = () => `300.${String(randomInt(1e8)).padStart(8, '0')}`;

/** Pids of live processes (not zombies) whose command line contains `text`. */
function processesWith(text: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      try {
        return (
          !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')) &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(text)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts `sleep <mark>` as `uid` (when given) from a process of its own, which it outlives unless told not to. */
function sleepAs(mark: string, uid?: number, dying = true): ChildProcess {
  // Named apart from the mark, which only the command's own command line may hold.
  const script = path.join(dir, `parent-${children.length}.ts`);
  writeFileSync(
    script,
    [
      `import { spawn } from 'node:child_process';`,
      `import { spawnDyingWithParent } from ${JSON.stringify(SANDBOX)};`,
      `const start = ${dying ? 'spawnDyingWithParent' : 'spawn'};`,
      `start('sleep', [${JSON.stringify(mark)}], {`,
      `  detached: true, stdio: 'ignore', env: { PATH: process.env.PATH },`,
      uid === undefined ? '' : `  uid: ${uid}, gid: ${uid},`,
      `});`,
      'setInterval(() => {}, 60_000);',
    ].join('\n'),
  );
  const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: 'ignore' });
  children.push(parent);
  return parent;
}

describe('spawnDyingWithParent', () => {
  it('ends the command, which leads a group of its own, when its parent is killed with SIGKILL', async () => {
    const mark = marker();
    const parent = sleepAs(mark);
    await expect.poll(() => processesWith(mark).length, { timeout: 10_000 }).toBe(1);

    parent.kill('SIGKILL');

    await expect.poll(() => processesWith(mark), { timeout: 5_000, interval: 100 }).toEqual([]);
  });

  it.runIf(isRoot)(
    'ends it too when it runs as another uid (the signal is set after the uid drop)',
    async () => {
      const mark = marker();
      const parent = sleepAs(mark, 2_000_007_200);
      await expect.poll(() => processesWith(mark).length, { timeout: 10_000 }).toBe(1);

      parent.kill('SIGKILL');

      await expect.poll(() => processesWith(mark), { timeout: 5_000, interval: 100 }).toEqual([]);
    },
  );
});

describe.runIf(isRoot)('sweepUidRange', () => {
  it("kills every process of the range's uids and no other", async () => {
    const [inRange, outside] = [marker(), marker()];
    sleepAs(inRange, 2_000_007_305, false);
    sleepAs(outside, 2_000_007_400, false);
    await expect
      .poll(() => [processesWith(inRange).length, processesWith(outside).length], { timeout: 10_000 })
      .toEqual([1, 1]);

    const killed = sweepUidRange(2_000_007_300, 2_000_007_309);

    expect(killed).toBe(1);
    await expect.poll(() => processesWith(inRange), { timeout: 5_000 }).toEqual([]);
    expect(processesWith(outside)).toHaveLength(1);
    sweepUidRange(2_000_007_400, 2_000_007_400);
  });
});

describe.runIf(isRoot)('local executor start, as root', () => {
  const range = { RELAY_COMMAND_USER: '2000007500-2000007509' };

  it('leaves the processes of its uids alone while another live stack hands them out', async () => {
    const { store } = await freshStore();
    const live = await startLocalExecutor({ store, env: range });
    const run = marker();
    sleepAs(run, 2_000_007_503, false);
    await expect.poll(() => processesWith(run).length, { timeout: 10_000 }).toBe(1);

    const beside = await startLocalExecutor({ store, env: range });
    await beside.stop();

    expect(processesWith(run)).toHaveLength(1);
    await live.stop();
  });

  it('kills what runs of stacks no longer alive left in its uids', async () => {
    const leftover = marker();
    sleepAs(leftover, 2_000_007_504, false);
    await expect.poll(() => processesWith(leftover).length, { timeout: 10_000 }).toBe(1);

    const { store } = await freshStore();
    const next = await startLocalExecutor({ store, env: range });
    await next.stop();

    // SIGKILL is sent at once; the process takes a moment to die.
    await expect.poll(() => processesWith(leftover), { timeout: 5_000 }).toEqual([]);
  });
});

describe('runner program told to stop (main.ts --job)', () => {
  const shell = (id: string): NewJob => ({
    queue: 'q',
    id,
    payload: { command: 'sleep', args: ['300'] },
    timeout: 30,
    max_retries: 3,
    type: 'SHELL',
  });

  /** A command that runs until it is stopped, as runCommand reports a stopped one. */
  const runUntilStopped =
    (started: () => void): typeof runCommand =>
    (_spec, _deps, hooks = {}) =>
      new Promise<CommandOutcome>((resolve) => {
        started();
        hooks.signal?.addEventListener('abort', () =>
          resolve({
            exitCode: 143,
            signal: 'SIGTERM',
            durationMs: 1,
            timedOut: false,
            aborted: true,
            error: `stopped: ${String(hooks.signal?.reason)}`,
            truncated: false,
            droppedBytes: 0,
            tail: [],
          }),
        );
      });

  it('gives the run back: waiting again, the attempt not counted, no retry spent, last_error saying why', async () => {
    const { store } = await freshStore();
    await store.enqueue(shell('stopped'));
    const run = await store.claimById('q', 'stopped');
    const stop = new AbortController();
    let started!: () => void;
    const commandStarted = new Promise<void>((resolve) => {
      started = resolve;
    });

    const ended = main({
      argv: ['--job', 'q', 'stopped', String(run?.run_id)],
      stdout: { write: () => true },
      stderr: { write: () => true },
      exit: () => {},
      signal: stop.signal,
      job: () => ({ store, run: runUntilStopped(started) }),
    });
    await commandStarted;
    stop.abort('the local stack stopped during the run');
    await ended;

    expect(await store.get('q', 'stopped')).toMatchObject({
      status: 'pending',
      attempts: 0,
      retries_remaining: 3,
      run_id: null,
      last_error: 'the local stack stopped during the run',
    });
  });
});

describe('local executor told to stop', () => {
  it('stops the command of each run going on and gives the run back', async () => {
    const { store } = await freshStore();
    const mark = marker();
    await store.enqueue({
      queue: 'q',
      id: 'sleeper',
      payload: { command: 'sleep', args: [mark] },
      timeout: 30,
      max_retries: 3,
      type: 'SHELL',
    });
    const claimed = await store.claimById('q', 'sleeper');
    // As root, uids no other test hands out.
    const executor = await startLocalExecutor({
      store,
      env: { RELAY_COMMAND_USER: '2000007510-2000007519' },
    });
    await executor.execute(claimed as NonNullable<typeof claimed>);
    await expect.poll(() => processesWith(mark).length, { timeout: 10_000 }).toBe(1);

    await executor.stop();

    expect(processesWith(mark)).toEqual([]);
    expect(await store.get('q', 'sleeper')).toMatchObject({
      status: 'pending',
      attempts: 0,
      retries_remaining: 3,
      run_id: null,
      last_error: 'the local stack stopped during the run',
    });
  });
});
