/**
 * What every job-store module shares: the gateway, configuration, clock, metrics, the queue
 * registry and the enqueue sequence. `JobStore` builds one per instance.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import type { StoreConfig } from '../core/config.ts';
import type { JobMetrics } from '../core/metrics.ts';
import { announce, arrivedOf } from './arrivals.ts';
import { ClaimMemory } from './claim-memory.ts';
import { Dynamo } from './dynamo.ts';
import { seconds } from './item.ts';
import { JobMetricsRecorder } from './job-metrics.ts';
import { QueueRegistry } from './queues.ts';

export interface StoreContext {
  readonly db: Dynamo;
  readonly config: StoreConfig;
  readonly clock: () => number;
  readonly metrics: JobMetricsRecorder;
  readonly queues: QueueRegistry;
  /** This store's recent claims per queue: when it last looked for expired leases, how spread it claims. */
  readonly claims: ClaimMemory;
  /** The next enqueue sequence number: a ULID, monotonic within the process. */
  readonly nextSeq: (now: number) => string;
}

export function storeContext(
  client: DynamoDBDocumentClient,
  config: StoreConfig,
  clock: () => number,
  metrics: JobMetrics,
): StoreContext {
  const db = new Dynamo(client, config.tableName);
  return {
    db,
    config,
    clock,
    metrics: new JobMetricsRecorder(metrics, (queue, written) =>
      announce(config.tableName, queue, written.length, arrivedOf(written)),
    ),
    queues: new QueueRegistry(db, config, clock),
    claims: new ClaimMemory(),
    nextSeq: monotonicFactory(),
  };
}

/** When the retention of a job that ends at `now` ends (`expires_at`, epoch seconds). */
export const retainUntil = (ctx: StoreContext, now: number): number =>
  seconds(now) + ctx.config.retentionSeconds;
