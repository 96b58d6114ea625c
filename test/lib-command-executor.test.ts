/**
 * The `CommandExecutor` construct: a function that runs one command per invocation under a role
 * with no permission at all, and the one grant that lets a caller invoke it.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { CommandExecutor } from '../lib/command-executor.ts';
import {
  appWithoutBundling,
  arnOf,
  environmentOf,
  logicalIdOf,
  nagFindingsUnder,
  policiesOfRole,
  roleOfFunction,
  roleWorkload,
  statementsOfRole,
} from './support/template.ts';

function build(memorySize?: number) {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const executor = new CommandExecutor(stack, 'Executor', { memorySize });
  const caller = roleWorkload(new Role(stack, 'Caller', { assumedBy: new AccountRootPrincipal() }));
  const fn = logicalIdOf(stack, executor.function);
  return { stack, executor, caller, fn, template: () => Template.fromStack(stack) };
}

describe('CommandExecutor', () => {
  it('runs under a role with no policy at all: no inline, managed or attached policy', () => {
    const { template, fn } = build();
    const role = roleOfFunction(template(), fn);

    expect(policiesOfRole(template(), role)).toEqual([]);
    expect(template().toJSON().Resources[role].Properties).not.toHaveProperty('ManagedPolicyArns');
    expect(template().toJSON().Resources[role].Properties).not.toHaveProperty('Policies');
  });

  it('keeps its role empty when a caller is granted to invoke it', () => {
    const { template, fn, executor, caller } = build();

    executor.grantInvoke(caller);

    expect(policiesOfRole(template(), roleOfFunction(template(), fn))).toEqual([]);
  });

  it('creates no log group: its role could not write to one', () => {
    const { template, fn } = build();

    template().resourceCountIs('AWS::Logs::LogGroup', 0);
    expect(template().toJSON().Resources[fn].Properties.LoggingConfig).toBeUndefined();
  });

  it('holds no Relay setting in its environment', () => {
    const { template, fn } = build();

    expect(Object.keys(environmentOf(template(), fn)).filter((name) => name.startsWith('RELAY_'))).toEqual(
      [],
    );
  });

  it('gives a command Lambda’s longest timeout and 1 GiB by default', () => {
    const { template } = build();

    template().hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
    });
  });

  it('takes the memory it is given', () => {
    const { template } = build(3008);

    template().hasResourceProperties('AWS::Lambda::Function', { MemorySize: 3008 });
  });

  it('lets a caller invoke exactly this function: not its versions or aliases, nothing else', () => {
    const { stack, template, fn, executor, caller } = build();

    executor.grantInvoke(caller);

    expect(statementsOfRole(template(), logicalIdOf(stack, caller.role))).toEqual([
      { actions: ['lambda:InvokeFunction'], resources: [arnOf(fn)] },
    ]);
  });

  it('tells a caller which function to invoke', () => {
    const { stack, executor, fn, caller } = build();

    executor.grantInvoke(caller);

    expect(stack.resolve(caller.environment)).toEqual({ [Env.EXECUTOR_FUNCTION]: { Ref: fn } });
  });

  it('passes the cdk-nag AwsSolutions checks', () => {
    const { stack, executor, caller } = build();
    executor.grantInvoke(caller);

    expect(nagFindingsUnder(stack, 'Test/Executor/').ours).toEqual([]);
  });
});
