/**
 * The queue registry: each queue's index layout, fixed the first time the queue is used.
 *
 * A job's shard is part of its index keys, so a layout never changes once written: the first
 * enqueue that names a queue registers it, and every process caches what it read forever.
 */
import type { StoreConfig } from '../core/config.ts';
import { queueUnregistered } from './conditions.ts';
import type { Dynamo } from './dynamo.ts';
import { type ItemKey, QUEUES_PK, queueKey } from './keys.ts';

/** How a queue's indexes are laid out; fixed when the queue is first used. */
export interface QueueInfo {
  readonly queue: string;
  readonly shards: number;
  /** `strict`: one shard, claimers always take the earliest job. `priority`: sharded, see design.md. */
  readonly ordering: 'strict' | 'priority';
  readonly created_at: number;
}

/** A queue's item in the `queues` partition. */
type QueueItem = ItemKey & QueueInfo;

const infoOf = ({ queue, shards, ordering, created_at }: QueueInfo): QueueInfo => ({
  queue,
  shards,
  ordering,
  created_at,
});

/** The shard numbers of a queue: `0 … shards − 1`. */
export const shardsOf = (info: QueueInfo): number[] => Array.from({ length: info.shards }, (_, i) => i);

export class QueueRegistry {
  private readonly known = new Map<string, QueueInfo>();

  constructor(
    private readonly db: Dynamo,
    private readonly config: StoreConfig,
    private readonly clock: () => number,
  ) {}

  /** The queue's layout, registering the queue on first use when `create` is set. */
  info(queue: string, create = false): Promise<QueueInfo | undefined> {
    return create ? this.register(queue) : this.find(queue);
  }

  /** The layout of a registered queue; `undefined` for a queue never used. */
  async find(queue: string): Promise<QueueInfo | undefined> {
    const cached = this.known.get(queue);
    if (cached) return cached;
    const found = await this.db.get<QueueItem>(queueKey(queue));
    if (!found) return undefined;
    const info = infoOf(found);
    this.known.set(queue, info);
    return info;
  }

  /** The queue's layout, registering the queue if this is its first use. */
  async register(queue: string): Promise<QueueInfo> {
    const known = await this.find(queue);
    if (known) return known;
    const strict = this.config.strictQueues.has(queue) || this.config.defaultShards === 1;
    const fresh: QueueInfo = {
      queue,
      shards: strict ? 1 : this.config.defaultShards,
      ordering: strict ? 'strict' : 'priority',
      created_at: this.clock(),
    };
    // First writer wins; everyone else takes the layout it chose: the item its own write was refused on.
    const written = await this.db.put<QueueItem>({ ...queueKey(queue), ...fresh }, queueUnregistered);
    const info = written.ok ? fresh : written.old && infoOf(written.old);
    if (!info) return this.register(queue);
    this.known.set(queue, info);
    return info;
  }

  /** Every registered queue, by name. */
  async list(): Promise<QueueInfo[]> {
    const items = await this.db.queryAll<QueueItem>({ partition: QUEUES_PK });
    return items.map(infoOf).sort((a, b) => a.queue.localeCompare(b.queue));
  }
}
