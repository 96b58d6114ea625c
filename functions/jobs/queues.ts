/**
 * The queue registry: each queue's index layout, fixed the first time the queue is used, and the
 * operator's settings for it (paused, priority aging), which change by conditional writes.
 *
 * A job's shard is part of its index keys, so a layout never changes once written: the first
 * enqueue that names a queue registers it, and every process caches what it read forever. The
 * settings are cached for at most `SETTINGS_MAX_AGE_MS`: a pause reaches every claimer within that
 * bound, at a cost of at most one consistent read of the queue's item per process and queue per
 * bound (1 RRU), never one per claim.
 */
import type { StoreConfig } from '../core/config.ts';
import {
  queueNotPaused,
  queuePaused,
  queueRegistered,
  queueShardsAre,
  queueUnregistered,
} from './conditions.ts';
import type { Dynamo } from './dynamo.ts';
import type { Change, Condition } from './expressions.ts';
import { type ItemKey, QUEUES_PK, queueKey } from './keys.ts';

/**
 * How a queue's indexes are laid out, chosen when the queue is first used. `ordering` never
 * changes; `shards` only grows (`QueueRegistry.grow`), and a job keeps the shard it was enqueued in.
 */
export interface QueueInfo {
  readonly queue: string;
  readonly shards: number;
  /** `strict`: one shard, claimers always take the earliest job. `priority`: sharded, see design.md. */
  readonly ordering: 'strict' | 'priority';
  readonly created_at: number;
}

/** What an operator sets on a queue. */
export interface QueueSettings {
  /** A paused queue accepts enqueues but hands out nothing: claims answer as an empty queue. */
  readonly paused: boolean;
  /** When the queue was paused (epoch ms); absent while it runs. */
  readonly paused_at?: number;
  /**
   * Priority aging: a job waiting this many seconds longer than another is worth one priority
   * level more (`keys.ts`, `orderKey`). Absent: strict priority bands, as relay-rs orders.
   */
  readonly aging_seconds_per_level?: number;
  /** Runs the queue may start per second, across every claimer and dispatcher (`limits.ts`). Absent: no limit. */
  readonly rate_per_second?: number;
  /** Runs the queue may start at once after a quiet spell; only with a rate. Absent: `defaultBurst`. */
  readonly burst?: number;
  /** Runs of the queue that may be running at once, across every claimer (`running.ts`). Absent: no limit. */
  readonly max_running?: number;
}

/** A queue's limits as an operator sets them: a field left out is kept, `null` clears it. */
export interface RateLimitChange {
  readonly rate_per_second?: number | null;
  readonly burst?: number | null;
  readonly max_running?: number | null;
}

/** A queue as the API shows it: its layout and its settings. */
export type QueueState = QueueInfo & QueueSettings;

/** How long a process trusts the settings it read: the staleness bound of a pause or resume. */
export const SETTINGS_MAX_AGE_MS = 1_000;

/** The largest aging rate: keeps `priority × aging` within the order key's digits (keys.ts). */
export const MAX_AGING_SECONDS = 86_400;

/** A queue's item in the `queues` partition. */
type QueueItem = ItemKey & QueueInfo & Partial<QueueSettings>;

const infoOf = ({ queue, shards, ordering, created_at }: QueueInfo): QueueInfo => ({
  queue,
  shards,
  ordering,
  created_at,
});

const settingsOf = (item: Partial<QueueSettings> | undefined): QueueSettings => ({
  paused: item?.paused === true,
  ...(item?.paused && item.paused_at !== undefined ? { paused_at: item.paused_at } : {}),
  ...(item?.aging_seconds_per_level ? { aging_seconds_per_level: item.aging_seconds_per_level } : {}),
  ...(item?.rate_per_second ? { rate_per_second: item.rate_per_second } : {}),
  ...(item?.rate_per_second && item.burst ? { burst: item.burst } : {}),
  ...(item?.max_running ? { max_running: item.max_running } : {}),
});

const stateOf = (item: QueueItem): QueueState => ({ ...infoOf(item), ...settingsOf(item) });

/** The shard numbers of a queue: `0 … shards − 1`. */
export const shardsOf = (info: QueueInfo): number[] => Array.from({ length: info.shards }, (_, i) => i);

/** The aging rate in milliseconds per level, or `undefined` for strict priority bands. */
export const agingMsOf = (settings: QueueSettings): number | undefined =>
  settings.aging_seconds_per_level
    ? Math.max(1, Math.round(settings.aging_seconds_per_level * 1000))
    : undefined;

export class QueueRegistry {
  private readonly known = new Map<string, QueueInfo>();
  private readonly read = new Map<string, { readonly settings: QueueSettings; readonly at: number }>();
  private readonly reading = new Map<string, Promise<QueueSettings>>();

  constructor(
    private readonly db: Dynamo,
    private readonly config: StoreConfig,
    private readonly clock: () => number,
    /** Wall time for the settings cache: a test clock standing still must not freeze a pause. */
    private readonly elapsed: () => number = () => performance.now(),
  ) {}

  /** The queue's layout, registering the queue on first use when `create` is set. */
  info(queue: string, create = false): Promise<QueueInfo | undefined> {
    return create ? this.register(queue) : this.find(queue);
  }

  /**
   * The layout of a registered queue; `undefined` for a queue never used. It is read with the
   * settings, so it is at most `SETTINGS_MAX_AGE_MS` old: a reader meets the shards a queue grew
   * within that bound. An enqueue that used fewer shards than the queue has wrote to one of them, so
   * it is never wrong, only less spread.
   */
  async find(queue: string): Promise<QueueInfo | undefined> {
    await this.settings(queue);
    return this.known.get(queue);
  }

  /** The queue's layout, registering the queue if this is its first use. */
  async register(queue: string): Promise<QueueInfo> {
    const known = this.known.get(queue) ?? (await this.find(queue));
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
    const item = written.ok ? { ...queueKey(queue), ...fresh } : written.old;
    if (!item) return this.register(queue);
    this.remember(item);
    return infoOf(item);
  }

  /**
   * The queue's settings, read again when the copy this process holds is older than `maxAgeMs`.
   * An unregistered queue has the defaults (running, no aging).
   */
  async settings(queue: string, maxAgeMs = SETTINGS_MAX_AGE_MS): Promise<QueueSettings> {
    const cached = this.read.get(queue);
    if (cached && this.elapsed() - cached.at < maxAgeMs) return cached.settings;
    // Concurrent callers (a batch's jobs, parallel claims) share one read; a caller that asks for
    // a fresh one (`maxAgeMs` 0) must not get a read that began before it asked.
    const inFlight = this.reading.get(queue);
    if (inFlight && maxAgeMs > 0) return inFlight;
    const reading = this.db
      .get<QueueItem>(queueKey(queue))
      .then((found) => {
        if (found) this.remember(found);
        return settingsOf(found);
      })
      .finally(() => this.reading.delete(queue));
    this.reading.set(queue, reading);
    return reading;
  }

  /**
   * Pauses or resumes a queue (registering it first, so a queue can be paused before its first
   * job). Pausing a paused queue, or resuming a running one, changes nothing and is not an error.
   */
  async setPaused(queue: string, paused: boolean): Promise<QueueState> {
    await this.register(queue);
    const change: Change<QueueItem> = paused
      ? { set: { paused: true, paused_at: this.clock() } }
      : { set: { paused: false }, remove: ['paused_at'] };
    return this.change(queue, paused ? queueNotPaused : queuePaused, change);
  }

  /** Sets the queue's aging rate; `null` turns aging off (strict priority bands). */
  async setAging(queue: string, agingSecondsPerLevel: number | null): Promise<QueueState> {
    await this.register(queue);
    const change: Change<QueueItem> = agingSecondsPerLevel
      ? { set: { aging_seconds_per_level: agingSecondsPerLevel } }
      : { remove: ['aging_seconds_per_level'] };
    return this.change(queue, queueRegistered, change);
  }

  /**
   * Sets or clears the queue's limits: a field left out keeps its value, `null` removes it.
   * Claims and dispatches read them within `SETTINGS_MAX_AGE_MS`.
   */
  async setRateLimit(queue: string, limit: RateLimitChange): Promise<QueueState> {
    await this.register(queue);
    // An undefined value in `set` removes the attribute: that is what `null` asks for.
    const change: Change<QueueItem> = {
      set: {
        ...(limit.rate_per_second !== undefined
          ? { rate_per_second: limit.rate_per_second ?? undefined }
          : {}),
        ...(limit.burst !== undefined ? { burst: limit.burst ?? undefined } : {}),
        ...(limit.max_running !== undefined ? { max_running: limit.max_running ?? undefined } : {}),
      },
    };
    return this.change(queue, queueRegistered, change);
  }

  /**
   * Doubles the queue's shards, up to `maxShards`, after a write of one of its jobs was throttled:
   * each shard's index partitions take about 1,000 writes/s (docs/design.md, "Writes per job and
   * ceilings"), so jobs enqueued from now on spread over twice as many. Jobs already enqueued keep
   * their shard. One conditional write; of concurrent growers that read the same layout, one wins
   * and the others take its result. A `strict` queue keeps its one shard.
   */
  async grow(queue: string): Promise<QueueInfo | undefined> {
    const info = this.known.get(queue) ?? (await this.find(queue));
    if (!info || info.ordering === 'strict') return info;
    const shards = Math.min(info.shards * 2, this.config.maxShards);
    if (shards <= info.shards) return info;
    const written = await this.db.update<QueueItem>(queueKey(queue), queueShardsAre(info.shards), {
      set: { shards },
    });
    const item = written.ok ? written.item : written.old;
    if (item) this.remember(item);
    return this.known.get(queue);
  }

  /** The queue with its settings as stored; `undefined` for a queue never used. */
  async state(queue: string): Promise<QueueState | undefined> {
    const found = await this.db.get<QueueItem>(queueKey(queue));
    if (!found) return undefined;
    this.remember(found);
    return stateOf(found);
  }

  /** Every registered queue with its settings, by name. */
  async list(): Promise<QueueState[]> {
    const items = await this.db.queryAll<QueueItem>({ partition: QUEUES_PK });
    return items.map(stateOf).sort((a, b) => a.queue.localeCompare(b.queue));
  }

  /** One conditional write of a queue's settings. A refused one found the queue already as asked. */
  private async change(queue: string, when: Condition, change: Change<QueueItem>): Promise<QueueState> {
    const written = await this.db.update<QueueItem>(queueKey(queue), when, change);
    const item = written.ok ? written.item : written.old;
    if (!item) throw new Error(`queue ${queue} vanished from the registry`);
    this.remember(item);
    return stateOf(item);
  }

  private remember(item: QueueItem): void {
    this.known.set(item.queue, infoOf(item));
    this.read.set(item.queue, { settings: settingsOf(item), at: this.elapsed() });
  }
}
