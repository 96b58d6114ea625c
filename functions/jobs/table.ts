import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { INDEX, LEASE_PROJECTION, READY_PROJECTION } from './keys.ts';

/** The attribute DynamoDB's TTL deletes items by (epoch seconds). */
export const TTL_ATTRIBUTE = 'expires_at';

/**
 * The jobs table as the store expects it. The local stack and tests create it from this; the CDK
 * `JobTable` construct declares the same keys and indexes (a test keeps the two in step).
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  const attributes = new Set<string>(['pk', 'sk']);
  for (const index of Object.values(INDEX)) {
    attributes.add(index.pk);
    attributes.add(index.sk);
  }
  const projections: Record<string, readonly string[]> = {
    [INDEX.ready.name]: READY_PROJECTION,
    [INDEX.leases.name]: LEASE_PROJECTION,
  };
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: Object.values(INDEX).map((index) => {
      const include = projections[index.name];
      return {
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.pk, KeyType: 'HASH' },
          { AttributeName: index.sk, KeyType: 'RANGE' },
        ],
        Projection: include
          ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...include] }
          : { ProjectionType: 'KEYS_ONLY' },
      };
    }),
  };
}

/** Creates the table (if missing) with TTL enabled: what the local stack and tests run against. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    return;
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}
