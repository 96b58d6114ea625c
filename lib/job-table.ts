import { type CfnElement, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IMetric, MathExpression, type MetricOptions, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import {
  AttributeType,
  BillingMode,
  type ITable,
  Operation,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Grant } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { Env, type EnvName } from '../functions/core/env.ts';
import { acknowledge, nagRef } from './nag.ts';
import type { IWorkload } from './workload.ts';

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
  /**
   * How long a finished job (completed, dead or cancelled) stays readable before DynamoDB's TTL
   * removes it. Whole days.
   *
   * @default Duration.days(7)
   */
  readonly retention?: Duration;
  /**
   * Queues created with strict ordering (one index shard): even concurrent claimers take their jobs
   * exactly in order.
   *
   * @default [] — every queue is sharded (priority order, ~2,000 jobs/s)
   */
  readonly strictQueues?: readonly string[];
}

/** The jobs table as the constructs that use it see it. */
export interface IJobTable {
  /**
   * Read and write jobs through the store, and name the table and the store's settings (retention,
   * strict queues) in the workload's environment.
   */
  grantReadWriteJobs(workload: IWorkload): Grant;
  /** Requests of the store's operations DynamoDB throttled (table or index capacity), summed. */
  metricThrottledRequests(options?: MetricOptions): IMetric;
  /** Requests of the store's operations that failed with a DynamoDB server error (HTTP 500), summed. */
  metricSystemErrors(options?: MetricOptions): IMetric;
}

/**
 * The operations the store issues (`functions/jobs/dynamo.ts`): the ones whose throttles and
 * system errors matter. Eight, within the ten metrics an alarm's math expression may read.
 */
const STORE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.QUERY,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.DELETE_ITEM,
  Operation.BATCH_WRITE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
];

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
export class JobTable extends Construct implements IJobTable {
  readonly table: ITable;
  /** The store's settings, as the runtime reads them. */
  private readonly settings: readonly (readonly [EnvName, string])[];

  constructor(scope: Construct, id: string, props: JobTableProps = {}) {
    super(scope, id);
    this.settings = storeSettings(props);
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
   * runner need exactly this. Sets `RELAY_TABLE_NAME` and the store's settings.
   */
  grantReadWriteJobs(workload: IWorkload): Grant {
    // The settings first: the order the runner container's variables have always had (reordering
    // them would replace its task definition).
    for (const [name, value] of this.settings) workload.addEnvironment(name, value);
    workload.addEnvironment(Env.TABLE_NAME, this.table.tableName);
    if (Construct.isConstruct(workload.grantPrincipal)) {
      acknowledge(
        workload.grantPrincipal,
        `IAM5[Resource::${nagRef(this.table.node.defaultChild as CfnElement, 'Arn')}/index/*]`,
        'The store queries the jobs table’s own indexes (ready, leases, created, dead); ' +
          'index/* names exactly those, on this table only.',
      );
    }
    return this.table.grant(workload, ...ITEM_ACTIONS);
  }

  metricThrottledRequests(options: MetricOptions = {}): IMetric {
    return this.sumOverOperations('ThrottledRequests', options);
  }

  metricSystemErrors(options: MetricOptions = {}): IMetric {
    return this.sumOverOperations('SystemErrors', options);
  }

  /**
   * The Sum of a per-operation metric over the store's operations. DynamoDB publishes these only
   * for an operation that had one, and metric math leaves out a period where any term has no
   * data, so each term is `FILL(…, 0)`: `*ForOperations` of aws-cdk-lib sums without it, and its
   * alarm would fire only when every operation was throttled at once.
   */
  private sumOverOperations(metricName: string, options: MetricOptions): IMetric {
    const terms = STORE_OPERATIONS.map((operation) => ({
      id: `${operation[0]?.toLowerCase()}${operation.slice(1)}`,
      metric: this.table.metric(metricName, {
        statistic: Stats.SUM,
        ...options,
        dimensionsMap: { TableName: this.table.tableName, Operation: operation },
      }),
    }));
    return new MathExpression({
      expression: terms.map(({ id }) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(terms.map(({ id, metric }) => [id, metric])),
      label: options.label ?? metricName,
      period: options.period,
    });
  }
}

/** The store's settings as the runtime reads them, validated. */
function storeSettings(props: JobTableProps): [EnvName, string][] {
  const retention = props.retention ?? Duration.days(7);
  const days = retention.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `JobTable retention is ${retention.toHumanString()}, but jobs are kept for whole days: pass ` +
        'Duration.days(n) with n ≥ 1, or omit retention for 7 days.',
    );
  }
  const strictQueues = props.strictQueues ?? [];
  const invalid = strictQueues.filter((q) => !q || q.includes(','));
  if (invalid.length) {
    throw new Error(
      `JobTable strictQueues has ${JSON.stringify(invalid)}, but queue names must be non-empty and ` +
        'contain no comma: fix or remove them.',
    );
  }
  return [
    [Env.RETENTION_DAYS, String(days)],
    ...(strictQueues.length ? [[Env.STRICT_QUEUES, strictQueues.join(',')] as [EnvName, string]] : []),
  ];
}
