/**
 * The `relay` command: `relay dev` runs Relay locally, `relay dashboard` serves the web dashboard for
 * a deployed one; the other commands drive a running Relay through the SDK. Output is aligned text,
 * or with `--json` the API's JSON as it came (and errors as JSON on stderr). Exit codes are in
 * `./exit.ts`.
 */
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { DEFAULT_ENDPOINT, RelayCredentialsError } from '../sdk/client.ts';
import { addBulkCommands } from './commands/bulk.ts';
import { addCompletionCommand } from './commands/completion.ts';
import { addConfigCommand } from './commands/config.ts';
import { addDashboardCommand } from './commands/dashboard.ts';
import { addDevCommand } from './commands/dev.ts';
import { addDlqCommands } from './commands/dlq.ts';
import { addJobCommands } from './commands/jobs.ts';
import { addQueueCommands } from './commands/queues.ts';
import { addScheduleCommands } from './commands/schedules.ts';
import { ConfigError } from './config.ts';
import { EXIT, Exit, errorJson, UsageError, WaitTimeoutError } from './exit.ts';

export { EXIT } from './exit.ts';

function program(json: boolean): Command {
  const cli = new Command('relay')
    .description('Relay: reliable background jobs on AWS, and locally.')
    .version(packageJson.version, '-V, --version', 'print the version of relay')
    .addOption(
      new Option(
        '--endpoint <url>',
        `Relay API to talk to (default: the one relay config saved, else ${DEFAULT_ENDPOINT})`,
      ).env('RELAY_URL'),
    )
    .addOption(new Option('--token <token>', 'bearer token for the API').env('RELAY_TOKEN'))
    .option('--json', "print the API's JSON instead of tables, and errors as JSON")
    // Before any subcommand is added: subcommands copy these settings when they are created.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      outputError: (message, write) => write(json ? `${usageJson(message)}\n` : message),
    });

  addDevCommand(cli);
  addDashboardCommand(cli);
  addJobCommands(cli);
  addDlqCommands(cli);
  addBulkCommands(cli);
  addQueueCommands(cli);
  addScheduleCommands(cli);
  addConfigCommand(cli);
  addCompletionCommand(cli);
  return cli;
}

/** A usage error as commander wrote it (`error: unknown command 'x'`), as `--json` prints errors. */
const usageJson = (message: string) =>
  errorJson(new UsageError(message.trim().replace(/^error: /, '')), EXIT.usage);

/** The exit code of an error no command handled itself. */
function exitCode(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof RelayCredentialsError) {
    return EXIT.usage;
  }
  return error instanceof WaitTimeoutError ? EXIT.timeout : EXIT.error;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await program(json).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof Exit) return error.code;
    const code = exitCode(error);
    const shown = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(json ? `${errorJson(shown, code)}\n` : `relay: ${shown.message}\n`);
    return code;
  }
}
