/**
 * Bulk actions: retry, cancel or delete the jobs of a queue that a filter selects, one capped page
 * per call.
 *
 * A call lists up to `limit` jobs newest first (the walk `GET /v1/jobs` makes), then changes each
 * with the action's own operator transition, conditioned also on `unchangedSince` the listing: a
 * job changed since it was listed (by its worker, an operator, another bulk call) may no longer
 * match the filter, so it is skipped and counted, never overwritten. A dry run only lists.
 */
import { mapLimit } from '../core/concurrency.ts';
import { BULK_ACTION_STATUSES } from '../core/statuses.ts';
import type { StoreContext } from './context.ts';
import type { JobFilter } from './filters.ts';
import type { JobItem } from './item.ts';
import {
  type Job,
  type JobKind,
  kindOf,
  LIVE,
  NOT_RUNNING,
  type StoredStatus,
  type ViewStatus,
} from './model.ts';
import { cancelUnchanged, deleteUnchanged, RETRYABLE, retryUnchanged } from './operator.ts';
import { listItems } from './reads.ts';

export const BULK_ACTIONS = ['retry', 'cancel', 'delete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** The stored statuses each action changes a job from: its single-job transition's. */
export const BULK_FROM: Readonly<Record<BulkAction, readonly StoredStatus[]>> = {
  retry: RETRYABLE,
  cancel: LIVE,
  delete: NOT_RUNNING,
};

/** Whether a job shown as `status` is one `action` can change. */
export const bulkApplies = (action: BulkAction, status: ViewStatus): boolean =>
  (BULK_ACTION_STATUSES[action] as readonly ViewStatus[]).includes(status);

/** Most ids a report names: enough to check a filter, small enough for any answer. */
export const SAMPLE_IDS = 20;

/** Writes in flight at once: each is one conditional write, so 1,000 take well under API Gateway's 30 s. */
const CONCURRENCY = 16;

export interface BulkRequest {
  readonly action: BulkAction;
  readonly queue: string;
  readonly filter: JobFilter;
  /**
   * Retry changes jobs of this kind only; the others are counted in `skippedKind`. Reviving a
   * managed job runs its command, so only the managed route retries those.
   */
  readonly kind: JobKind;
  readonly dryRun: boolean;
  /** Most jobs listed in this call. */
  readonly limit: number;
  readonly cursor?: string;
  /** After each job changed (not deleted): where a retried managed job is hinted. */
  readonly onChanged?: (job: Job) => Promise<void>;
}

export interface BulkReport {
  /** Jobs listed that the action applies to, of the kind it may change. */
  readonly matched: number;
  readonly changed: number;
  /** Matched jobs that changed between the listing and the write, left as they were. */
  readonly skippedChanged: number;
  /** Jobs listed of the other kind (retry only): for the other route. */
  readonly skippedKind: number;
  /** Up to `SAMPLE_IDS` of the matched jobs' ids, newest first. */
  readonly sampleIds: string[];
  /** Where the next call starts; null once nothing older is left. */
  readonly cursor: string | null;
}

/** Lists one page of the jobs `request` selects and, unless a dry run, changes each. */
export async function bulk(ctx: StoreContext, request: BulkRequest): Promise<BulkReport> {
  const { action, queue, limit, cursor, kind } = request;
  const page = await listItems(ctx, { ...request.filter, statuses: BULK_FROM[action], queue, limit, cursor });
  const targets = action === 'retry' ? page.items.filter((item) => kindOf(item) === kind) : page.items;
  const report = {
    matched: targets.length,
    skippedKind: page.items.length - targets.length,
    sampleIds: targets.slice(0, SAMPLE_IDS).map((item) => item.id),
    cursor: page.cursor,
  };
  if (request.dryRun) return { ...report, changed: 0, skippedChanged: 0 };
  const done = await mapLimit(targets, CONCURRENCY, (item) => change(ctx, request, item));
  const changed = done.filter(Boolean).length;
  return { ...report, changed, skippedChanged: targets.length - changed };
}

/** The action's transition on one listed job: false when the job changed since it was listed. */
async function change(ctx: StoreContext, request: BulkRequest, item: JobItem): Promise<boolean> {
  if (request.action === 'delete') return deleteUnchanged(ctx, item);
  const job =
    request.action === 'cancel'
      ? await cancelUnchanged(ctx, item)
      : await retryUnchanged(ctx, item, request.kind);
  if (job) await request.onChanged?.(job);
  return job !== undefined;
}
