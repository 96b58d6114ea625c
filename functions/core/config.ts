import * as z from 'zod';
import { Env } from './env.ts';

/** Shards a queue starts with: two, so no one partition key takes every write of a queue (invariant 8). */
export const DEFAULT_QUEUE_SHARDS = 2;
/** Shards a queue may grow to, doubling each time a write to it is throttled: 8,000 jobs/s (docs/design.md). */
export const DEFAULT_MAX_QUEUE_SHARDS = 16;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  [Env.TABLE_NAME]: z.string().min(3, `${Env.TABLE_NAME} must name the jobs table`),
  [Env.DYNAMODB_ENDPOINT]: z.url().optional(),
  [Env.QUEUE_SHARDS]: z.coerce.number().int().min(1).max(64).default(DEFAULT_QUEUE_SHARDS),
  [Env.QUEUE_MAX_SHARDS]: z.coerce.number().int().min(1).max(64).default(DEFAULT_MAX_QUEUE_SHARDS),
  [Env.STRICT_QUEUES]: z.string().default(''),
  [Env.RETENTION_DAYS]: positiveInt(7),
  [Env.IDEMPOTENCY_TTL_HOURS]: positiveInt(24),
});

/** Runtime configuration, read and validated once per process. */
export interface StoreConfig {
  readonly tableName: string;
  readonly dynamodbEndpoint?: string;
  /** Shards given to a queue when it is first used. */
  readonly defaultShards: number;
  /** The most shards a queue grows to, doubling each time a write to it is throttled (`queues.ts`). */
  readonly maxShards: number;
  /** Queues created with a single shard and strict claim order. */
  readonly strictQueues: ReadonlySet<string>;
  readonly retentionSeconds: number;
  readonly idempotencyTtlSeconds: number;
}

/** Parses the process environment; throws naming every missing or invalid variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid Relay configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    tableName: e[Env.TABLE_NAME],
    dynamodbEndpoint: e[Env.DYNAMODB_ENDPOINT],
    defaultShards: e[Env.QUEUE_SHARDS],
    maxShards: Math.max(e[Env.QUEUE_SHARDS], e[Env.QUEUE_MAX_SHARDS]),
    strictQueues: new Set(
      e[Env.STRICT_QUEUES]
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean),
    ),
    retentionSeconds: e[Env.RETENTION_DAYS] * 86_400,
    idempotencyTtlSeconds: e[Env.IDEMPOTENCY_TTL_HOURS] * 3_600,
  };
}
