/**
 * The `DispatchQueue` construct: an encrypted, TLS-only queue of dispatch hints whose poison
 * messages end in a dead-letter queue, with grants named after what each caller does.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { DispatchQueue, type DispatchQueueProps } from '../lib/dispatch-queue.ts';
import type { IWorkload } from '../lib/workload.ts';
import { type RoleWorkload, roleWorkload } from './support/template.ts';

const QUEUE = 'AWS::SQS::Queue';
const defaults: DispatchQueueProps = { consumerTimeout: Duration.minutes(2) };

function build(props: DispatchQueueProps = defaults): {
  stack: Stack;
  dispatch: DispatchQueue;
  role: RoleWorkload;
} {
  const stack = new Stack(new App(), 'Test');
  const dispatch = new DispatchQueue(stack, 'Dispatch', props);
  const role = roleWorkload(new Role(stack, 'Grantee', { assumedBy: new AccountRootPrincipal() }));
  return { stack, dispatch, role };
}

const logicalId = (stack: Stack, queue: DispatchQueue['queue']): string =>
  stack.getLogicalId(queue.node.defaultChild as never);

/** The role's statements: each statement's actions and the logical id of the queue it names. */
function statementsOf(stack: Stack): { actions: string[]; resource: unknown }[] {
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
  return policies
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    .map((statement) => ({ actions: [statement.Action].flat().sort(), resource: statement.Resource }));
}

describe('DispatchQueue', () => {
  it('encrypts both queues with SQS-managed keys', () => {
    const { stack } = build();

    Template.fromStack(stack).resourcePropertiesCountIs(QUEUE, { SqsManagedSseEnabled: true }, 2);
  });

  it('denies requests without TLS on both queues', () => {
    const { stack } = build();

    Template.fromStack(stack).resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
      2,
    );
  });

  it('moves a message to the dead-letter queue after 5 receives by default', () => {
    const { stack, dispatch } = build();

    Template.fromStack(stack).hasResourceProperties(QUEUE, {
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stack, dispatch.deadLetterQueue), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
  });

  it('moves a message to the dead-letter queue after the given number of receives', () => {
    const { stack } = build({ ...defaults, maxReceiveCount: 12 });

    Template.fromStack(stack).hasResourceProperties(QUEUE, {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 12 }),
    });
  });

  it('keeps dead letters for 14 days', () => {
    const { stack, dispatch } = build();

    const queues = Template.fromStack(stack).findResources(QUEUE);

    expect(queues[logicalId(stack, dispatch.deadLetterQueue)]?.Properties).toMatchObject({
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('hides a received message for six times the consumer timeout', () => {
    const { stack } = build({ consumerTimeout: Duration.seconds(90) });

    Template.fromStack(stack).hasResourceProperties(QUEUE, { VisibilityTimeout: 540 });
  });

  it('rejects a consumer timeout longer than 15 minutes, naming the value and the fix', () => {
    expect(() => build({ consumerTimeout: Duration.minutes(16) })).toThrow(
      /consumerTimeout is 16 minutes.*at most Duration\.minutes\(15\)/,
    );
  });

  it('rejects a consumer timeout under a second', () => {
    expect(() => build({ consumerTimeout: Duration.millis(500) })).toThrow(/consumerTimeout is 500 millis/);
  });

  it.each([0, 1001, 2.5])('rejects a maxReceiveCount of %s, naming the range', (maxReceiveCount) => {
    expect(() => build({ ...defaults, maxReceiveCount })).toThrow(
      `maxReceiveCount is ${maxReceiveCount}, but SQS accepts a whole number from 1 to 1000`,
    );
  });

  it('lets hint senders send to the dispatch queue only', () => {
    const { stack, dispatch, role } = build();

    dispatch.grantSendHints(role);

    expect(statementsOf(stack)).toEqual([
      {
        actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        resource: { 'Fn::GetAtt': [logicalId(stack, dispatch.queue), 'Arn'] },
      },
    ]);
  });

  it('lets the consumer receive and delete dispatch hints', () => {
    const { stack, dispatch, role } = build();

    dispatch.grantConsume(role);

    expect(statementsOf(stack)).toEqual([
      {
        actions: expect.arrayContaining([
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
        ]),
        resource: { 'Fn::GetAtt': [logicalId(stack, dispatch.queue), 'Arn'] },
      },
    ]);
  });

  it('lets the reconciler receive, hide and delete dead letters, on the dead-letter queue only', () => {
    const { stack, dispatch, role } = build();

    dispatch.grantReconcileDeadLetters(role);

    expect(statementsOf(stack)).toEqual([
      {
        actions: [
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:ReceiveMessage',
        ],
        resource: { 'Fn::GetAtt': [logicalId(stack, dispatch.deadLetterQueue), 'Arn'] },
      },
    ]);
  });

  it('has no grant that sends to the dead-letter queue: only SQS’s redrive fills it', () => {
    const { stack, dispatch, role } = build();
    const grants = Object.getOwnPropertyNames(DispatchQueue.prototype).filter((name) =>
      name.startsWith('grant'),
    );

    for (const name of grants)
      (dispatch[name as keyof DispatchQueue] as (g: IWorkload) => void).call(dispatch, role);

    const dlq = { 'Fn::GetAtt': [logicalId(stack, dispatch.deadLetterQueue), 'Arn'] };
    expect(grants.length).toBeGreaterThan(2);
    expect(statementsOf(stack).filter((s) => s.actions.includes('sqs:SendMessage'))).toEqual([
      expect.not.objectContaining({ resource: dlq }),
    ]);
  });

  it.each(['grantSendHints', 'grantConsume', 'grantReconcileDeadLetters'] as const)(
    'names both queue URLs in the environment of whoever %s grants',
    (grant) => {
      const { stack, dispatch, role } = build();

      dispatch[grant](role);

      expect(stack.resolve(role.environment)).toEqual({
        [Env.DISPATCH_QUEUE_URL]: { Ref: logicalId(stack, dispatch.queue) },
        [Env.DISPATCH_DLQ_URL]: { Ref: logicalId(stack, dispatch.deadLetterQueue) },
      });
    },
  );

  it('counts dead letters visible and in flight', () => {
    const { dispatch } = build();

    const metric = dispatch.metricDeadLetters();

    expect(metric.expression).toBe('visible + inFlight');
    expect(
      Object.fromEntries(
        Object.entries(metric.usingMetrics).map(([id, m]) => [id, m.toMetricConfig().metricStat?.metricName]),
      ),
    ).toEqual({
      visible: 'ApproximateNumberOfMessagesVisible',
      inFlight: 'ApproximateNumberOfMessagesNotVisible',
    });
  });

  it('reads the dead-letter metrics from the dead-letter queue', () => {
    const { stack, dispatch } = build();

    const metric = dispatch.metricDeadLetters();

    for (const m of Object.values(metric.usingMetrics)) {
      expect(stack.resolve(m.toMetricConfig().metricStat?.dimensions)).toEqual([
        {
          name: 'QueueName',
          value: { 'Fn::GetAtt': [logicalId(stack, dispatch.deadLetterQueue), 'QueueName'] },
        },
      ]);
    }
  });
});
