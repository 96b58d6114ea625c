import { Command, CommanderError } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT, startLocalStack } from '../local/stack.ts';

/** Exit codes: 0 ok, 1 error, 2 usage. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

function program(): Command {
  const cli = new Command('relay').description('Relay: reliable background jobs on AWS, and locally.');
  cli
    .command('dev')
    .description('run Relay locally: DynamoDB Local, the API and the maintenance sweep')
    .option('--port <port>', 'port to listen on (RELAY_PORT)', process.env.RELAY_PORT ?? String(DEFAULT_PORT))
    .option('--host <host>', 'address to bind (RELAY_HOST)', process.env.RELAY_HOST ?? DEFAULT_HOST)
    .option('--data-dir <dir>', 'keep DynamoDB data in this directory across restarts')
    .action(async (opts: { port: string; host: string; dataDir?: string }) => {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const stack = await startLocalStack({
        host: opts.host,
        port: Number(opts.port),
        token: process.env.RELAY_TOKEN,
        dataDir: opts.dataDir,
      });
      process.stdout.write(`Relay is running at ${stack.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stdout.write('\nstopping…\n');
      await stack.stop();
    });
  return cli;
}

export async function main(argv: string[]): Promise<number> {
  const cli = program().exitOverride();
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`relay: ${(error as Error).message}\n`);
    return EXIT.error;
  }
}
