/**
 * The `RelayFunction` construct: the house defaults every Relay function gets, its own log group
 * and a role that may write only there, or, for a function whose caller keeps its output, neither.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { RelayFunction, type RelayFunctionProps } from '../lib/relay-function.ts';
import {
  appWithoutBundling,
  arnOf,
  logicalIdOf,
  policiesOfRole,
  roleOfFunction,
  statementsOfRole,
} from './support/template.ts';

const base: RelayFunctionProps = { entry: 'fallback.ts', description: 'test', timeout: Duration.seconds(10) };

function build(props: Partial<RelayFunctionProps> = {}) {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const fn = new RelayFunction(stack, 'Fn', { ...base, ...props });
  const template = Template.fromStack(stack);
  const role = roleOfFunction(template, logicalIdOf(stack, fn));
  return { stack, fn, template, role };
}

describe('RelayFunction', () => {
  it('logs to a log group of its own, kept 30 days, which its role may write to and nothing else', () => {
    const { template, role, fn } = build();
    const logGroup =
      template.toJSON().Resources[logicalIdOf(fn.stack, fn)].Properties.LoggingConfig.LogGroup.Ref;

    expect(template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(30);
    expect(statementsOfRole(template, role)).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [arnOf(logGroup)] },
    ]);
    expect(fn.writesLogs).toBe(true);
  });

  it('without logs, has no log group and a role with no policy at all', () => {
    const { template, role, fn } = build({ logs: false });

    template.resourceCountIs('AWS::Logs::LogGroup', 0);
    expect(policiesOfRole(template, role)).toEqual([]);
    expect(fn.writesLogs).toBe(false);
  });

  it('rejects a log retention without logs, naming the fix', () => {
    expect(() => build({ logs: false, logRetention: RetentionDays.ONE_WEEK })).toThrow(
      'Fn: logRetention is 7 days, but logs is false, so there is no log group: remove logRetention',
    );
  });

  it.each([
    [{ timeout: Duration.minutes(16) }, /timeout is 16 minutes/],
    [{ memorySize: 100 }, /memorySize is 100 MiB/],
  ] as [Partial<RelayFunctionProps>, RegExp][])('rejects %o, naming the range', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
