/** The commands about queues: stats, queues, pause, resume, aging and limits. */
import type { Command } from 'commander';
import type { QueueLimitsChange } from '../../sdk/client.ts';
import { context, examples, print } from '../context.ts';
import { NotFoundError, UsageError } from '../exit.ts';
import { queueLimits, queueList, queueState, queueStats } from '../format.ts';

export function addQueueCommands(cli: Command): void {
  examples(
    cli
      .command('stats')
      .description("count a queue's jobs by status")
      .argument('<queue>')
      .action(async (queue: string, _opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        // The API counts any name, known or not: all zeros would hide a misspelt queue.
        const [stats, { queues }] = await Promise.all([client.stats(queue), client.queues()]);
        if (!queues.some((q) => q.name === queue)) {
          const names = queues.map((q) => q.name);
          const more = names.length > 10 ? `, and ${names.length - 10} more` : '';
          const known = names.length ? `queues: ${names.slice(0, 10).join(', ')}${more}` : 'no queues yet';
          throw new NotFoundError(`no queue named \`${queue}\`: no job was ever submitted to it (${known})`);
        }
        print(globals, stats, queueStats(stats));
      }),
    'relay stats default',
  );

  examples(
    cli
      .command('queues')
      .description('list queues with their job counts')
      .action(async (_opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        const result = await client.queues();
        print(globals, result, queueList(result.queues));
      }),
    'relay queues --json',
  );

  const queueControls = [
    ['pause', 'stop handing out jobs of a queue: it still takes jobs, and running jobs finish'],
    ['resume', 'hand out the jobs of a paused queue again'],
  ] as const;
  for (const [name, description] of queueControls) {
    examples(
      cli
        .command(name)
        .description(description)
        .argument('<queue>')
        .action(async (queue: string, _opts: unknown, command: Command) => {
          const { globals, client } = await context(command);
          const state = await client[name](queue);
          print(globals, state, queueState(state));
        }),
      `relay ${name} emails`,
    );
  }

  examples(
    cli
      .command('aging')
      .description('let waiting jobs gain one priority level per <seconds>, or keep strict order (off)')
      .argument('<queue>')
      .argument('<seconds|off>')
      .action(async (queue: string, rate: string, _opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        const state = await client.setQueueSettings(queue, { aging_seconds_per_level: agingRate(rate) });
        print(globals, state, queueState(state));
      }),
    'relay aging reports 60',
    'relay aging payments off',
  );

  examples(
    cli
      .command('limits')
      .description('show or set how many runs of a queue may start per second, and run at once')
      .argument('<queue>')
      .option('--rate <n>', 'runs started per second (a fraction is fine: 0.5 is one every 2 s)')
      .option(
        '--burst <n>',
        'runs that may start at once after a quiet spell (default: one second of the rate)',
      )
      .option('--max-running <n>', 'runs that may be running at once, across every worker')
      .option('--clear', 'remove every limit')
      .action(async (queue: string, opts: LimitsOptions, command: Command) => {
        const { globals, client } = await context(command);
        const change = limitsChange(opts);
        const view = change ? await client.setLimits(queue, change) : await client.limits(queue);
        print(globals, view, queueLimits(view));
      }),
    'relay limits emails --rate 5 --burst 10',
    'relay limits emails --max-running 4',
    'relay limits emails',
    'relay limits emails --clear',
  );
}

interface LimitsOptions {
  readonly rate?: string;
  readonly burst?: string;
  readonly maxRunning?: string;
  readonly clear?: boolean;
}

/** The change the options ask for; `undefined` when they ask for none (show the limits). */
function limitsChange(opts: LimitsOptions): QueueLimitsChange | undefined {
  if (opts.clear) {
    if (opts.rate !== undefined || opts.burst !== undefined || opts.maxRunning !== undefined) {
      throw new UsageError('--clear removes every limit: give it without --rate, --burst or --max-running');
    }
    return { rate_per_second: null, burst: null, max_running: null };
  }
  const change = {
    ...(opts.rate !== undefined ? { rate_per_second: positive('--rate', opts.rate) } : {}),
    ...(opts.burst !== undefined ? { burst: positive('--burst', opts.burst) } : {}),
    ...(opts.maxRunning !== undefined ? { max_running: positive('--max-running', opts.maxRunning) } : {}),
  };
  return Object.keys(change).length ? change : undefined;
}

/** A positive number from an option; the API checks the rest (a whole burst, the maximums). */
function positive(option: string, value: string): number {
  const n = Number(value);
  if (!value.trim() || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${option} must be a positive number, not \`${value}\``);
  }
  return n;
}

/** `off`, or a positive number of seconds. */
function agingRate(rate: string): number | null {
  if (rate === 'off') return null;
  const seconds = Number(rate);
  if (!rate.trim() || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`aging must be a positive number of seconds or \`off\`, not \`${rate}\``);
  }
  return seconds;
}
