/**
 * The local stand-in for Fargate (and for Lambda's inline runs): each claimed run of a managed
 * job is a child process of the runner program (`dist/runner.mjs --job <queue> <id> <run_id>`),
 * started with the stack's own environment so it reaches the same DynamoDB and SQS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeError, log } from '../core/log.ts';
import type { Executor } from '../dispatch/dispatcher.ts';

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
  readonly execute: Executor;
  /** Runs still going, by job reference. */
  readonly running: ReadonlyMap<string, ChildProcess>;
  /** Stops every run still going (SIGTERM; the runner stops its command's process group). */
  stop(): Promise<void>;
}

export function localExecutor(runner: string = runnerPath()): LocalExecutor {
  const running = new Map<string, ChildProcess>();
  return {
    running,
    execute: async (job) => {
      const key = `${job.queue}/${job.id}/${job.run_id}`;
      const child = spawn(process.execPath, [runner, '--job', job.queue, job.id, String(job.run_id)], {
        env: process.env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      running.set(key, child);
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
      });
      child.once('error', (error) => {
        running.delete(key);
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
