/**
 * The `TaskEvents` construct on its own, against a stand-in runner: a function that may touch the
 * table and send hints, subscribed to the stopped tasks of the runner it is given.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { DispatchQueue } from '../lib/dispatch-queue.ts';
import { JobTable } from '../lib/job-table.ts';
import type { IShellRunner } from '../lib/shell-runner.ts';
import { TaskEvents } from '../lib/task-events.ts';
import {
  actionsOfRole,
  appWithoutBundling,
  environmentOf,
  JOB_ITEM_ACTIONS,
  logicalIdOf,
} from './support/template.ts';

function build() {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const subscribed: IFunction[] = [];
  const runner: IShellRunner = {
    grantRun: (workload) => Grant.drop(workload, 'run tasks'),
    grantStopTasks: (workload) => Grant.drop(workload, 'stop tasks'),
    onTaskStopped: (id, handler) => {
      subscribed.push(handler);
      return new Rule(stack, id, { eventPattern: { source: ['aws.ecs'] } });
    },
  };
  const taskEvents = new TaskEvents(stack, 'TaskEvents', {
    table: new JobTable(stack, 'Jobs'),
    dispatchQueue: new DispatchQueue(stack, 'Dispatch', { consumerTimeout: Duration.minutes(15) }),
    runner,
  });
  const template = Template.fromStack(stack);
  return { stack, taskEvents, subscribed, template, fn: logicalIdOf(stack, taskEvents.function) };
}

describe('TaskEvents', () => {
  it('may touch the jobs table and send the hint of a retry, nothing else', () => {
    const { template, taskEvents, stack } = build();

    expect(actionsOfRole(template, logicalIdOf(stack, taskEvents.function.role))).toEqual(
      [
        ...JOB_ITEM_ACTIONS,
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ].sort(),
    );
  });

  it('is told the table and both queues by the grants it holds', () => {
    const { template, fn } = build();

    expect(Object.keys(environmentOf(template, fn)).sort()).toEqual(
      [Env.DISPATCH_DLQ_URL, Env.DISPATCH_QUEUE_URL, Env.RETENTION_DAYS, Env.TABLE_NAME].sort(),
    );
  });

  it('hears of the stopped tasks of the runner it is given', () => {
    const { taskEvents, subscribed } = build();

    expect(subscribed).toEqual([taskEvents.function.function]);
  });
});
