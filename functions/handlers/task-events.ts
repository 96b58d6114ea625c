/**
 * Lambda entry: EventBridge's ECS Task State Change events for stopped runner tasks. A run whose
 * task stopped without ending it fails at once (fenced by its run id) instead of at lease expiry.
 */
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { metricsFromEnv } from '../core/metrics.ts';
import { type TaskStoppedResult, taskStateChangeSchema, taskStopped } from '../dispatch/task-events.ts';
import { dispatchFromEnv, storeFromEnv } from './services.ts';

const store = storeFromEnv();
const dispatch = dispatchFromEnv();
const metrics = metricsFromEnv();

export const handler = middy(
  async (event: EventBridgeEvent<'ECS Task State Change', unknown>): Promise<TaskStoppedResult> =>
    // A malformed event throws: EventBridge retries it and the lease expiry remains the backstop.
    taskStopped(taskStateChangeSchema.parse(event.detail), { store, dispatch, metrics }),
);
