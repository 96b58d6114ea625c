import { randomUUID } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, inject } from 'vitest';
import { dynamoClient } from '../../functions/core/clients.ts';
import type { StoreConfig } from '../../functions/core/config.ts';
import type { JobMetrics } from '../../functions/core/metrics.ts';
import { JobStore } from '../../functions/jobs/store.ts';
import { ensureTable } from '../../functions/jobs/table.ts';

/** A controllable clock: tests move time instead of sleeping. */
export class TestClock {
  // Real time, not a fixed date: DynamoDB Local deletes items whose TTL has passed in real time.
  constructor(public now = Date.now()) {}
  readonly read = () => this.now;
  advance(ms: number) {
    this.now += ms;
  }
}

export interface TestStore {
  readonly store: JobStore;
  readonly db: DynamoDBDocumentClient;
  readonly config: StoreConfig;
  /** Another store over the same table, as a second process would have (its own caches). */
  another(clock?: () => number): JobStore;
  /** Deletes the table and closes the client: every test makes a table, and the emulator is shared. */
  dispose(): Promise<void>;
}

/** A fresh table in the shared DynamoDB Local, and a store over it (recording to `metrics`, if given). */
export async function freshStore(
  options: {
    clock?: () => number;
    shards?: number;
    maxShards?: number;
    strictQueues?: string[];
    metrics?: JobMetrics;
  } = {},
): Promise<TestStore> {
  const endpoint = inject('dynamodbEndpoint');
  const raw = dynamoClient(endpoint);
  const tableName = `jobs-${randomUUID()}`;
  await ensureTable(raw, tableName);
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const config: StoreConfig = {
    tableName,
    dynamodbEndpoint: endpoint,
    defaultShards: options.shards ?? 4,
    maxShards: options.maxShards ?? Math.max(16, options.shards ?? 4),
    strictQueues: new Set(options.strictQueues ?? []),
    retentionSeconds: 7 * 86_400,
    idempotencyTtlSeconds: 86_400,
  };
  return {
    store: new JobStore(db, config, options.clock, options.metrics),
    db,
    config,
    another: (clock) => new JobStore(db, config, clock ?? options.clock, options.metrics),
    dispose: async () => {
      await raw.send(new DeleteTableCommand({ TableName: tableName }));
      raw.destroy();
    },
  };
}

/** A store and its clock, made afresh for each test. */
export interface StorePerTest {
  readonly clock: TestClock;
  readonly fresh: TestStore;
  readonly store: JobStore;
}

/**
 * A fresh store (`freshStore`) on a test clock before each test of the file, or of the `describe`
 * it is called in, disposed after it. `wholeSeconds` starts the clock on a whole second. Its
 * fields are read inside tests and hooks.
 */
export function storePerTest(options: { wholeSeconds?: boolean } = {}): StorePerTest {
  let current: { clock: TestClock; fresh: TestStore } | undefined;
  beforeEach(async () => {
    const clock = new TestClock(options.wholeSeconds ? Math.floor(Date.now() / 1000) * 1000 : Date.now());
    current = { clock, fresh: await freshStore({ clock: clock.read }) };
  });
  afterEach(async () => {
    await current?.fresh.dispose();
    current = undefined;
  });
  const now = () => {
    if (!current) throw new Error('the test store is read outside a test');
    return current;
  };
  return {
    get clock() {
      return now().clock;
    },
    get fresh() {
      return now().fresh;
    },
    get store() {
      return now().fresh.store;
    },
  };
}
