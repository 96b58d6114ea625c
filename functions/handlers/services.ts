/**
 * Process-wide clients, built once (at cold start on Lambda) from the environment the stack or
 * the local stack sets: the job store, and the dispatch queue when managed jobs are enabled.
 */
import { documentClient, ecsClient, sqsClient } from '../core/clients.ts';
import { readConfig } from '../core/config.ts';
import { Env } from '../core/env.ts';
import { metricsFromEnv } from '../core/metrics.ts';
import { ecsStopper, type TaskStopper } from '../dispatch/executors.ts';
import { DispatchQueue } from '../dispatch/queue.ts';
import { JobStore } from '../jobs/store.ts';

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
        ? new DispatchQueue(sqsClient(env[Env.SQS_ENDPOINT]), queueUrl, deadLetterUrl)
        : null;
  }
  return dispatch ?? undefined;
}

/** Stops runner tasks, where managed jobs run on Fargate (the stack sets the cluster). */
export function stopperFromEnv(env: NodeJS.ProcessEnv = process.env): TaskStopper | undefined {
  const cluster = env[Env.RUNNER_CLUSTER];
  return cluster ? ecsStopper(ecsClient(), cluster) : undefined;
}
