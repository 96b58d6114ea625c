/** `relay bulk`: retry, cancel or delete every job of a queue a filter selects, page by page. */
import type { Command } from 'commander';
import { BULK_ACTION_STATUSES } from '../../core/statuses.ts';
import type { BulkAction, BulkResult, JobFilter, RelayClient } from '../../sdk/client.ts';
import { confirm, context, examples, filterOf, filterOptions, print } from '../context.ts';

/** Jobs per call: the API's cap. */
const PAGE = 1_000;

const DONE: Record<BulkAction, string> = { retry: 'retried', cancel: 'cancelled', delete: 'deleted' };

type BulkOptions = JobFilter & { queue: string; dryRun?: boolean; yes?: boolean };

interface Totals {
  action: BulkAction;
  dry_run: boolean;
  matched: number;
  changed: number;
  skipped_changed: number;
  sample_ids: string[];
}

export function addBulkCommands(cli: Command): void {
  const bulk = cli
    .command('bulk')
    .description("retry, cancel or delete a queue's jobs by filter, after asking (--dry-run only counts)");
  examples(
    bulk,
    'relay bulk retry --queue default --status dead --error-contains timeout --dry-run',
    'relay bulk delete --queue default --status completed --created-before 2026-01-01T00:00:00Z --yes',
  );
  for (const action of ['retry', 'cancel', 'delete'] as const) {
    examples(
      filterOptions(
        bulk.command(action).description(`${action} every job of the queue the filter selects`),
        BULK_ACTION_STATUSES[action],
      )
        .requiredOption('--queue <queue>', 'the queue')
        .option('--dry-run', 'only count the jobs and show some of their ids')
        .option('-y, --yes', `${action} without asking (needed without a terminal)`)
        .action(async (opts: BulkOptions, command: Command) => {
          const { globals, client } = await context(command);
          const run = (dryRun: boolean) => allPages(client, action, opts, dryRun);
          const counted = await run(true);
          if (opts.dryRun || counted.matched === 0)
            return print(globals, counted, describe(counted, opts.queue));
          if (!opts.yes) {
            await confirm(
              `${action} ${counted.matched} job(s) of ${opts.queue}?`,
              `nothing ${DONE[action]}`,
              'bulk',
            );
          }
          const totals = await run(false);
          print(globals, totals, describe(totals, opts.queue));
        }),
      `relay bulk ${action} --queue default --status ${BULK_ACTION_STATUSES[action][0]} --dry-run`,
    );
  }
}

/** Calls the bulk route page by page until nothing is left, summing the reports. */
async function allPages(client: RelayClient, action: BulkAction, opts: BulkOptions, dryRun: boolean) {
  const totals: Totals = {
    action,
    dry_run: dryRun,
    matched: 0,
    changed: 0,
    skipped_changed: 0,
    sample_ids: [],
  };
  let cursor: string | undefined;
  do {
    const page: BulkResult = await client.bulk(opts.queue, action, {
      filter: filterOf(opts),
      dryRun,
      limit: PAGE,
      cursor,
    });
    totals.matched += page.matched;
    totals.changed += page.changed;
    totals.skipped_changed += page.skipped_changed;
    totals.sample_ids = [...totals.sample_ids, ...page.sample_ids].slice(0, 20);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return totals;
}

function describe(totals: Totals, queue: string): string {
  const ids = totals.sample_ids.length
    ? `: ${totals.sample_ids.join(', ')}${totals.matched > 20 ? ', …' : ''}`
    : '';
  if (totals.matched === 0) return `no job in ${queue} matches`;
  if (totals.dry_run) return `would ${totals.action} ${totals.matched} job(s) in ${queue}${ids}`;
  const skipped = totals.skipped_changed
    ? ` (${totals.skipped_changed} changed meanwhile, left as they were)`
    : '';
  return `${DONE[totals.action]} ${totals.changed} job(s) in ${queue}${skipped}`;
}
