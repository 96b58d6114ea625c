/**
 * Which jobs a caller selects: the filters of `GET /v1/jobs` (query parameters) and of the bulk
 * routes (a JSON body), built from the same pieces so both mean the same thing.
 */
import * as z from 'zod';
import { BULK_ACTIONS, bulkApplies } from '../jobs/bulk.ts';
import type { JobFilter } from '../jobs/filters.ts';
import { VIEW_STATUSES } from '../jobs/model.ts';
import { digits, name } from './schemas.ts';

/** Most jobs one bulk call lists and changes: 1,000 conditional writes, 16 at a time, fit in 30 s. */
export const BULK_LIMIT = 1_000;

/** An instant with its offset (`2026-01-01T00:00:00Z`), as epoch milliseconds. */
const instant = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text));

/** Text a job's `last_error` contains: errors are stored up to 64 KiB. */
const errorText = z.string().min(1).max(1024);

/** Only after < before selects anything: an empty window is the caller's mistake, not an empty answer. */
const windowOpen = (filter: { created_before?: number; created_after?: number }) =>
  filter.created_before === undefined ||
  filter.created_after === undefined ||
  filter.created_after < filter.created_before;
const windowMessage = { message: 'created_after must be before created_before' };

/** Unknown parameters name themselves: a misspelt filter must not silently select every job. */
const unknownKeys = (what: string) => (issue: z.core.$ZodRawIssue) =>
  issue.code === 'unrecognized_keys' ? `unknown ${what}: ${issue.keys.join(', ')}` : undefined;

export const listQuery = z
  .strictObject(
    {
      queue: name('queue').optional(),
      status: z.enum(VIEW_STATUSES).optional(),
      error_contains: errorText.optional(),
      created_before: instant.optional(),
      created_after: instant.optional(),
      limit: digits('limit').pipe(z.number().min(1).max(100)).default(20),
      cursor: z.string().optional(),
    },
    { error: unknownKeys('query parameter(s)') },
  )
  .refine(windowOpen, windowMessage);

const filterBody = z
  .strictObject(
    {
      status: z.enum(VIEW_STATUSES).optional(),
      error_contains: errorText.optional(),
      created_before: instant.optional(),
      created_after: instant.optional(),
    },
    { error: unknownKeys('filter field(s)') },
  )
  .refine(windowOpen, windowMessage);

export const bulkBody = z
  .strictObject({
    action: z.enum(BULK_ACTIONS),
    filter: filterBody.default({}),
    dry_run: z.boolean().default(false),
    limit: z.number().int().min(1).max(BULK_LIMIT).default(100),
    cursor: z.string().optional(),
  })
  .refine((body) => body.filter.status === undefined || bulkApplies(body.action, body.filter.status), {
    message: 'this action does not apply to jobs of that status',
    path: ['filter', 'status'],
  });

/** The store's filter from either shape's fields. */
export const toJobFilter = (f: z.output<typeof filterBody>): JobFilter => ({
  status: f.status,
  errorContains: f.error_contains,
  createdBefore: f.created_before,
  createdAfter: f.created_after,
});
