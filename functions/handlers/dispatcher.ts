/**
 * Lambda entry: the dispatcher, on the dispatch queue's event source with
 * `ReportBatchItemFailures`. It never runs a command itself: short runs execute on the executor
 * function (one command per invocation, no permissions) while the dispatcher keeps their books;
 * long ones start as Fargate tasks.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import middy from '@middy/core';
import { ecsClient, withoutSdkLogging } from '../core/clients.ts';
import { Env } from '../core/env.ts';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { byRuntime, type FargateSettings, fargateExecutor, inlineExecutor } from '../dispatch/executors.ts';
import { dispatchFromEnv, policyFromProcessEnv, storeFromEnv } from './services.ts';

const list = (value: string | undefined) => (value ?? '').split(',').filter(Boolean);

/** The Fargate settings the stack sets; a missing one is named at cold start. */
function fargateSettings(env: NodeJS.ProcessEnv = process.env): FargateSettings {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} must be set for the dispatcher to start Fargate tasks`);
    return value;
  };
  return {
    cluster: need(Env.RUNNER_CLUSTER),
    taskDefinition: need(Env.RUNNER_TASK_DEFINITION),
    container: need(Env.RUNNER_CONTAINER),
    subnets: list(need(Env.RUNNER_SUBNETS)),
    securityGroups: list(env[Env.RUNNER_SECURITY_GROUPS]),
    assignPublicIp: env[Env.RUNNER_PUBLIC_IP] === 'true',
  };
}

/** The executor function; the stack always sets it, since commands must not run in this process. */
function executorName(env: NodeJS.ProcessEnv = process.env): string {
  const name = env[Env.EXECUTOR_FUNCTION];
  if (!name)
    throw new Error(`${Env.EXECUTOR_FUNCTION} must be set for the dispatcher to run inline commands`);
  return name;
}

const store = storeFromEnv();
const dispatch = dispatchFromEnv();
const executor = { lambda: withoutSdkLogging(new LambdaClient({})), functionName: executorName() };

export const handler = middy(
  createDispatcher({
    store,
    dispatch,
    execute: byRuntime({
      lambda: inlineExecutor({ store, dispatch, executor, policy: policyFromProcessEnv() }),
      fargate: fargateExecutor(ecsClient(), fargateSettings(), store),
    }),
  }),
);
