/**
 * The local stand-in for Fargate (and for Lambda's inline runs): each claimed run of a managed
 * job is a child process of the runner program (`dist/runner.mjs --job <queue> <id> <run_id>`).
 *
 * The runner gets only what it needs to reach the same DynamoDB and SQS (`runnerEnv`): never the
 * stack's token or the caller's AWS credentials. When the stack runs as root, each run also gets a
 * uid of its own from a pool, which its command runs as: it cannot read the runner, the stack or
 * another run, and everything of that uid is killed when the run ends.
 *
 * Runs end with the stack. On stop each runner is told to stop (SIGTERM): it stops its command and
 * gives the run back, and the stack waits for that. A runner notices the stack's death by its IPC
 * channel closing, and a command its runner's by the death signal it starts with
 * (functions/runner/sandbox.ts); as root, whatever runs of a dead stack left is killed when the
 * next stack starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Env } from '../core/env.ts';
import { describeError, log } from '../core/log.ts';
import type { Executor } from '../dispatch/dispatcher.ts';
import {
  DEFAULT_COMMAND_UIDS,
  isRoot,
  parseCommandUsers,
  rangeUser,
  sweepLeftovers,
  sweepUidRange,
  UidPool,
} from '../runner/sandbox.ts';

/** The bundled runner: beside the bundled CLI, or in the repository's dist/ when run from source. */
export function runnerPath(): string {
  const candidates = [
    new URL('./runner.mjs', import.meta.url),
    new URL('../../dist/runner.mjs', import.meta.url),
  ];
  const found = candidates.map((url) => fileURLToPath(url)).find((file) => existsSync(file));
  if (!found) throw new Error('dist/runner.mjs is missing: run `npm run build`');
  return found;
}

export interface LocalExecutor {
  /** Who commands run as, for the banner. */
  readonly runsAs: string;
  readonly execute: Executor;
  /** Runs still going, by job reference. */
  readonly running: ReadonlyMap<string, ChildProcess>;
  /**
   * Stops every run still going and waits for their runners: each stops its command's process group
   * and gives its run back. A runner still there after `stopTimeoutMs` is killed, with its command.
   */
  stop(): Promise<void>;
}

export interface LocalExecutorOptions {
  /** @default dist/runner.mjs */
  readonly runner?: string;
  /**
   * Relay's settings for the runners (table, endpoints, queues), over this process's environment
   * as it is when each runner starts.
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * How long `stop` waits for runners: a command gets 5 s between SIGTERM and SIGKILL, then its
   * output pipes 5 s more, and the runner then writes the run back. @default 20000
   */
  readonly stopTimeoutMs?: number;
}

/** Relay's settings a runner needs. */
const RUNNER_SETTINGS = new Set<string>([
  Env.TABLE_NAME,
  Env.DYNAMODB_ENDPOINT,
  Env.QUEUE_SHARDS,
  Env.STRICT_QUEUES,
  Env.RETENTION_DAYS,
  Env.IDEMPOTENCY_TTL_HOURS,
  Env.DISPATCH_QUEUE_URL,
  Env.DISPATCH_DLQ_URL,
  Env.SQS_ENDPOINT,
  Env.METRICS,
  Env.ALLOWED_COMMANDS,
  'RELAY_LOG_LEVEL',
]);

/**
 * The system basics a runner keeps. `NODE_OPTIONS` goes on when the stack's caller set it: it is
 * how tests and benchmarks preload their hooks (faults, call logs) into runners. So does the AWS
 * SDK's notice about Node.js versions being turned off (`relay dev` turns it off): otherwise every
 * run on Node.js 20 prints it.
 */
const SYSTEM = new Set([
  'PATH',
  'TMPDIR',
  'LANG',
  'TZ',
  'NODE_OPTIONS',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
]);

/**
 * The runner's environment: the system basics and Relay's store and queue settings, nothing else.
 * Not `RELAY_TOKEN`, not the caller's AWS credentials or profile: the local emulators take static
 * ones, and a command must not find anything worth stealing in its runner.
 */
export function runnerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (SYSTEM.has(name) || RUNNER_SETTINGS.has(name)) kept[name] = value;
  }
  kept.AWS_EC2_METADATA_DISABLED = 'true';
  return kept;
}

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
 * detached with `setsid` survives its runner). A range another live stack also hands out is not
 * swept: those processes are that stack's runs.
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

export async function startLocalExecutor(options: LocalExecutorOptions = {}): Promise<LocalExecutor> {
  const runner = options.runner ?? runnerPath();
  const env = { ...process.env, ...options.env };
  const running = new Map<string, ChildProcess>();
  const pool = uidPool(env);
  const mark = await claimUids(pool);
  let stopping = false;
  return {
    runsAs: pool
      ? `as a uid of their own per run (${pool.describe()}), apart from Relay`
      : 'as you: only submit commands you would run yourself',
    running,
    execute: async (job) => {
      // The dispatcher gives the run back: the next stack runs it.
      if (stopping) throw new Error('the local stack is stopping');
      const key = `${job.queue}/${job.id}/${job.run_id}`;
      const uid = pool?.take();
      if (pool && uid === undefined) {
        // Every uid of the range is in use: the executor fails, the run is given back and retried.
        throw new Error('every command uid is in use; widen RELAY_COMMAND_USER');
      }
      const child = spawn(process.execPath, [runner, '--job', job.queue, job.id, String(job.run_id)], {
        env: {
          // The caller's environment as it is now (a test may set NODE_OPTIONS for a preload), then
          // the stack's settings.
          ...runnerEnv({ ...process.env, ...options.env }),
          ...(uid === undefined || !pool ? {} : { [Env.COMMAND_USER]: `${uid}:${pool.first}` }),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      running.set(key, child);
      /** The uid goes back to the pool once nothing of its run is left. */
      const release = () => {
        if (uid === undefined || !pool) return;
        sweepLeftovers({ kind: 'user', ...rangeUser(uid, pool.first) });
        pool?.give(uid);
      };
      // The command leads its own process group. If the runner dies without stopping it (killed
      // by a signal), stop the group here, as a Fargate task's end would: otherwise the command
      // would go on beside the retry that the expired lease leads to.
      let commandGroup: number | undefined;
      child.on('message', (message: { type?: string; pgid?: number }) => {
        if (message?.type === 'command-started') commandGroup = message.pgid;
      });
      child.once('exit', (_code, signal) => {
        running.delete(key);
        if (signal && commandGroup) {
          try {
            process.kill(-commandGroup, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        release();
      });
      child.once('error', (error) => {
        running.delete(key);
        release();
        log('error', 'could not start the runner', {
          queue: job.queue,
          job_id: job.id,
          ...describeError(error),
        });
      });
    },
    stop: async () => {
      stopping = true;
      const children = [...running.values()];
      const exits = children.map(
        (child) =>
          new Promise<void>((resolve) =>
            child.exitCode !== null || child.signalCode !== null
              ? resolve()
              : child.once('exit', () => resolve()),
          ),
      );
      for (const child of children) child.kill('SIGTERM');
      const force = setTimeout(() => {
        for (const child of children) child.kill('SIGKILL');
      }, options.stopTimeoutMs ?? 20_000);
      await Promise.all(exits);
      clearTimeout(force);
      mark?.close();
    },
  };
}
