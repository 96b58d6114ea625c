/**
 * Runs one managed shell command to its outcome: output streamed and tailed, a timeout, stop on
 * abort or lost lease, and nothing left behind.
 *
 * The command leads its own process group, and every stop signals the whole group (SIGTERM, then
 * SIGKILL after a grace period), so `sh -c 'a & b'` cannot leave `a` running. When the command
 * exits by itself the group is swept the same way: whatever it started in the background is part
 * of the job and ends with it. (In Lambda, a survivor would be frozen with the sandbox and thawed
 * into a later invocation.)
 */
import type { SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { describeError, log } from '../core/log.ts';
import { type CommandSpec, formatDuration } from './command.ts';
import {
  type Identity,
  makeHome,
  removeHome,
  SELF,
  SHARED_UMASK,
  spawnDyingWithParent,
  sweepLeftovers,
} from './sandbox.ts';

export type OutputStream = 'stdout' | 'stderr';

/** One chunk of output, in arrival order across both streams. `at` is epoch ms. */
export interface OutputEntry {
  readonly stream: OutputStream;
  readonly text: string;
  readonly at: number;
  readonly seq: number;
}

export interface CommandOutcome {
  /** The command's exit code, 128 + n when signal n ended it, 124 on timeout, 126/127 when it could not start. */
  readonly exitCode: number;
  /** The signal that ended the command, if one did. */
  readonly signal: string | null;
  readonly durationMs: number;
  readonly timedOut: boolean;
  /** Stopped through `hooks.signal` or a lost lease. */
  readonly aborted: boolean;
  /** `null` only on exit 0. */
  readonly error: string | null;
  /** Whether output was dropped from the front of `tail`. */
  readonly truncated: boolean;
  /** UTF-8 bytes of output dropped from the front of `tail`. */
  readonly droppedBytes: number;
  /** The last `maxBytes` of combined output. */
  readonly tail: OutputEntry[];
}

/** The slice of a child process the runner uses; node's `ChildProcess` is one. */
export interface ChildLike {
  readonly pid?: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

export interface RunDeps {
  readonly spawn: (command: string, args: readonly string[], options: SpawnOptions) => ChildLike;
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  /** Signals every process in the group led by `pid`. */
  readonly killGroup: (pid: number, signal: NodeJS.Signals) => void;
  /** How long a stopped group has between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /** Bytes of combined output kept in the outcome's `tail`. */
  readonly maxBytes: number;
  /** Who the command runs as, and what is swept when it ends (functions/runner/sandbox.ts). */
  readonly identity: Identity;
}

export interface RunHooks {
  /** Every output entry, as it arrives. */
  readonly onOutput?: (entry: OutputEntry) => void;
  /** Stops the command when aborted (job cancelled, lease lost); its reason goes into the error. */
  readonly signal?: AbortSignal;
  /** Extends the lease while the command runs; rejecting with a lost lease stops it. */
  readonly heartbeat?: () => Promise<void>;
  /** @default 30 s */
  readonly heartbeatMs?: number;
  /** The command started: its pid, which is also its process group id. */
  readonly onStart?: (pid: number) => void;
}

export const DEFAULT_DEPS: RunDeps = {
  // The command dies with the runner, even when the runner is killed with SIGKILL.
  spawn: spawnDyingWithParent,
  now: () => Date.now(),
  // Looked up per call so that test fake timers apply.
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
  killGroup: (pid, signal) => {
    try {
      process.kill(-pid, signal);
    } catch (error) {
      // The group is already gone.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  },
  graceMs: 5000,
  maxBytes: 256 * 1024,
  identity: SELF,
};

const DEFAULT_HEARTBEAT_MS = 30_000;

/** The runner program's exit code: 0 ok, 1 failed, 124 timed out. */
export function exitCodeFor(outcome: Pick<CommandOutcome, 'exitCode' | 'timedOut'>): 0 | 1 | 124 {
  if (outcome.timedOut) return 124;
  return outcome.exitCode === 0 ? 0 : 1;
}

/**
 * The environment a command sees: PATH from the runner, HOME (the runner's, or the run's own
 * directory where the command runs apart), then the job's own `env`.
 *
 * Nothing else is inherited. The runner holds the AWS credentials of its Lambda or task role and
 * Relay's own settings (`RELAY_*`); a user command must not be able to read them.
 */
export function commandEnv(spec: Pick<CommandSpec, 'env'>, home = process.env.HOME): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, ...spec.env };
}

/**
 * Calls `heartbeat` every `heartbeatMs` until `over()`: a lost lease calls `onLost` and ends the
 * beats; any other failure is logged and tried again at the next tick.
 */
export function keepAlive(
  beats: {
    readonly heartbeat: () => Promise<void>;
    readonly heartbeatMs: number;
    readonly after: (ms: number, fn: () => void) => void;
  },
  over: () => boolean,
  onLost: () => void,
): void {
  const beat = () =>
    beats.after(beats.heartbeatMs, () => {
      if (over()) return;
      // Through a promise so that a heartbeat which throws synchronously is handled the same way.
      Promise.resolve()
        .then(beats.heartbeat)
        .then(beat, (error: unknown) => {
          if (isLeaseLost(error)) {
            onLost();
            return;
          }
          log('warn', 'heartbeat failed; retrying next tick', describeError(error));
          beat();
        });
    });
  beat();
}

/** Timers that can all be cleared at once: `after(ms, fn)` sets one, `clearAll()` ends the rest. */
export function timerSet(
  setTimer: RunDeps['setTimer'] = DEFAULT_DEPS.setTimer,
  clearTimer: RunDeps['clearTimer'] = DEFAULT_DEPS.clearTimer,
) {
  const timers = new Set<unknown>();
  return {
    after(ms: number, fn: () => void): void {
      const handle = setTimer(() => {
        timers.delete(handle);
        fn();
      }, ms);
      timers.add(handle);
    },
    clearAll(): void {
      for (const handle of timers) clearTimer(handle);
      timers.clear();
    },
  };
}

/** A `LeaseLostError` from the job store, or any error flagged `leaseLost`. */
const isLeaseLost = (error: unknown) =>
  error instanceof Error &&
  (error.name === 'LeaseLostError' || (error as { leaseLost?: unknown }).leaseLost === true);

/** 128 + n for signal n, as shells report it. */
const signalCode = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);

const reasonText = (reason: unknown) =>
  typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : String(reason);

/** How a run ended, before its duration and output are added. */
type Ending = Pick<CommandOutcome, 'exitCode' | 'signal' | 'timedOut' | 'aborted' | 'error'>;

type Stop = { readonly kind: 'timeout' } | { readonly kind: 'abort'; readonly reason: string };

/** Runs `spec` to completion. Never rejects: every failure is an outcome. */
export function runCommand(
  spec: CommandSpec,
  deps: Partial<RunDeps> = {},
  hooks: RunHooks = {},
): Promise<CommandOutcome> {
  const { spawn, now, setTimer, clearTimer, killGroup, graceMs, maxBytes, identity } = {
    ...DEFAULT_DEPS,
    ...deps,
  };
  const { onOutput, signal, heartbeat, heartbeatMs = DEFAULT_HEARTBEAT_MS, onStart } = hooks;
  const started = now();
  const tail = new OutputTail(maxBytes);
  const finish = (ending: Ending): CommandOutcome => ({
    ...ending,
    durationMs: now() - started,
    truncated: tail.droppedBytes > 0,
    droppedBytes: tail.droppedBytes,
    tail: tail.entries(),
  });

  if (signal?.aborted) {
    return Promise.resolve(
      finish({
        exitCode: 1,
        signal: null,
        timedOut: false,
        aborted: true,
        error: `stopped: ${reasonText(signal.reason)}`,
      }),
    );
  }

  // A command apart from its runner gets a home of its own (the runner's may be unreadable to it,
  // or read-only), which is also where it starts unless it names a directory.
  const apart = identity.kind !== 'self';
  // Whatever an earlier run of this uid left (a crashed runner, a reused sandbox) ends first.
  sweepLeftovers(identity);
  const home = apart ? makeHome(identity) : undefined;
  /** After the command: its uid's leftovers are killed and its home removed. */
  const cleanUp = () => {
    sweepLeftovers(identity);
    if (home) removeHome(home);
  };

  return new Promise((resolve) => {
    let child: ChildLike;
    // Runs of one stack share a group, a uid each: what one run writes, the next may change. The
    // mask is this process's while the child forks, which copies it; the process that starts
    // commands (the local stack itself) keeps its own for everything else.
    const ownMask = identity.kind === 'user' ? process.umask(SHARED_UMASK) : undefined;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd ?? home,
        env: commandEnv(spec, home ?? process.env.HOME),
        detached: true,
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(identity.kind === 'user' ? { uid: identity.uid, gid: identity.gid } : {}),
      });
    } catch (error) {
      cleanUp();
      resolve(finish(startFailure(spec, error)));
      return;
    } finally {
      if (ownMask !== undefined) process.umask(ownMask);
    }
    if (child.pid !== undefined) onStart?.(child.pid);

    let seq = 0;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let stop: Stop | null = null;
    const { after, clearAll } = timerSet(setTimer, clearTimer);

    const streams = { stdout: child.stdout, stderr: child.stderr };
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const emit = (stream: OutputStream, text: string) => {
      if (settled || text === '') return;
      const entry: OutputEntry = { stream, text, at: now(), seq: seq++ };
      tail.push(entry);
      onOutput?.(entry);
    };
    for (const name of ['stdout', 'stderr'] as const) {
      // StringDecoder holds back a multi-byte character split across chunks until its last byte arrives.
      streams[name]?.on('data', (chunk: Buffer) => emit(name, decoders[name].write(chunk)));
      streams[name]?.on('end', () => emit(name, decoders[name].end()));
    }

    const settle = (failure?: Ending) => {
      if (settled) return;
      for (const name of ['stdout', 'stderr'] as const) emit(name, decoders[name].end());
      settled = true;
      clearAll();
      signal?.removeEventListener('abort', onAbort);
      cleanUp();
      resolve(finish(failure ?? outcomeOf(exit, stop, spec)));
    };

    const send = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        killGroup(child.pid, sig);
      } catch (error) {
        log('warn', 'could not signal the command process group', { signal: sig, ...describeError(error) });
      }
    };

    let terminating = false;
    /** SIGTERM the group; SIGKILL it after the grace period; after another, stop waiting for output. */
    const terminate = () => {
      if (terminating) return;
      terminating = true;
      send('SIGTERM');
      after(graceMs, () => {
        send('SIGKILL');
        // A process that left the group (setsid) but not the run's uid ends here too.
        sweepLeftovers(identity);
        // Only a process that left the group (setsid) can still hold the pipes open now.
        after(graceMs, () => {
          streams.stdout?.destroy();
          streams.stderr?.destroy();
          settle();
        });
      });
    };

    const stopWith = (reason: Stop) => {
      if (settled || exit || stop) return;
      stop = reason;
      terminate();
    };
    const onAbort = () => stopWith({ kind: 'abort', reason: reasonText(signal?.reason) });

    child.on('error', (error) => {
      // Without a pid the command never started; otherwise this is about a signal we sent.
      if (child.pid === undefined) settle(startFailure(spec, error));
      else log('warn', 'command process error', describeError(error));
    });
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      terminate();
    });
    child.on('close', () => settle());

    signal?.addEventListener('abort', onAbort, { once: true });
    after(spec.timeoutMs, () => stopWith({ kind: 'timeout' }));

    if (heartbeat) {
      keepAlive(
        { heartbeat, heartbeatMs, after },
        () => settled || exit !== null || stop !== null,
        () => stopWith({ kind: 'abort', reason: 'lease lost' }),
      );
    }
  });
}

function outcomeOf(
  exit: { code: number | null; signal: NodeJS.Signals | null } | null,
  stop: Stop | null,
  spec: CommandSpec,
): Ending {
  const signal = exit?.signal ?? null;
  const status = signal ? signalCode(signal) : (exit?.code ?? 1);
  if (stop?.kind === 'timeout') {
    return {
      exitCode: 124,
      signal,
      timedOut: true,
      aborted: false,
      error: `timed out after ${formatDuration(spec.timeoutMs)}`,
    };
  }
  if (stop?.kind === 'abort') {
    // A command that shut down cleanly on SIGTERM still did not finish its job.
    return {
      exitCode: status === 0 ? 1 : status,
      signal,
      timedOut: false,
      aborted: true,
      error: `stopped: ${stop.reason}`,
    };
  }
  const error = signal ? `killed by ${signal}` : status === 0 ? null : `exited with code ${status}`;
  return { exitCode: status, signal, timedOut: false, aborted: false, error };
}

/** Shell conventions: 127 when the command does not exist, 126 when it exists but cannot run. */
function startFailure(spec: CommandSpec, error: unknown): Ending {
  const code = (error as NodeJS.ErrnoException).code;
  const failed = { signal: null, timedOut: false, aborted: false };
  // spawn reports a missing working directory as ENOENT too.
  if (code === 'ENOENT' && spec.cwd !== undefined && !existsSync(spec.cwd)) {
    return { ...failed, exitCode: 127, error: `working directory not found: ${spec.cwd}` };
  }
  if (code === 'ENOENT') return { ...failed, exitCode: 127, error: `command not found: ${spec.command}` };
  if (code === 'EACCES') return { ...failed, exitCode: 126, error: `permission denied: ${spec.command}` };
  return { ...failed, exitCode: 126, error: `cannot run ${spec.command}: ${reasonText(error)}` };
}

/**
 * The last `maxBytes` of output. Entries are dropped from the front; the oldest kept one may be
 * cut, always at a character boundary.
 */
export class OutputTail {
  #entries: OutputEntry[] = [];
  /** Index of the oldest kept entry: dropping is O(1), compaction happens in bulk. */
  #head = 0;
  #bytes = 0;
  droppedBytes = 0;

  constructor(readonly maxBytes: number) {}

  push(entry: OutputEntry): void {
    this.#entries.push(entry);
    this.#bytes += Buffer.byteLength(entry.text);
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#entries[this.#head];
      if (!oldest) break;
      const excess = this.#bytes - this.maxBytes;
      const bytes = Buffer.from(oldest.text);
      if (bytes.length <= excess) {
        this.#drop(bytes.length);
        this.#head++;
        continue;
      }
      // Skip UTF-8 continuation bytes (10xxxxxx) so the kept text starts on a character.
      let cut = excess;
      while (cut < bytes.length && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut++;
      this.#drop(cut);
      this.#entries[this.#head] = { ...oldest, text: bytes.subarray(cut).toString('utf8') };
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  entries(): OutputEntry[] {
    return this.#entries.slice(this.#head);
  }

  #drop(bytes: number) {
    this.#bytes -= bytes;
    this.droppedBytes += bytes;
  }
}
