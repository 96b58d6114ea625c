/**
 * The `ApiFunctions` construct on its own: one function per route group and the fallback, each
 * reading and writing jobs; the runner's stop grant for the native routes only; the routes that
 * start commands only with a dispatch queue.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { ApiFunctions, type ApiFunctionsProps } from '../lib/api-functions.ts';
import { DispatchQueue } from '../lib/dispatch-queue.ts';
import { JobTable } from '../lib/job-table.ts';
import type { IShellRunner } from '../lib/shell-runner.ts';
import { appWithoutBundling, environmentOf, logicalIdOf } from './support/template.ts';

function build(props: Partial<ApiFunctionsProps> = {}, managed = false) {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const stoppers: IGrantable[] = [];
  const runner: IShellRunner = {
    grantRun: (workload) => Grant.drop(workload, 'run tasks'),
    grantStopTasks: (workload) => {
      stoppers.push(workload);
      return Grant.drop(workload, 'stop tasks');
    },
    onTaskStopped: () => {
      throw new Error('the API functions hear of no task');
    },
  };
  const functions = new ApiFunctions(stack, 'Api', {
    table: new JobTable(stack, 'Jobs'),
    runner,
    dispatchQueue: managed
      ? new DispatchQueue(stack, 'Dispatch', { consumerTimeout: Duration.minutes(15) })
      : undefined,
    ...props,
  });
  const template = Template.fromStack(stack);
  const envOf = (fn: Parameters<typeof logicalIdOf>[1]) => environmentOf(template, logicalIdOf(stack, fn));
  return { functions, stoppers, envOf };
}

describe('ApiFunctions', () => {
  it('has no ManagedRoutes without a dispatch queue', () => {
    const { functions } = build();

    expect(functions.managedRoutes).toBeUndefined();
    expect(functions.handlers.managed).toBeUndefined();
  });

  it('gives the runner’s stop grant to the native routes only', () => {
    const { functions, stoppers } = build({}, true);

    expect(stoppers).toEqual([functions.jobRoutes]);
  });

  it('names the table in every function it builds', () => {
    const { functions, envOf } = build({}, true);

    for (const fn of [
      functions.relayRoutes,
      functions.jobRoutes,
      functions.fallback,
      functions.managedRoutes,
    ]) {
      expect(envOf(fn as never)).toHaveProperty(Env.TABLE_NAME);
    }
  });

  it('tells ManagedRoutes the allow-list and the default command timeout in seconds', () => {
    const { functions, envOf } = build(
      { allowedCommands: { q: ['/bin/true'] }, defaultCommandTimeout: Duration.minutes(2) },
      true,
    );

    expect(envOf(functions.managedRoutes as never)).toMatchObject({
      [Env.ALLOWED_COMMANDS]: '{"q":["/bin/true"]}',
      [Env.COMMAND_TIMEOUT]: '120',
      [Env.DISPATCH_QUEUE_URL]: expect.anything(),
    });
  });
});
