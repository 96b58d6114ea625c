import { type CfnElement, RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
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
 * The keys and indexes the store expects: those of `tableDefinition()` (functions/jobs/table.ts),
 * which the local stack creates. Written out here because synthesis must not load the store and the
 * AWS SDK it imports; test/lib-job-table.test.ts keeps the two the same. Every key is a string.
 */
const KEYS = { partitionKey: 'pk', sortKey: 'sk' };
const INDEXES: readonly { name: string; partitionKey: string; sortKey: string; include?: string[] }[] = [
  { name: 'ready', partitionKey: 'ready_pk', sortKey: 'ready_sk', include: ['status', 'timeout_ms'] },
  { name: 'leases', partitionKey: 'lease_pk', sortKey: 'lease_sk', include: ['order_key'] },
  { name: 'created', partitionKey: 'created_pk', sortKey: 'created_sk' },
  { name: 'dead', partitionKey: 'dead_pk', sortKey: 'dead_sk' },
];
/** The attribute DynamoDB's TTL deletes items by (epoch seconds): `TTL_ATTRIBUTE` of the store. */
const TTL_ATTRIBUTE = 'expires_at';

/**
 * The jobs table: the single source of truth for job state.
 *
 * Keys and indexes are those of `tableDefinition()`, the definition the local stack creates (a test
 * holds the two together), so AWS and local mode cannot drift. TTL on `expires_at` implements retention.
 */
export class JobTable extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: JobTableProps = {}) {
    super(scope, id);
    const key = (name: string) => ({ name, type: AttributeType.STRING });
    const table = new Table(this, 'Table', {
      partitionKey: key(KEYS.partitionKey),
      sortKey: key(KEYS.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of INDEXES) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        ...(index.include
          ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: index.include }
          : { projectionType: ProjectionType.KEYS_ONLY }),
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
