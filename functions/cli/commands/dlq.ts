/** `relay dlq`: a queue's dead jobs, listed, requeued or deleted. */
import type { Command } from 'commander';
import { confirm, context, examples, limitOption, type PageOptions, print, usage } from '../context.ts';
import { jobDetail, jobPage } from '../format.ts';
import { resolveJobRef } from '../job-ref.ts';

export function addDlqCommands(cli: Command): void {
  const dlq = cli
    .command('dlq')
    .description("inspect and drain a queue's dead-letter queue: list, requeue, delete");
  examples(
    dlq,
    'relay dlq list default',
    'relay dlq requeue report-1',
    'relay dlq delete default/report-1 --yes',
  );

  examples(
    dlq
      .command('list')
      .description('list dead jobs')
      .argument('<queue>')
      .addOption(limitOption())
      .option('--cursor <cursor>', 'continue from a previous page')
      .action(async (queue: string, opts: PageOptions, command: Command) => {
        const { globals, client } = await context(command);
        const page = await client.dlqList(queue, opts);
        print(globals, page, jobPage(page, `no dead jobs in ${queue}`));
      }),
    'relay dlq list default --limit 50',
  );

  examples(
    dlq
      .command('requeue')
      .description('put one dead job (or, with --all, every one of a queue) back in its queue')
      .argument('<job>', 'the dead job: <queue>/<id>, <queue> <id> or a bare <id>; with --all, the queue')
      .argument('[id]', 'the job id, when <job> is its queue')
      .option('--all', 'requeue every dead job of the queue')
      .addOption(limitOption('with --all, requeue at most this many'))
      .action(
        async (
          first: string,
          second: string | undefined,
          opts: { all?: boolean; limit?: number },
          command: Command,
        ) => {
          if (second !== undefined && opts.all) usage('give a job, or a queue with --all, not both');
          if (opts.limit !== undefined && !opts.all) usage('--limit needs --all');
          const { globals, client } = await context(command);
          if (opts.all) {
            const result = await client.dlqRequeueAll(first, { limit: opts.limit });
            return print(globals, result, `requeued ${result.requeued} dead job(s) in ${first}`);
          }
          const ref = await resolveJobRef(client, first, second);
          const job = await client.dlqRequeue(ref.queue, ref.id);
          print(globals, job, jobDetail(job));
        },
      ),
    'relay dlq requeue report-1',
    'relay dlq requeue default --all --limit 100',
  );

  examples(
    dlq
      .command('delete')
      .description('delete a dead job for good, after asking (--yes to skip the question)')
      .argument('<job>', 'the dead job: <queue>/<id>, <queue> <id> or a bare <id>')
      .argument('[id]', 'the job id, when <job> is its queue')
      .option('-y, --yes', 'delete without asking (needed without a terminal)')
      .action(
        async (first: string, second: string | undefined, opts: { yes?: boolean }, command: Command) => {
          const { globals, client } = await context(command);
          const ref = await resolveJobRef(client, first, second);
          if (!opts.yes) {
            await confirm(`delete dead job ${ref.queue}/${ref.id} for good?`, 'not deleted', 'dlq delete');
          }
          await client.dlqDelete(ref.queue, ref.id);
          print(globals, undefined, `deleted ${ref.id} from the dead-letter queue of ${ref.queue}`);
        },
      ),
    'relay dlq delete default/report-1',
    'relay dlq delete default report-1 --yes',
  );
}
