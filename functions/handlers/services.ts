/**
 * Process-wide clients for the Lambda entry points (and the runner program), built once at cold
 * start from the environment the stack sets: the job store, the dispatch queue when managed jobs are
 * enabled, the API's context. Entry points wire; nothing below them reads the environment.
 */
import { commandSettingsFromEnv } from '../api/commands.ts';
import { type ApiContext, contextFor } from '../api/context.ts';
import { openApiFile } from '../api/openapi-source.ts';
import { documentClient, ecsClient, lazyClient, sqsClient } from '../core/clients.ts';
import { readConfig } from '../core/config.ts';
import { Env } from '../core/env.ts';
import { metricsFromEnv } from '../core/metrics.ts';
import { ecsStopper, type TaskStopper } from '../dispatch/executors.ts';
import { DispatchQueue } from '../dispatch/queue.ts';
import { JobStore } from '../jobs/store.ts';
import { type CommandPolicy, policyFromEnv } from '../runner/policy.ts';
import { type Identity, identityFromEnv } from '../runner/sandbox.ts';

let store: JobStore | undefined;
let dispatch: DispatchQueue | null | undefined;

export function storeFromEnv(): JobStore {
  if (!store) {
    const config = readConfig();
    store = new JobStore(documentClient(config.dynamodbEndpoint), config, Date.now, metricsFromEnv());
  }
  return store;
}

/** The dispatch queue, or `undefined` where managed jobs are not configured. */
export function dispatchFromEnv(env: NodeJS.ProcessEnv = process.env): DispatchQueue | undefined {
  if (dispatch === undefined) {
    const queueUrl = env[Env.DISPATCH_QUEUE_URL];
    const deadLetterUrl = env[Env.DISPATCH_DLQ_URL];
    dispatch =
      queueUrl && deadLetterUrl
        ? new DispatchQueue(
            lazyClient(() => sqsClient(env[Env.SQS_ENDPOINT])),
            queueUrl,
            deadLetterUrl,
          )
        : null;
  }
  return dispatch ?? undefined;
}

let stopper: TaskStopper | null | undefined;

/**
 * Stops runner tasks, where managed jobs run on Fargate (the stack sets the cluster). One per
 * process, whose ECS client is built by the first stop: most invocations stop no task.
 */
export function stopperFromEnv(env: NodeJS.ProcessEnv = process.env): TaskStopper | undefined {
  if (stopper === undefined) {
    const cluster = env[Env.RUNNER_CLUSTER];
    stopper = cluster ? ecsStopper(lazyClient(ecsClient), cluster) : null;
  }
  return stopper ?? undefined;
}

/** The commands each queue may run (`RELAY_ALLOWED_COMMANDS`), read once. */
export function policyFromProcessEnv(env: NodeJS.ProcessEnv = process.env): CommandPolicy {
  return policyFromEnv(env[Env.ALLOWED_COMMANDS]);
}

/** Who commands this process starts run as (`RELAY_COMMAND_USER`, when root). */
export function identityFromProcessEnv(env: NodeJS.ProcessEnv = process.env): Identity {
  return identityFromEnv(env[Env.COMMAND_USER]);
}

let apiContext: ApiContext | undefined;

/** The API's context, built once at cold start. */
export function apiContextFromEnv(): ApiContext {
  apiContext ??= contextFor(storeFromEnv(), {
    dispatch: dispatchFromEnv(),
    stopTask: stopperFromEnv(),
    commands: commandSettingsFromEnv(),
    // The build puts the document beside this bundle (RelayFunction's `openApiDocument`).
    openapi: openApiFile(new URL('./openapi.json', import.meta.url)),
  });
  return apiContext;
}
