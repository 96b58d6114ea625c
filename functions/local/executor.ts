/**
 * The local stand-in for the executors of AWS: each claimed run of a managed job runs in the stack's
 * own process, as the inline executor runs it in the dispatcher on AWS (functions/dispatch/
 * executors.ts). `runJob` keeps the run's books here (heartbeats, logs, outcome), and the command is
 * the one process the run starts, straight from here: no program starts between them.
 *
 * The command gets no setting of Relay's: its environment is `PATH`, a `HOME` and the job's own `env`
 * (`commandEnv`, functions/runner/run.ts). When the stack runs as root, each run also gets a uid of
 * its own from a pool, which its command runs as: it cannot read the stack's environment or memory,
 * nor another run's, and everything of that uid is killed when the run ends.
 *
 * A run outlives the SQS batch that started it, as a Fargate task does: the dispatcher waits only
 * until the command has started (the local queue's visibility timeout is a minute, and local runs
 * include the long ones Fargate takes on AWS).
 *
 * Runs end with the stack. On stop each run is told to stop: its command's process group is stopped
 * and the run given back, and the stack waits for that. A stack that dies without a stop takes its
 * commands with it (the death signal each starts with, functions/runner/sandbox.ts); as root,
 * whatever a command detached is killed when the next stack starts.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Env } from '../core/env.ts';
import { describeError, log } from '../core/log.ts';
import type { Executor } from '../dispatch/dispatcher.ts';
import type { HintSender } from '../jobs/service.ts';
import type { JobStore } from '../jobs/store.ts';
import { giveBack, runJob } from '../runner/job.ts';
import type { CommandPolicy } from '../runner/policy.ts';
import { runCommand } from '../runner/run.ts';
import {
  DEFAULT_COMMAND_UIDS,
  type Identity,
  isRoot,
  parseCommandUsers,
  rangeUser,
  SELF,
  sweepUidRange,
  UidPool,
} from '../runner/sandbox.ts';

export interface LocalExecutor {
  /** Who commands run as, for the banner. */
  readonly runsAs: string;
  readonly execute: Executor;
  /**
   * Stops every run still going and waits for them: each stops its command's process group (SIGTERM,
   * SIGKILL 5 s later) and gives its run back. It stops waiting after `stopTimeoutMs`.
   */
  stop(): Promise<void>;
}

export interface LocalExecutorDeps {
  readonly store: JobStore;
  /** Where retries, chained jobs and dead jobs send their hints. */
  readonly dispatch?: HintSender;
  /** The commands each queue may run. @default any */
  readonly policy?: CommandPolicy;
  /** Where `RELAY_COMMAND_USER` is read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * How long `stop` waits for runs: a command gets 5 s between SIGTERM and SIGKILL, then its output
   * pipes 5 s more, and the run is then given back. @default 20000
   */
  readonly stopTimeoutMs?: number;
}

/** Why the stack's runs end when it stops: their `last_error` once given back. */
const STOPPED = 'the local stack stopped during the run';

/** The uids runs take when the stack is root: `RELAY_COMMAND_USER` as a range, or the default one. */
function uidPool(env: NodeJS.ProcessEnv): UidPool | undefined {
  if (!isRoot()) return undefined;
  const configured = env[Env.COMMAND_USER] ? parseCommandUsers(env[Env.COMMAND_USER] as string) : undefined;
  if (configured?.kind === 'one') return new UidPool(configured.uid, configured.uid);
  const range = configured ?? DEFAULT_COMMAND_UIDS;
  return new UidPool(range.first, range.last);
}

/**
 * Marks the uids `first`–`last` as handed out by this stack while it runs: a Linux abstract socket
 * named `relay-command-uids.<first>-<last>.<unique>`, which the kernel frees when the process dies,
 * however it dies.
 */
function markUidRange(first: number, last: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(`\0relay-command-uids.${first}-${last}.${process.pid}.${randomUUID()}`, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Whether a live stack other than the one marked by `mine` hands out a uid of `first`–`last`. */
function rangeInUse(first: number, last: number, mine: Server): boolean {
  const own = String(mine.address());
  // /proc/net/unix writes an abstract name with `@` for its NUL bytes (node pads the name with them).
  const marks = readFileSync('/proc/net/unix', 'utf8').matchAll(
    /@(relay-command-uids\.(\d+)-(\d+)\.[^@\s]+)/g,
  );
  return [...marks].some(
    ([, name, from, to]) => `\0${name}` !== own && Number(from) <= last && Number(to) >= first,
  );
}

/**
 * Marks the command uid range as this stack's, when the stack is root, and kills whatever runs of
 * an earlier stack left in it (a stack killed with SIGKILL cannot clean up, and a process a command
 * detached with `setsid` survives the death signal). A range another live stack also hands out is
 * not swept: those processes are that stack's runs.
 */
async function claimUids(pool: UidPool | undefined): Promise<Server | undefined> {
  if (!pool || process.platform !== 'linux') return undefined;
  const mark = await markUidRange(pool.first, pool.last);
  if (rangeInUse(pool.first, pool.last, mark)) {
    const message = 'another Relay stack here hands out the same command uids; set RELAY_COMMAND_USER';
    log('warn', message, { uids: pool.describe() });
    return mark;
  }
  const killed = sweepUidRange(pool.first, pool.last);
  if (killed)
    log('info', 'killed processes left by runs of an earlier stack', { uids: pool.describe(), killed });
  return mark;
}

export async function startLocalExecutor(deps: LocalExecutorDeps): Promise<LocalExecutor> {
  const { store, dispatch, policy } = deps;
  const pool = uidPool(deps.env ?? process.env);
  const mark = await claimUids(pool);
  /** Runs going on: how to stop each, and when it has ended. */
  const running = new Map<string, { readonly stop: AbortController; readonly ended: Promise<void> }>();
  let stopping = false;
  return {
    runsAs: pool
      ? `as a uid of their own per run (${pool.describe()}), apart from Relay`
      : 'as you: only submit commands you would run yourself',
    execute: (job) => {
      // The dispatcher gives the run back: the next stack runs it.
      if (stopping) return Promise.reject(new Error('the local stack is stopping'));
      const uid = pool?.take();
      if (pool && uid === undefined) {
        // Every uid of the range is in use: the run is given back and its hint redelivered.
        return Promise.reject(new Error('every command uid is in use; widen RELAY_COMMAND_USER'));
      }
      const identity: Identity =
        pool && uid !== undefined ? { kind: 'user', ...rangeUser(uid, pool.first) } : SELF;
      const ref = { queue: job.queue, id: job.id, runId: String(job.run_id) };
      const key = `${ref.queue}/${ref.id}/${ref.runId}`;
      const stop = new AbortController();
      // Settled once the command starts, or the run ends without one (stale, refused), or fails
      // before it: then the dispatcher gives the run back, as for any executor that could not start.
      let commandStarted = false;
      let started!: { resolve: () => void; reject: (error: unknown) => void };
      const starting = new Promise<void>((resolve, reject) => {
        started = { resolve, reject };
      });
      const ended = runJob(ref, {
        store,
        dispatch,
        policy,
        identity,
        signal: stop.signal,
        echoOutput: true,
        run: (spec, runDeps, hooks) => {
          commandStarted = true;
          started.resolve();
          return runCommand(spec, runDeps, hooks);
        },
      })
        .then(async (result) => {
          if (result.kind === 'stopped' && stop.signal.aborted)
            await giveBack(store, ref, stop.signal.reason);
        })
        .catch((error: unknown) => {
          if (!commandStarted) {
            started.reject(error);
            return;
          }
          // Its outcome was not recorded: the run is retried once its lease expires.
          log('error', 'a run failed after its command started', {
            queue: ref.queue,
            job_id: ref.id,
            run_id: ref.runId,
            ...describeError(error),
          });
        })
        .finally(() => {
          running.delete(key);
          // The command's uid is free again: whatever the command left was swept when it ended.
          if (uid !== undefined) pool?.give(uid);
          started.resolve();
        });
      running.set(key, { stop, ended });
      return starting;
    },
    stop: async () => {
      stopping = true;
      const runs = [...running.values()];
      for (const run of runs) run.stop.abort(STOPPED);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deps.stopTimeoutMs ?? 20_000);
      });
      const late = await Promise.race([
        Promise.all(runs.map((run) => run.ended)).then(() => false),
        timedOut,
      ]);
      clearTimeout(timer);
      // Their commands still die with this process, by their death signal.
      if (late) log('warn', 'runs still stopping when the local stack stopped', { runs: running.size });
      mark?.close();
    },
  };
}
