import { execFile, execFileSync, spawn as nodeSpawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseLostError } from '../functions/jobs/errors.ts';
import { type CommandPayload, commandSpecSchema, formatDuration } from '../functions/runner/command.ts';
import { main } from '../functions/runner/main.ts';
import {
  type CommandOutcome,
  exitCodeFor,
  type OutputEntry,
  type RunDeps,
  type RunHooks,
  runCommand,
} from '../functions/runner/run.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KiB = 1024;

const spec = (payload: CommandPayload) => commandSpecSchema.parse(payload);
const output = (outcome: CommandOutcome, stream: OutputEntry['stream']) =>
  outcome.tail
    .filter((entry) => entry.stream === stream)
    .map((entry) => entry.text)
    .join('');
const flush = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Processes that are still running (zombies are dead: only their exit status is left to collect). */
function liveProcesses() {
  return execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , stat]) => !stat?.startsWith('Z'))
    .map(([pid, pgid, , comm]) => ({ pid: Number(pid), pgid: Number(pgid), comm }));
}

/** node's spawn, remembering each child's pid (which is also its process group id). */
function recordingSpawn() {
  const pids: number[] = [];
  const spawn: RunDeps['spawn'] = (command, args, options) => {
    const child = nodeSpawn(command, args, options);
    if (child.pid !== undefined) pids.push(child.pid);
    return child;
  };
  return { pids, spawn };
}

/** Timers that fire only when the test advances the clock. */
class FakeClock {
  now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #nextId = 1;

  setTimer = (fn: () => void, ms: number) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  clearTimer = (id: unknown) => {
    this.#timers.delete(id as number);
  };

  async advance(ms: number) {
    const until = this.now + ms;
    for (;;) {
      const [due] = [...this.#timers].filter(([, t]) => t.at <= until).sort(([, a], [, b]) => a.at - b.at);
      if (!due) break;
      const [id, timer] = due;
      this.#timers.delete(id);
      this.now = timer.at;
      timer.fn();
      await flush();
    }
    this.now = until;
    await flush();
  }
}

/** A child process the test drives: it writes output and exits when told to. */
class FakeChild extends EventEmitter {
  readonly pid = 4242;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  #ended = false;

  async end(code: number | null, signal: NodeJS.Signals | null) {
    if (this.#ended) return;
    this.#ended = true;
    this.stdout.end();
    this.stderr.end();
    this.emit('exit', code, signal);
    await flush();
    this.emit('close', code, signal);
  }
}

/** Runs `payload` against a fake child and clock; `onKill` decides how the child reacts to signals. */
function fakeRun(
  payload: CommandPayload,
  options: {
    hooks?: RunHooks;
    onKill?: (signal: NodeJS.Signals, child: FakeChild) => void;
    maxBytes?: number;
  } = {},
) {
  const clock = new FakeClock();
  const started = clock.now;
  const child = new FakeChild();
  const kills: [pid: number, signal: NodeJS.Signals, afterMs: number][] = [];
  const spawn = vi.fn<RunDeps['spawn']>(() => child);
  const outcome = runCommand(
    spec(payload),
    {
      spawn,
      now: () => clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      killGroup: (pid, signal) => {
        kills.push([pid, signal, clock.now - started]);
        options.onKill?.(signal, child);
      },
      graceMs: 5000,
      maxBytes: options.maxBytes ?? 256 * KiB,
    },
    options.hooks,
  );
  return { clock, child, kills, spawn, outcome };
}

const diesOn = (fatal: NodeJS.Signals[]) => (signal: NodeJS.Signals, child: FakeChild) => {
  if (fatal.includes(signal)) void child.end(null, signal);
};

describe('commandSpecSchema', () => {
  it('defaults args to none and the timeout to 5 minutes, short enough to run inline', () => {
    expect(spec({ command: 'true' })).toEqual({ command: 'true', args: [], timeoutMs: 5 * 60 * 1000 });
  });

  it('reads a numeric timeout as seconds', () => {
    expect(spec({ command: 'true', timeout: 90 }).timeoutMs).toBe(90_000);
  });

  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
  ])('reads the duration %s as %i ms', (timeout, ms) => {
    expect(spec({ command: 'true', timeout }).timeoutMs).toBe(ms);
  });

  it.each(['', '30', 'soon', '5 m', '30s5m', '-1s', '0s'])('rejects the timeout %j', (timeout) => {
    expect(commandSpecSchema.safeParse({ command: 'true', timeout }).success).toBe(false);
  });

  it('rejects a timeout of 0 seconds', () => {
    expect(commandSpecSchema.safeParse({ command: 'true', timeout: 0 }).success).toBe(false);
  });

  it('rejects a timeout over 12 h', () => {
    expect(commandSpecSchema.safeParse({ command: 'true', timeout: '12h1s' }).success).toBe(false);
  });

  it('rejects an empty command', () => {
    expect(commandSpecSchema.safeParse({ command: '' }).success).toBe(false);
  });

  it('rejects an argument containing NUL, which exec would cut short', () => {
    expect(commandSpecSchema.safeParse({ command: 'echo', args: ['a\0b'] }).success).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [45_000, '45s'],
    [300_000, '5m'],
    [5_400_000, '1h30m'],
    [1500, '1.5s'],
    [3_601_000, '1h1s'],
  ])('renders %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('exitCodeFor', () => {
  it('maps success to 0, any failure to 1 and a timeout to 124', () => {
    expect([
      exitCodeFor({ exitCode: 0, timedOut: false }),
      exitCodeFor({ exitCode: 3, timedOut: false }),
      exitCodeFor({ exitCode: 143, timedOut: false }),
      exitCodeFor({ exitCode: 124, timedOut: true }),
    ]).toEqual([0, 1, 1, 124]);
  });
});

describe('runCommand', () => {
  it('runs a command and records its stdout', async () => {
    const outcome = await runCommand(spec({ command: 'echo', args: ['hello', 'world'] }));
    expect(outcome).toMatchObject({
      exitCode: 0,
      signal: null,
      timedOut: false,
      aborted: false,
      error: null,
    });
    expect(outcome.tail).toMatchObject([{ stream: 'stdout', text: 'hello world\n', seq: 0 }]);
  });

  it('reports a non-zero exit as "exited with code N" with both streams in order', async () => {
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', 'echo out; echo err >&2; exit 3'] }),
    );
    expect(outcome).toMatchObject({ exitCode: 3, error: 'exited with code 3' });
    expect(outcome.tail.map(({ stream, text }) => [stream, text])).toEqual([
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
    ]);
  });

  it('delivers every entry to onOutput as it arrives, numbered in arrival order', async () => {
    const seen: OutputEntry[] = [];
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', 'echo one; echo two >&2; echo three'] }),
      {},
      { onOutput: (entry) => seen.push(entry) },
    );
    expect(seen).toEqual(outcome.tail);
    expect(seen.map((entry) => entry.seq)).toEqual(seen.map((_, i) => i));
  });

  it('passes args verbatim, without shell interpretation', async () => {
    const outcome = await runCommand(spec({ command: 'echo', args: ['$HOME; rm -rf /', '*', '`id`'] }));
    expect(output(outcome, 'stdout')).toBe('$HOME; rm -rf / * `id`\n');
  });

  it('sets the variables in env for the command', async () => {
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', 'echo "$GREETING"'], env: { GREETING: 'hi there' } }),
    );
    expect(output(outcome, 'stdout')).toBe('hi there\n');
  });

  it('runs the command in cwd', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'relay-runner-')));
    const outcome = await runCommand(spec({ command: 'pwd', cwd: dir }));
    expect(output(outcome, 'stdout')).toBe(`${dir}\n`);
  });

  it("does not pass the runner's credentials or RELAY_ settings to the command", async () => {
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'fake-secret');
    vi.stubEnv('RELAY_TOKEN', 'fake-token');
    const outcome = await runCommand(spec({ command: 'env' }));
    const names = output(outcome, 'stdout')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('=')[0]);
    expect(names).toContain('PATH');
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(names).not.toContain('RELAY_TOKEN');
  });

  it('reports a missing command as 127 "command not found"', async () => {
    const outcome = await runCommand(spec({ command: 'relay-no-such-command' }));
    expect(outcome).toMatchObject({ exitCode: 127, error: 'command not found: relay-no-such-command' });
  });

  it('reports a file it may not execute as 126 "permission denied"', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'relay-runner-')), 'script');
    writeFileSync(file, '#!/bin/sh\necho never\n', { mode: 0o644 });
    const outcome = await runCommand(spec({ command: file }));
    expect(outcome).toMatchObject({ exitCode: 126, error: `permission denied: ${file}` });
  });

  it('reports a missing working directory by name', async () => {
    const outcome = await runCommand(spec({ command: 'pwd', cwd: '/relay/no/such/dir' }));
    expect(outcome).toMatchObject({
      exitCode: 127,
      error: 'working directory not found: /relay/no/such/dir',
    });
  });

  it('stops a command at its timeout with exit 124 and "timed out after 1s"', async () => {
    const outcome = await runCommand(spec({ command: 'sleep', args: ['30'], timeout: '1s' }));
    expect(outcome).toMatchObject({ exitCode: 124, timedOut: true, error: 'timed out after 1s' });
  });

  it('kills the whole process group at the timeout, leaving no orphans', async () => {
    const { pids, spawn } = recordingSpawn();
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', 'sleep 30 & echo $!; sleep 30'], timeout: 1 }),
      { spawn },
    );
    const background = Number(output(outcome, 'stdout'));
    const live = liveProcesses();
    expect(outcome.timedOut).toBe(true);
    expect(live.filter((p) => p.pid === background || p.pgid === pids[0])).toEqual([]);
  });

  it('ends background processes the command leaves behind when it exits', async () => {
    const { pids, spawn } = recordingSpawn();
    const outcome = await runCommand(spec({ command: '/bin/sh', args: ['-c', 'sleep 300 & echo $!'] }), {
      spawn,
    });
    const background = Number(output(outcome, 'stdout'));
    expect(outcome.exitCode).toBe(0);
    expect(liveProcesses().filter((p) => p.pid === background || p.pgid === pids[0])).toEqual([]);
  });

  it('stops the command and reports "stopped: <reason>" when the signal aborts', async () => {
    const stop = new AbortController();
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', 'echo ready; sleep 30'] }),
      {},
      { signal: stop.signal, onOutput: () => stop.abort('job cancelled') },
    );
    expect(outcome).toMatchObject({
      exitCode: 143,
      signal: 'SIGTERM',
      aborted: true,
      timedOut: false,
      error: 'stopped: job cancelled',
    });
  });

  it('keeps only the last 256 KiB of a 600 KiB output and counts the bytes dropped', async () => {
    let delivered = 0;
    const outcome = await runCommand(
      spec({ command: '/bin/sh', args: ['-c', "head -c 614400 /dev/zero | tr '\\0' a"] }),
      {},
      { onOutput: (entry) => (delivered += entry.text.length) },
    );
    const kept = output(outcome, 'stdout');
    expect(delivered).toBe(600 * KiB);
    expect(kept).toBe('a'.repeat(256 * KiB));
    expect(outcome).toMatchObject({ truncated: true, droppedBytes: (600 - 256) * KiB });
  });
});

describe('runCommand with a fake process and clock', () => {
  it('sends SIGKILL to the group graceMs after a SIGTERM the command ignores', async () => {
    const run = fakeRun({ command: 'stubborn', timeout: 10 }, { onKill: diesOn(['SIGKILL']) });
    await run.clock.advance(15_000);
    expect(run.kills).toEqual([
      [4242, 'SIGTERM', 10_000],
      [4242, 'SIGKILL', 15_000],
    ]);
    expect(await run.outcome).toMatchObject({ exitCode: 124, signal: 'SIGKILL', timedOut: true });
  });

  it('starts the command detached, without a shell, with stdin closed', async () => {
    const run = fakeRun({ command: 'tool', args: ['a b'] });
    await run.child.end(0, null);
    await run.outcome;
    expect(run.spawn).toHaveBeenCalledWith(
      'tool',
      ['a b'],
      expect.objectContaining({ detached: true, shell: false, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
  });

  it('reports a command that exits on SIGTERM after an abort as aborted with code 143', async () => {
    const stop = new AbortController();
    const run = fakeRun({ command: 'tool' }, { hooks: { signal: stop.signal }, onKill: diesOn(['SIGTERM']) });
    stop.abort('job cancelled');
    expect(await run.outcome).toMatchObject({
      exitCode: 143,
      aborted: true,
      error: 'stopped: job cancelled',
    });
  });

  it('does not start the command when the signal is already aborted', async () => {
    const stop = new AbortController();
    stop.abort('job cancelled');
    const run = fakeRun({ command: 'tool' }, { hooks: { signal: stop.signal } });
    expect(await run.outcome).toMatchObject({ exitCode: 1, aborted: true, error: 'stopped: job cancelled' });
    expect(run.spawn).not.toHaveBeenCalled();
  });

  it('calls the heartbeat every heartbeatMs while the command runs, and not after', async () => {
    const heartbeat = vi.fn(async () => {});
    const run = fakeRun({ command: 'tool' }, { hooks: { heartbeat, heartbeatMs: 1000 } });
    await run.clock.advance(3500);
    expect(heartbeat).toHaveBeenCalledTimes(3);
    await run.child.end(0, null);
    await run.outcome;
    await run.clock.advance(5000);
    expect(heartbeat).toHaveBeenCalledTimes(3);
  });

  it('stops the command with "stopped: lease lost" when the heartbeat throws LeaseLostError', async () => {
    const heartbeat = vi.fn(async () => {
      throw new LeaseLostError('q', 'job', 'run-1');
    });
    const run = fakeRun(
      { command: 'tool' },
      { hooks: { heartbeat, heartbeatMs: 1000 }, onKill: diesOn(['SIGTERM']) },
    );
    await run.clock.advance(1000);
    expect(run.kills).toEqual([[4242, 'SIGTERM', 1000]]);
    expect(await run.outcome).toMatchObject({ aborted: true, error: 'stopped: lease lost' });
  });

  it('treats a heartbeat error flagged leaseLost as a lost lease', async () => {
    const heartbeat = vi.fn(async () => {
      throw Object.assign(new Error('conditional check failed'), { leaseLost: true });
    });
    const run = fakeRun(
      { command: 'tool' },
      { hooks: { heartbeat, heartbeatMs: 1000 }, onKill: diesOn(['SIGTERM']) },
    );
    await run.clock.advance(1000);
    expect(await run.outcome).toMatchObject({ aborted: true, error: 'stopped: lease lost' });
  });

  it('keeps the command running and retries next tick when the heartbeat fails otherwise', async () => {
    vi.stubEnv('RELAY_LOG_LEVEL', 'silent');
    const heartbeat = vi.fn<() => Promise<void>>().mockRejectedValueOnce(new Error('throttled'));
    heartbeat.mockResolvedValue(undefined);
    const run = fakeRun({ command: 'tool' }, { hooks: { heartbeat, heartbeatMs: 1000 } });
    await run.clock.advance(2000);
    expect(heartbeat).toHaveBeenCalledTimes(2);
    expect(run.kills).toEqual([]);
  });

  it('keeps a multi-byte character split across chunks intact', async () => {
    const run = fakeRun({ command: 'tool' });
    const euro = Buffer.from('€');
    run.child.stdout.write(Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]));
    await flush();
    run.child.stdout.write(Buffer.concat([euro.subarray(2), Buffer.from('b')]));
    await flush();
    await run.child.end(0, null);
    expect((await run.outcome).tail.map((entry) => entry.text)).toEqual(['a', '€b']);
  });

  it('cuts the tail at a character boundary and counts the partial character as dropped', async () => {
    const run = fakeRun({ command: 'tool' }, { maxBytes: 4 });
    run.child.stdout.write('€€');
    await flush();
    await run.child.end(0, null);
    expect(await run.outcome).toMatchObject({
      tail: [{ text: '€' }],
      truncated: true,
      droppedBytes: 3,
    });
  });
});

describe('runner program (main.ts)', () => {
  /** Runs main.ts as its own process, the way a container or a local dispatcher would. */
  const runProgram = (json: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'functions/handlers/runner.ts', '--spec', json],
        { cwd: ROOT },
        (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
      );
    });

  /** main() with captured output and exit code. */
  const runMain = async (argv: string[]) => {
    const captured = { stdout: '', stderr: '', code: -1 };
    await main({
      argv,
      stdout: { write: (text: string) => (captured.stdout += text) },
      stderr: { write: (text: string) => (captured.stderr += text) },
      exit: (code) => {
        captured.code = code;
      },
    });
    return captured;
  };

  it('does not run when imported', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    vi.resetModules();
    await import('../functions/handlers/runner.ts');
    expect(exit).not.toHaveBeenCalled();
    exit.mockRestore();
  });

  it("writes the command's output to its own streams", async () => {
    const result = await runMain(['--spec', '{"command":"/bin/sh","args":["-c","echo out; echo err >&2"]}']);
    expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 0 });
  });

  it('reads the spec from a JSON file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'relay-runner-')), 'spec.json');
    writeFileSync(file, JSON.stringify({ command: 'echo', args: ['from file'] }));
    expect(await runMain([file])).toMatchObject({ stdout: 'from file\n', code: 0 });
  });

  it('exits 1 and says what is wrong with an invalid spec', async () => {
    const result = await runMain(['--spec', '{"command":"echo","timeout":"soon"}']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('timeout must be seconds');
  });

  it('exits 1 with usage when given no spec', async () => {
    expect(await runMain([])).toMatchObject({ code: 1, stderr: expect.stringContaining('usage:') });
  });

  it('exits 0 when the command succeeds', async () => {
    const result = await runProgram('{"command":"echo","args":["ok"]}');
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('exits 1 when the command fails', async () => {
    const result = await runProgram('{"command":"/bin/sh","args":["-c","exit 3"]}');
    expect(result).toMatchObject({ code: 1, stderr: 'relay-runner: exited with code 3\n' });
  });

  it('exits 124 when the command times out', async () => {
    const result = await runProgram('{"command":"sleep","args":["30"],"timeout":"1s"}');
    expect(result).toMatchObject({ code: 124, stderr: 'relay-runner: timed out after 1s\n' });
  });
});
