/** The commands about cron schedules: `relay schedule create|list|show|delete|pause|resume|trigger`. */
import { type Command, Option } from 'commander';
import { RelayApiError, type ScheduledJobInput, type ScheduleInput } from '../../sdk/client.ts';
import { context, examples, print, usage } from '../context.ts';
import { UsageError } from '../exit.ts';
import { jobDetail, scheduleDetail, scheduleList } from '../format.ts';
import { readJobFile } from '../job-file.ts';

interface CreateOptions {
  readonly cron: string;
  readonly tz?: string;
  readonly job?: string;
  readonly queue?: string;
  readonly payload?: string;
  readonly overlap?: 'allow' | 'skip';
  readonly paused?: boolean;
}

/** The schedule's job: a job file (`--job`), or a pull job of `--payload` on `--queue`. */
async function jobOf(opts: CreateOptions): Promise<ScheduledJobInput> {
  if (opts.job !== undefined && opts.payload !== undefined) usage('give --job or --payload, not both');
  if (opts.job !== undefined) {
    if (opts.queue !== undefined) usage('--queue goes in the job file with --job');
    return (await readJobFile(opts.job)) as ScheduledJobInput;
  }
  if (opts.payload === undefined) return usage('give the job to enqueue: --job <file> or --payload <json>');
  try {
    return { queue: opts.queue, payload: JSON.parse(opts.payload) };
  } catch (error) {
    return usage(`--payload is not valid JSON: ${(error as Error).message}`);
  }
}

/** `relay schedule <action> <name>` for the actions that take only a name. */
function byName(
  group: Command,
  action: string,
  description: string,
  run: (name: string, command: Command) => Promise<void>,
) {
  examples(
    group
      .command(action)
      .description(description)
      .argument('<name>')
      .action((name: string, _opts: unknown, command: Command) => run(name, command)),
    `relay schedule ${action} nightly-report`,
  );
}

export function addScheduleCommands(cli: Command): void {
  const group = cli.command('schedule').description('cron schedules: enqueue a job at each fire time');

  examples(
    group
      .command('create')
      .description('create a schedule (one whose job runs a command needs the permission to run commands)')
      .argument('<name>', '1 to 200 letters, digits, ".", "_" or "-"')
      .requiredOption('--cron <expression>', '5 fields, or 6 with seconds first')
      .option('--tz <zone>', 'IANA time zone the expression is read in (default: UTC)')
      .option(
        '--job <file>',
        'the job to enqueue, as a JSON job file without id, run_at or delay (- for stdin)',
      )
      .option('--payload <json>', 'or: enqueue a pull job with this payload')
      .option('--queue <queue>', 'with --payload, the queue (default: default)')
      .addOption(
        new Option('--overlap <policy>', 'skip a fire while the last job is live').choices(['allow', 'skip']),
      )
      .option('--paused', 'create it paused')
      .action(async (name: string, opts: CreateOptions, command: Command) => {
        const schedule: ScheduleInput = {
          cron: opts.cron,
          timezone: opts.tz,
          job: await jobOf(opts),
          overlap: opts.overlap,
          paused: opts.paused,
        };
        const { globals, client } = await context(command);
        const created = await client.createSchedule(name, schedule).catch((error: unknown) => {
          // A bad expression, zone or job is the command line's to fix: a usage error (exit 2).
          if (!(error instanceof RelayApiError && [400, 422].includes(error.status))) throw error;
          throw new UsageError(error.message, { cause: error });
        });
        print(globals, created, scheduleDetail(created));
      }),
    `relay schedule create nightly-report --cron '0 3 * * *' --tz Europe/Berlin --payload '{"report":"nightly"}' --queue reports`,
    "relay schedule create cleanup --cron '*/15 * * * *' --job cleanup.json --overlap skip",
  );

  examples(
    group
      .command('list')
      .description('list schedules with their next fire time')
      .action(async (_opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        const result = await client.schedules();
        print(globals, result, scheduleList(result.schedules));
      }),
    'relay schedule list',
  );

  byName(group, 'show', 'show a schedule and its next fire times', async (name, command) => {
    const { globals, client } = await context(command);
    const schedule = await client.schedule(name);
    print(globals, schedule, scheduleDetail(schedule));
  });

  byName(group, 'delete', 'delete a schedule (the jobs it enqueued stay)', async (name, command) => {
    const { globals, client } = await context(command);
    await client.deleteSchedule(name);
    print(globals, undefined, `deleted schedule ${name}`);
  });

  for (const [action, description] of [
    ['pause', 'stop a schedule from firing'],
    ['resume', 'let a paused schedule fire again, from its next fire time'],
  ] as const) {
    byName(group, action, description, async (name, command) => {
      const { globals, client } = await context(command);
      const schedule = await (action === 'pause' ? client.pauseSchedule(name) : client.resumeSchedule(name));
      print(globals, schedule, scheduleDetail(schedule));
    });
  }

  byName(group, 'trigger', "enqueue a schedule's job now, outside its fire times", async (name, command) => {
    const { globals, client } = await context(command);
    const job = await client.triggerSchedule(name);
    print(globals, job, jobDetail(job));
  });
}
