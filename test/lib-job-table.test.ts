/**
 * The `JobTable` construct: the CDK table declares what the store expects (`tableDefinition()`),
 * keeps jobs safe by default, and grants each caller only the table access its intent names.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { TTL_ATTRIBUTE, tableDefinition } from '../functions/jobs/table.ts';
import { JobTable, type JobTableProps } from '../lib/job-table.ts';
import { RelayFunction } from '../lib/relay-function.ts';
import {
  appWithoutBundling,
  environmentOf,
  inlineFunction,
  JOB_ITEM_ACTIONS,
  logicalIdOf,
  type RoleWorkload,
  roleWorkload,
} from './support/template.ts';

const definition = tableDefinition('jobs');
const TABLE = 'AWS::DynamoDB::Table';

function build(props?: JobTableProps): { stack: Stack; jobTable: JobTable; role: RoleWorkload } {
  const stack = new Stack(new App(), 'Test');
  const jobTable = new JobTable(stack, 'Jobs', props);
  const role = roleWorkload(new Role(stack, 'Grantee', { assumedBy: new AccountRootPrincipal() }));
  return { stack, jobTable, role };
}

/** Every action the role's policies allow, and every resource they name (each once). */
function grantedTo(stack: Stack): { actions: string[]; resources: unknown[] } {
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
  const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
  return {
    actions: statements.flatMap((statement) => list(statement.Action) as string[]).sort(),
    resources: [...new Set(statements.flatMap((s) => list(s.Resource).map((r) => JSON.stringify(r))))].map(
      (resource) => JSON.parse(resource),
    ),
  };
}

const tableArn = (stack: Stack, jobTable: JobTable) => ({
  'Fn::GetAtt': [stack.getLogicalId(jobTable.table.node.defaultChild as never), 'Arn'],
});

describe('JobTable', () => {
  it('declares the partition and sort key of tableDefinition()', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, {
      KeySchema: definition.KeySchema,
    });
  });

  it('declares every attribute tableDefinition() defines', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, {
      AttributeDefinitions: Match.arrayEquals(
        (definition.AttributeDefinitions ?? []).map((attribute) => Match.objectEquals({ ...attribute })),
      ),
    });
  });

  it('declares as many indexes as tableDefinition()', () => {
    const { stack } = build();

    const [table] = Object.values(Template.fromStack(stack).findResources(TABLE));

    expect(table?.Properties.GlobalSecondaryIndexes).toHaveLength(
      definition.GlobalSecondaryIndexes?.length ?? 0,
    );
  });

  it.each((definition.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index] as const))(
    'declares the %s index with the keys and projection of tableDefinition()',
    (_name, index) => {
      const { stack } = build();

      Template.fromStack(stack).hasResourceProperties(TABLE, {
        GlobalSecondaryIndexes: Match.arrayWith([
          Match.objectLike({
            IndexName: index.IndexName,
            KeySchema: index.KeySchema,
            Projection: Match.objectEquals({ ...index.Projection }),
          }),
        ]),
      });
    },
  );

  it('bills on demand', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, { BillingMode: 'PAY_PER_REQUEST' });
  });

  it('turns on point-in-time recovery', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, {
      PointInTimeRecoverySpecification: Match.objectLike({ PointInTimeRecoveryEnabled: true }),
    });
  });

  it('expires items by the TTL attribute the store writes', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, {
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it('encrypts with an AWS-managed key', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResourceProperties(TABLE, {
      SSESpecification: Match.objectLike({ SSEEnabled: true }),
    });
  });

  it('protects the table from deletion and retains it by default', () => {
    const { stack } = build();

    Template.fromStack(stack).hasResource(TABLE, {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('lets a stack turn off deletion protection and destroy the table', () => {
    const { stack } = build({ deletionProtection: false, removalPolicy: RemovalPolicy.DESTROY });

    Template.fromStack(stack).hasResource(TABLE, {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('grants readers and writers of jobs exactly the item actions of the store', () => {
    const { stack, jobTable, role } = build();

    jobTable.grantReadWriteJobs(role);

    expect(grantedTo(stack).actions).toEqual(JOB_ITEM_ACTIONS);
  });

  it('grants readers and writers of jobs no scans and no table administration', () => {
    const { stack, jobTable, role } = build();

    jobTable.grantReadWriteJobs(role);

    const { actions } = grantedTo(stack);
    for (const denied of [
      'Scan',
      'CreateTable',
      'DeleteTable',
      'UpdateTable',
      'UpdateTimeToLive',
      'DescribeTable',
    ]) {
      expect(actions).not.toContain(`dynamodb:${denied}`);
    }
  });

  it('grants access to the table and its indexes only', () => {
    const { stack, jobTable, role } = build();

    jobTable.grantReadWriteJobs(role);

    expect(grantedTo(stack).resources).toEqual([
      tableArn(stack, jobTable),
      { 'Fn::Join': ['', [tableArn(stack, jobTable), '/index/*']] },
    ]);
  });

  it('names the table and the store’s settings in the environment of whoever it grants', () => {
    const { stack, jobTable, role } = build();

    jobTable.grantReadWriteJobs(role);

    expect(stack.resolve(role.environment)).toEqual({
      [Env.TABLE_NAME]: { Ref: stack.getLogicalId(jobTable.table.node.defaultChild as never) },
      [Env.RETENTION_DAYS]: '7',
    });
  });

  it('passes the retention in days and the strict queues it is given', () => {
    const { jobTable, role } = build({ retention: Duration.days(30), strictQueues: ['a', 'b'] });

    jobTable.grantReadWriteJobs(role);

    expect(role.environment).toMatchObject({ [Env.RETENTION_DAYS]: '30', [Env.STRICT_QUEUES]: 'a,b' });
  });

  it.each([
    [
      { retention: Duration.hours(36) },
      'JobTable retention is 1 day 12 hours, but jobs are kept for whole days',
    ],
    [{ retention: Duration.days(0) }, 'JobTable retention is 0 days'],
    [
      { strictQueues: ['a,b', ''] },
      'JobTable strictQueues has ["a,b",""], but queue names must be non-empty',
    ],
  ] as [JobTableProps, string][])('rejects %o, naming the fix', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  it('refuses to name a second table in a function that reaches one, naming both', () => {
    const stack = new Stack(appWithoutBundling(), 'Test');
    const fn = new RelayFunction(stack, 'Fn', {
      entry: 'jobs.ts',
      description: 'test',
      timeout: Duration.seconds(10),
    });
    new JobTable(stack, 'Jobs').grantReadWriteJobs(fn);

    expect(() => new JobTable(stack, 'Other').grantReadWriteJobs(fn)).toThrow(
      /^Test\/Fn: RELAY_TABLE_NAME is already \{"Ref":"JobsTable\w+"\}, and something now sets it to \{"Ref":"OtherTable\w+"\}/,
    );
  });

  it('grants any lambda.Function too, naming the table in its environment', () => {
    const stack = new Stack(appWithoutBundling(), 'Test');
    const jobTable = new JobTable(stack, 'Jobs');
    const fn = inlineFunction(stack, 'Fn');

    jobTable.grantReadWriteJobs(fn);

    expect(environmentOf(Template.fromStack(stack), logicalIdOf(stack, fn))).toEqual({
      [Env.TABLE_NAME]: { Ref: logicalIdOf(stack, jobTable.table) },
      [Env.RETENTION_DAYS]: '7',
    });
  });
});
