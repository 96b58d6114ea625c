/**
 * The local stand-in for Fargate (and for Lambda's inline runs): each claimed run of a managed
 * job is a child process of the runner program (`dist/runner.mjs --job <queue> <id> <run_id>`).
 *
 * The runner gets only what it needs to reach the same DynamoDB and SQS (`runnerEnv`): never the
 * stack's token or the caller's AWS credentials. When the stack runs as root, each run also gets a
 * uid of its own from a pool, which its command runs as: it cannot read the runner, the stack or
 * another run, and everything of that uid is killed when the run ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  /** Stops every run still going (SIGTERM; the runner stops its command's process group). */
  stop(): Promise<void>;
}

/** Relay's settings a runner needs, plus test hooks that ask for them (`RELAY_FAULT_*`, `RELAY_CALL_LOG`). */
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
  'RELAY_CALL_LOG',
]);

/**
 * The runner's environment: the system basics and Relay's store and queue settings, nothing else.
 * Not `RELAY_TOKEN`, not the caller's AWS credentials or profile: the local emulators take static
 * ones, and a command must not find anything worth stealing in its runner.
 */
export function runnerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (['PATH', 'TMPDIR', 'LANG', 'TZ', 'NODE_OPTIONS'].includes(name) || RUNNER_SETTINGS.has(name)) {
      kept[name] = value;
    } else if (name.startsWith('RELAY_FAULT_')) kept[name] = value;
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

export function localExecutor(
  runner: string = runnerPath(),
  env: NodeJS.ProcessEnv = process.env,
): LocalExecutor {
  const running = new Map<string, ChildProcess>();
  const pool = uidPool(env);
  return {
    runsAs: pool
      ? `as a uid of their own per run (${pool.describe()}), apart from Relay`
      : 'as you: only submit commands you would run yourself',
    running,
    execute: async (job) => {
      const key = `${job.queue}/${job.id}/${job.run_id}`;
      const uid = pool?.take();
      if (pool && uid === undefined) {
        // Every uid of the range is in use: the executor fails, the run is given back and retried.
        throw new Error('every command uid is in use; widen RELAY_COMMAND_USER');
      }
      const child = spawn(process.execPath, [runner, '--job', job.queue, job.id, String(job.run_id)], {
        env: {
          ...runnerEnv(env),
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
      const exits = [...running.values()].map(
        (child) =>
          new Promise<void>((resolve) =>
            child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
          ),
      );
      for (const child of running.values()) child.kill('SIGTERM');
      await Promise.all(exits);
    },
  };
}
