/**
 * The `RelayFunction` construct: the house defaults every Relay function gets, its own log group
 * (JSON logs, without Lambda's per-invocation lines unless asked for) and a role that may write only there, or, for a function whose caller keeps its output, neither;
 * an environment that refuses a second value for a variable; and the logical IDs its resources had
 * before it was a construct of its own.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { RelayFunction, type RelayFunctionProps } from '../lib/relay-function.ts';
import {
  appWithoutBundling,
  arnOf,
  environmentOf,
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
    const { stack, template, role, fn } = build();
    const logGroup =
      template.toJSON().Resources[logicalIdOf(stack, fn)].Properties.LoggingConfig.LogGroup.Ref;

    expect(template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(30);
    expect(statementsOfRole(template, role)).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [arnOf(logGroup)] },
    ]);
    expect(fn.logGroup).toBeDefined();
  });

  it('logs in JSON, its own lines from INFO, and of Lambda’s system logs only warnings and errors', () => {
    const { stack, template, fn } = build();

    expect(template.toJSON().Resources[logicalIdOf(stack, fn)].Properties.LoggingConfig).toMatchObject({
      LogFormat: 'JSON',
      ApplicationLogLevel: 'INFO',
      SystemLogLevel: 'WARN',
    });
  });

  it('keeps each invocation’s start, runtime-done and report events with platformLogs info', () => {
    const { stack, template, fn } = build({ platformLogs: 'info' });

    expect(template.toJSON().Resources[logicalIdOf(stack, fn)].Properties.LoggingConfig).toMatchObject({
      LogFormat: 'JSON',
      SystemLogLevel: 'INFO',
    });
  });

  it('without logs, has no log group and a role with no policy at all', () => {
    const { template, role, fn } = build({ logs: false });

    template.resourceCountIs('AWS::Logs::LogGroup', 0);
    expect(policiesOfRole(template, role)).toEqual([]);
    expect(fn.logGroup).toBeUndefined();
  });

  it('rejects platformLogs without logs, naming the fix', () => {
    expect(() => build({ logs: false, platformLogs: 'info' })).toThrow(
      "Fn: platformLogs is 'info', but logs is false, so Lambda's logs of it go nowhere: remove platformLogs",
    );
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

  it('holds its function, role and log group in its own scope', () => {
    const { fn } = build();

    expect([fn.function, fn.role, fn.logGroup].map((child) => child?.node.path)).toEqual([
      'Test/Fn/Default',
      'Test/Fn/Role',
      'Test/Fn/Logs',
    ]);
  });

  // Construct IDs are API: a new logical ID would replace the role and the log group, and with the
  // log group the function's logs. These are the IDs of a function `Fn` and of `Outer/Function`.
  it('keeps the logical IDs its resources had when role and log group were its siblings', () => {
    const stack = new Stack(appWithoutBundling(), 'Test');
    new RelayFunction(stack, 'Fn', base);
    new RelayFunction(new Construct(stack, 'Outer'), 'Function', base);

    expect(Object.keys(Template.fromStack(stack).toJSON().Resources).sort()).toEqual(
      [
        'Fn9270CBC0',
        'FnLogs3EE1EAE0',
        'FnRoleDAF86AC1',
        'FnRoleDefaultPolicy12B9B8A2',
        'OuterFunction625F89E8',
        'OuterFunctionLogsDA05E609',
        'OuterFunctionRoleD3BDC6E8',
        'OuterFunctionRoleDefaultPolicy8DB824B0',
      ].sort(),
    );
  });

  it('keeps those logical IDs when nested as Default in a construct named after it', () => {
    const stack = new Stack(appWithoutBundling(), 'Test');
    new RelayFunction(new Construct(stack, 'Fn'), 'Default', base);

    expect(Object.keys(Template.fromStack(stack).toJSON().Resources).sort()).toEqual(
      ['Fn9270CBC0', 'FnLogs3EE1EAE0', 'FnRoleDAF86AC1', 'FnRoleDefaultPolicy12B9B8A2'].sort(),
    );
  });

  // Node.js would parse the bundle's whole source map at every cold start; logged stacks are
  // decoded with it only when logged (test/source-stack.test.ts).
  it('starts Node.js without --enable-source-maps', () => {
    const { stack, template, fn } = build();

    expect(environmentOf(template, logicalIdOf(stack, fn))).not.toHaveProperty('NODE_OPTIONS');
  });

  it('sets a variable once, and again only to the same value', () => {
    const stack = new Stack(appWithoutBundling(), 'Test');
    const fn = new RelayFunction(stack, 'Fn', base);

    fn.addEnvironment(Env.TABLE_NAME, 'jobs');
    fn.addEnvironment(Env.TABLE_NAME, 'jobs');

    expect(environmentOf(Template.fromStack(stack), logicalIdOf(stack, fn))).toMatchObject({
      [Env.TABLE_NAME]: 'jobs',
    });
  });

  it('refuses a second value for a variable, naming both values and the fix', () => {
    const { fn } = build();
    fn.addEnvironment(Env.TABLE_NAME, 'jobs');

    expect(() => fn.addEnvironment(Env.TABLE_NAME, 'other')).toThrow(
      'Test/Fn: RELAY_TABLE_NAME is already "jobs", and something now sets it to "other": a workload ' +
        'reaches one table, one dispatch queue, one runner and one executor, with one set of settings. ' +
        'Grant it those of one Relay only',
    );
  });
});
