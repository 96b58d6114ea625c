/**
 * What the API checks before a managed job (a command) is written: that it came through a route
 * allowed to start commands, that the deployment lets its queue run it, and that some executor can
 * honour it. Its payload gets the deployment's default timeout written in, so the stored job shows
 * what will run.
 */
import * as z from 'zod';
import { Env } from '../core/env.ts';
import { type ChildJobSpec, startsCommands } from '../jobs/model.ts';
import {
  type CommandPayload,
  commandSpecSchema,
  DEFAULT_COMMAND_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  unrunnable,
  withDefaultTimeout,
} from '../runner/command.ts';
import { ANY_COMMAND, type CommandPolicy, policyFromEnv } from '../runner/policy.ts';
import { HttpError } from './http.ts';

export interface CommandSettings {
  /** The timeout of a command whose payload gives none. */
  readonly defaultTimeoutMs: number;
  /** The commands each queue may run. */
  readonly policy: CommandPolicy;
}

export const DEFAULT_COMMAND_SETTINGS: CommandSettings = {
  defaultTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
  policy: ANY_COMMAND,
};

const timeoutSeconds = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_TIMEOUT_MS / 1000, `${Env.COMMAND_TIMEOUT} must be at most 43200 seconds (12 h)`);

/** `RELAY_COMMAND_TIMEOUT` and `RELAY_ALLOWED_COMMANDS`, validated; throws naming what is wrong. */
export function commandSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): CommandSettings {
  const raw = env[Env.COMMAND_TIMEOUT];
  const seconds = raw === undefined || raw === '' ? undefined : timeoutSeconds.safeParse(raw);
  if (seconds && !seconds.success) {
    throw new Error(`${Env.COMMAND_TIMEOUT} is ${JSON.stringify(raw)}: give whole seconds from 1 to 43200`);
  }
  return {
    defaultTimeoutMs: seconds ? seconds.data * 1000 : DEFAULT_COMMAND_TIMEOUT_MS,
    policy: policyFromEnv(env[Env.ALLOWED_COMMANDS]),
  };
}

/** A job, or a job it chains, as the API sees it before it is stored. */
interface Chained {
  readonly type?: string;
  readonly payload: unknown;
  readonly queue?: string;
  readonly on_success?: ChildJobSpec;
  readonly on_failure?: ChildJobSpec;
}

/**
 * Refuses a job that would start a command on a route that may not (403). `what` is what such a
 * job is submitted as on the managed route: a job, or a schedule's job.
 */
export function refuseCommands(
  job: Chained,
  what = 'jobs, and jobs that chain one, are submitted at POST /v1/managed/jobs',
): void {
  if (!startsCommands(job)) return;
  throw new HttpError(
    403,
    `managed (SHELL) ${what}, which needs the permission to run commands`,
    'use_managed_route',
  );
}

/**
 * The job with every command it runs or chains settled: the default timeout written in where the
 * payload gives none. Refuses a command the queue may not run (403) and one no executor can honour
 * (422). `queue` is the queue the job runs on; chained jobs default to it.
 */
export function settleCommands<T extends Chained>(
  job: T,
  queue: string,
  settings: CommandSettings,
  path = '',
): T {
  const jobQueue = job.queue ?? queue;
  let payload = job.payload;
  if (job.type === 'SHELL') {
    payload = withDefaultTimeout(payload as CommandPayload, settings.defaultTimeoutMs);
    // The payload passed the schema already; only the deployment's own rules are left to check.
    const spec = commandSpecSchema.parse(payload);
    const refusal = settings.policy.refusal(jobQueue, spec.command);
    if (refusal) throw new HttpError(403, `${path}${refusal}`, 'command_not_allowed');
    const problem = unrunnable(spec);
    if (problem) throw new HttpError(422, `${path}payload.${problem}`);
  }
  return {
    ...job,
    payload,
    ...(job.on_success && {
      on_success: settleCommands(job.on_success, jobQueue, settings, `${path}on_success.`),
    }),
    ...(job.on_failure && {
      on_failure: settleCommands(job.on_failure, jobQueue, settings, `${path}on_failure.`),
    }),
  };
}
