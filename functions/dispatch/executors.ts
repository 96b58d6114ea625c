/**
 * Where a claimed managed run executes. `payload.runtime` chooses; without it a run whose command
 * timeout is at most 10 minutes runs inline (`INLINE_LIMIT_MS`), a longer one as an ECS Fargate
 * task. Inline means: the dispatcher does the run's bookkeeping and the command runs on the
 * executor Lambda, which holds no permissions; locally (and in tests) the runner starts the command
 * itself, apart from Relay as far as the machine allows (functions/runner/sandbox.ts).
 */

import { type ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { retryDelayMs } from '../core/backoff.ts';
import { describeError, log } from '../core/log.ts';
import { RUNNER_STARTED_BY } from '../core/runner-task.ts';
import type { Job } from '../jobs/model.ts';
import type { JobStore } from '../jobs/store.ts';
import { commandSpecSchema, type Runtime, runtimeOf } from '../runner/command.ts';
import { runJob } from '../runner/job.ts';
import type { CommandPolicy } from '../runner/policy.ts';
import type { Identity } from '../runner/sandbox.ts';
import type { Executor } from './dispatcher.ts';
import { lambdaRun } from './lambda-run.ts';
import type { DispatchQueue } from './queue.ts';

/** Where the job's command runs; an invalid payload runs inline, where `runJob` records why. */
export function jobRuntime(job: Job): Runtime {
  const spec = commandSpecSchema.safeParse(job.payload);
  return spec.success ? runtimeOf(spec.data) : 'lambda';
}

export function byRuntime(executors: Record<Runtime, Executor>): Executor {
  return (job) => executors[jobRuntime(job)](job);
}

export interface InlineDeps {
  readonly store: JobStore;
  readonly dispatch?: DispatchQueue;
  readonly policy?: CommandPolicy;
  /** The executor function that runs the command; without it, this process runs it. */
  readonly executor?: { readonly lambda: Pick<LambdaClient, 'send'>; readonly functionName: string };
  /** Who a command this process starts runs as. */
  readonly identity?: Identity;
}

/** Runs the job to its end: bookkeeping here, the command on the executor (or in this process). */
export function inlineExecutor(deps: InlineDeps): Executor {
  return async (job) => {
    const ref = { queue: job.queue, id: job.id, runId: String(job.run_id) };
    const run = deps.executor ? lambdaRun(deps.executor.lambda, deps.executor.functionName, ref) : undefined;
    await runJob(ref, { ...deps, run, echoOutput: true });
  };
}

export interface FargateSettings {
  readonly cluster: string;
  readonly taskDefinition: string;
  /** The runner container's name in the task definition. */
  readonly container: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  /** Public subnets without a NAT gateway need a public IP to reach AWS APIs. */
  readonly assignPublicIp: boolean;
}

export interface FargateOptions {
  /** RunTask attempts before the run is given back. @default 5 */
  readonly attempts?: number;
  /** @default 250 */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * RunTask answers throttling above 20 calls per second, and capacity shortages as `failures`; both
 * pass. https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
 */
const retryableFailure = (reason: string | undefined) =>
  /capacity|throttl|rate exceeded|RESOURCE:/i.test(reason ?? '');
const isThrottling = (error: unknown) =>
  ['ThrottlingException', 'ServerException', 'LimitExceededException'].includes(
    (error as { name?: string })?.name ?? '',
  );

/**
 * Starts the run as a Fargate task of the runner image. The task gets the job reference, never the
 * payload: container overrides are limited to 8 KiB. Throttling and capacity failures are retried
 * with backoff; if the task still cannot start, the run is given back (no retry spent) and the
 * error fails the SQS message, which SQS redelivers.
 */
export function fargateExecutor(
  ecs: Pick<ECSClient, 'send'>,
  settings: FargateSettings,
  store: JobStore,
  options: FargateOptions = {},
): Executor {
  const attempts = options.attempts ?? 5;
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  return async (job) => {
    const runId = String(job.run_id);
    let reason = 'unknown';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const out = await ecs.send(
          new RunTaskCommand({
            cluster: settings.cluster,
            taskDefinition: settings.taskDefinition,
            launchType: 'FARGATE',
            count: 1,
            startedBy: RUNNER_STARTED_BY,
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: [...settings.subnets],
                securityGroups: [...settings.securityGroups],
                assignPublicIp: settings.assignPublicIp ? 'ENABLED' : 'DISABLED',
              },
            },
            overrides: {
              containerOverrides: [
                { name: settings.container, command: ['--job', job.queue, job.id, runId] },
              ],
            },
          }),
        );
        const taskArn = out.tasks?.[0]?.taskArn;
        if (taskArn && !out.failures?.length) {
          // Recorded so a cancel or an expired lease can stop the task; without it, the runner
          // still stops its command when its heartbeat fails.
          await store.recordTask(job.queue, job.id, runId, taskArn).catch((error: unknown) => {
            log('warn', 'could not record the Fargate task of a run', {
              queue: job.queue,
              job_id: job.id,
              ...describeError(error),
            });
          });
          return;
        }
        reason = out.failures?.map((f) => f.reason).join('; ') || 'no task started';
        if (!retryableFailure(reason)) break;
      } catch (error) {
        if (!isThrottling(error)) {
          reason = (error as Error).message;
          break;
        }
        reason = 'RunTask throttled';
      }
      if (attempt < attempts) {
        await sleep(
          retryDelayMs(attempt - 1, { baseMs: options.baseDelayMs ?? 250, maxMs: 30_000, jitter: 'equal' }),
        );
      }
    }
    log('warn', 'could not start a Fargate task; the run is given back', {
      queue: job.queue,
      job_id: job.id,
      run_id: runId,
      reason,
    });
    await store
      .releaseRun(job.queue, job.id, runId, `could not start a Fargate task: ${reason}`)
      .catch((error: unknown) => {
        log('error', 'could not give the run back; its lease will expire', describeError(error));
      });
    throw new Error(`could not start a Fargate task for ${job.queue}/${job.id}: ${reason}`);
  };
}

/** Stops the Fargate task of a run that was cancelled or whose lease expired. */
export type TaskStopper = (taskArn: string, reason: string) => Promise<void>;

export function ecsStopper(ecs: Pick<ECSClient, 'send'>, cluster: string): TaskStopper {
  return async (taskArn, reason) => {
    try {
      // StopTask's reason is at most 255 characters.
      await ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, 255) }));
    } catch (error) {
      // A task that already stopped (or was never found) needs no stopping.
      if ((error as { name?: string }).name === 'InvalidParameterException') return;
      throw error;
    }
  };
}
