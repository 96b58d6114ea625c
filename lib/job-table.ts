import { type CfnElement, RemovalPolicy } from 'aws-cdk-lib';
import {
  type Attribute,
  AttributeType,
  BillingMode,
  type GlobalSecondaryIndexProps,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import { TTL_ATTRIBUTE, tableDefinition } from '../functions/jobs/table.ts';
import { acknowledge, nagRef } from './nag.ts';

export interface JobTableProps {
  /**
   * What happens to the table when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN — jobs outlive a mistaken deploy
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Whether DynamoDB refuses to delete the table.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * Item-level actions the store issues (`functions/jobs/store.ts`). `TransactWriteItems` is
 * authorised per item, so its condition checks need `ConditionCheckItem`; see
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
 */
const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/**
 * The jobs table: the single source of truth for job state.
 *
 * Keys and indexes come from `tableDefinition()`, the same definition the local stack creates, so
 * AWS and local mode cannot drift. TTL on `expires_at` implements retention.
 */
export class JobTable extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: JobTableProps = {}) {
    super(scope, id);
    // The table name is CloudFormation's to choose; only the keys and indexes are read.
    const definition = tableDefinition('jobs');
    const { partitionKey, sortKey } = keyAttributes(definition, definition.KeySchema);

    const table = new Table(this, 'Table', {
      partitionKey,
      sortKey,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of definition.GlobalSecondaryIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.IndexName as string,
        ...keyAttributes(definition, index.KeySchema),
        ...projection(index.Projection),
      });
    }
    this.table = table;
  }

  /**
   * Read and write jobs through the store: the item actions it issues on the table and its
   * indexes, and nothing else (no scans, no table administration). Every Relay function and the
   * runner need exactly this.
   */
  grantReadWriteJobs(grantee: IGrantable): Grant {
    if (Construct.isConstruct(grantee.grantPrincipal)) {
      acknowledge(
        grantee.grantPrincipal,
        `IAM5[Resource::${nagRef(this.table.node.defaultChild as CfnElement, 'Arn')}/index/*]`,
        'The store queries the jobs table’s own indexes (ready, leases, created, dead); ' +
          'index/* names exactly those, on this table only.',
      );
    }
    return this.table.grant(grantee, ...ITEM_ACTIONS);
  }

  /** Environment variables a function needs to reach the table; pair with a grant. */
  environment(): Record<string, string> {
    return { [Env.TABLE_NAME]: this.table.tableName };
  }
}

type Definition = ReturnType<typeof tableDefinition>;
type KeySchema = Definition['KeySchema'];
type Projection = NonNullable<Definition['GlobalSecondaryIndexes']>[number]['Projection'];

const ATTRIBUTE_TYPES: Record<string, AttributeType> = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
  B: AttributeType.BINARY,
};

/** The CDK partition and sort key of an SDK key schema, typed by the definition's attributes. */
function keyAttributes(
  definition: Definition,
  schema: KeySchema,
): { partitionKey: Attribute; sortKey?: Attribute } {
  const attribute = (keyType: 'HASH' | 'RANGE'): Attribute | undefined => {
    const name = schema?.find((key) => key.KeyType === keyType)?.AttributeName;
    if (!name) return undefined;
    const type = definition.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
    return { name, type: ATTRIBUTE_TYPES[type ?? 'S'] ?? AttributeType.STRING };
  };
  const partitionKey = attribute('HASH');
  if (!partitionKey) throw new Error('tableDefinition() declares a key schema without a HASH key');
  return { partitionKey, sortKey: attribute('RANGE') };
}

/** The CDK projection of an SDK index projection. */
function projection(
  source: Projection,
): Pick<GlobalSecondaryIndexProps, 'projectionType' | 'nonKeyAttributes'> {
  switch (source?.ProjectionType) {
    case 'INCLUDE':
      return { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: source.NonKeyAttributes };
    case 'KEYS_ONLY':
      return { projectionType: ProjectionType.KEYS_ONLY };
    default:
      return { projectionType: ProjectionType.ALL };
  }
}
