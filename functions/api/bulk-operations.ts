/**
 * Bulk actions over HTTP: retry, cancel or delete the jobs of a queue a filter selects, one capped
 * page per call. Retrying a managed job runs its command, so the jobs route retries pull jobs only
 * and counts the managed ones (`skipped_managed`); its managed twin retries those.
 */
import type { JobKind } from '../jobs/model.ts';
import type { ApiContext, Operations } from './context.ts';
import { bulkBody, toJobFilter } from './filter-schemas.ts';
import { HttpError, type HttpRequest, json, readJson, validBody } from './http.ts';
import { requireManaged } from './managed-operations.ts';
import { decodeCursor, encodeCursor, stopCancelledTask } from './native-operations.ts';

async function bulkAction(req: HttpRequest, ctx: ApiContext, kind: JobKind) {
  const body = validBody(bulkBody, readJson(req));
  if (kind === 'managed') {
    requireManaged(ctx);
    if (body.action !== 'retry') {
      // Cancelling and deleting start no command: they stay on the route everyone else uses.
      throw new HttpError(
        422,
        `the managed bulk route only retries: ${body.action} at /v1/queues/{queue}/jobs/bulk`,
      );
    }
  }
  const report = await ctx.jobs.bulk({
    action: body.action,
    queue: req.params.queue ?? '',
    filter: toJobFilter(body.filter),
    kind,
    dryRun: body.dry_run,
    limit: body.limit,
    cursor: decodeCursor(body.cursor),
    onChanged: body.action === 'cancel' ? (job) => stopCancelledTask(job, ctx) : undefined,
  });
  return json(200, {
    action: body.action,
    dry_run: body.dry_run,
    matched: report.matched,
    changed: report.changed,
    skipped_changed: report.skippedChanged,
    [kind === 'pull' ? 'skipped_managed' : 'skipped_pull']: report.skippedKind,
    sample_ids: report.sampleIds,
    next_cursor: encodeCursor(report.cursor),
    more: report.cursor !== null,
  });
}

export const bulkOperations: Operations = {
  'POST /v1/queues/{queue}/jobs/bulk': (req, ctx) => bulkAction(req, ctx, 'pull'),
};

export const managedBulkOperations: Operations = {
  'POST /v1/managed/queues/{queue}/jobs/bulk': (req, ctx) => bulkAction(req, ctx, 'managed'),
};
