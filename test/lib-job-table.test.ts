/**
 * The `JobTable` construct: the CDK table declares what the store expects (`tableDefinition()`),
 * keeps jobs safe by default, and grants each caller only the table access its intent names.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { TTL_ATTRIBUTE, tableDefinition } from '../functions/jobs/table.ts';
import { JobTable, type JobTableProps } from '../lib/job-table.ts';

const definition = tableDefinition('jobs');
const TABLE = 'AWS::DynamoDB::Table';

function build(props?: JobTableProps): { stack: Stack; jobTable: JobTable; role: Role } {
  const stack = new Stack(new App(), 'Test');
  const jobTable = new JobTable(stack, 'Jobs', props);
  const role = new Role(stack, 'Grantee', { assumedBy: new AccountRootPrincipal() });
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

    expect(grantedTo(stack).actions).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
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

  it('names the table in the environment variable the runtime reads', () => {
    const { stack, jobTable } = build();

    expect(stack.resolve(jobTable.environment())).toEqual({
      [Env.TABLE_NAME]: { Ref: stack.getLogicalId(jobTable.table.node.defaultChild as never) },
    });
  });
});
