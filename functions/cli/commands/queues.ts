/** The commands about queues: stats and queues. */
import type { Command } from 'commander';
import { context, examples, print } from '../context.ts';
import { NotFoundError } from '../exit.ts';
import { queueList, queueStats } from '../format.ts';

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
}
