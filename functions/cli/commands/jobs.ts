/** The commands about one job, or a page of them: submit, logs, status, runs, list, retry, cancel. */
import { type Command, Option } from 'commander';
import { type JobFilter, type JobInput, RelayApiError } from '../../sdk/client.ts';
import {
  context,
  examples,
  filterOf,
  filterOptions,
  limitOption,
  type PageOptions,
  positiveSeconds,
  print,
  usage,
} from '../context.ts';
import { UsageError } from '../exit.ts';
import { passOrFail, printLogs, waitForJobs } from '../follow.ts';
import { jobDetail, jobPage, runList } from '../format.ts';
import { fieldHints, readJobFile } from '../job-file.ts';
import { findJob, jobArguments, parseJobRef, resolveJobRef } from '../job-ref.ts';

/** Answers to a submit that mean the job file is wrong, not Relay: a usage error (exit 2). */
const INVALID_JOB = [400, 413, 422];

export function addJobCommands(cli: Command): void {
  examples(
    cli
      .command('submit')
      .description('submit a job from a JSON job file, or from stdin with -')
      .argument('<file>', 'job file, or - for stdin')
      .option(
        '--wait',
        'show its output as it runs, follow the jobs it chains, then print it; exit 0 only if all completed',
      )
      .addOption(
        new Option('--timeout <seconds>', 'with --wait, give up after this long (exit 124)').argParser(
          positiveSeconds,
        ),
      )
      .action(async (file: string, opts: { wait?: boolean; timeout?: number }, command: Command) => {
        if (opts.timeout !== undefined && !opts.wait) usage('--timeout needs --wait');
        const input = await readJobFile(file);
        const { globals, client } = await context(command);
        const startedAt = Date.now();
        // Sent as written: the API, not the CLI, decides which fields it accepts.
        const submitted = await client.submit(input as JobInput).catch((error: unknown) => {
          if (!(error instanceof RelayApiError && INVALID_JOB.includes(error.status))) throw error;
          const hints = fieldHints(input);
          const hint = hints.map((line) => `\n  ${line}`).join('');
          throw new UsageError(`${file === '-' ? 'stdin' : file}: ${error.message}${hint}`, { cause: error });
        });
        if (!opts.wait) return print(globals, submitted, jobDetail(submitted));
        const timeoutMs = opts.timeout === undefined ? undefined : opts.timeout * 1000;
        const [job = submitted, ...chained] = await waitForJobs(client, submitted, {
          startedAt,
          timeoutMs,
          output: !globals.json,
        });
        const children = chained.map((child) => `chained ${child.queue}/${child.id}: ${child.status}`);
        print(globals, job, [jobDetail(job), ...(children.length ? ['', ...children] : [])].join('\n'));
        for (const each of [job, ...chained]) passOrFail(each);
      }),
    'relay submit job.json',
    'relay submit job.json --wait --timeout 60',
    'cat job.json | relay submit - --json',
  );

  examples(
    jobArguments(
      cli
        .command('logs')
        .description("print a managed job's output: its stdout to stdout, its stderr to stderr")
        .addHelpText(
          'after',
          '\nA line on stderr heads each run: its attempt, run id and how it ended.\nPull jobs have no output: their workers run them.',
        ),
    )
      .option('--run <run_id>', 'only the output of this run')
      .option('-f, --follow', 'keep printing output until the job ends; exit 1 unless it completed')
      .action(
        async (
          first: string,
          second: string | undefined,
          opts: { run?: string; follow?: boolean },
          command: Command,
        ) => {
          const { globals, client } = await context(command);
          const ref = await resolveJobRef(client, first, second);
          const job = await printLogs(client, ref, {
            runId: opts.run,
            follow: opts.follow,
            json: globals.json,
          });
          if (job) passOrFail(job);
        },
      ),
    'relay logs scripts/greet',
    'relay logs greet --follow',
    'relay logs scripts greet --json',
  );

  examples(
    jobArguments(cli.command('status').description('show a job')).action(
      async (first: string, second: string | undefined, _opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        const ref = parseJobRef(first, second);
        const job =
          'queue' in ref ? await client.status(ref.queue, ref.id) : (await findJob(client, ref.id)).job;
        print(globals, job, jobDetail(job));
      },
    ),
    'relay status report-1',
    'relay status default/report-1',
  );

  examples(
    jobArguments(
      cli
        .command('runs')
        .description("list a job's runs, oldest first: how each ended, when, and the worker that ran it"),
    ).action(async (first: string, second: string | undefined, _opts: unknown, command: Command) => {
      const { globals, client } = await context(command);
      const ref = await resolveJobRef(client, first, second);
      const runs = await client.runs(ref.queue, ref.id);
      print(globals, runs, runList(runs));
    }),
    'relay runs report-1',
    'relay runs default/report-1 --json',
  );

  examples(
    filterOptions(
      cli.command('list').description('list jobs, newest first').option('--queue <queue>', 'only this queue'),
    )
      .addOption(limitOption())
      .option('--cursor <cursor>', 'continue from a previous page')
      .action(async (opts: PageOptions & JobFilter & { queue?: string }, command: Command) => {
        const { globals, client } = await context(command);
        const page = await client.list({
          ...filterOf(opts),
          queue: opts.queue,
          limit: opts.limit,
          cursor: opts.cursor,
        });
        print(globals, page, jobPage(page, 'no jobs'));
      }),
    'relay list --queue default --status dead',
    'relay list --queue default --error-contains timeout --created-after 2026-01-01T00:00:00Z',
  );

  for (const [name, description] of [
    ['retry', 'run a dead, cancelled or failed job again now, with a fresh retry budget'],
    ['cancel', 'cancel a pending, failed or running job'],
  ] as const) {
    examples(
      jobArguments(cli.command(name).description(description)).action(
        async (first: string, second: string | undefined, _opts: unknown, command: Command) => {
          const { globals, client } = await context(command);
          const ref = await resolveJobRef(client, first, second);
          const job = await client[name](ref.queue, ref.id);
          print(globals, job, jobDetail(job));
        },
      ),
      `relay ${name} report-1`,
      `relay ${name} default/report-1`,
    );
  }
}
