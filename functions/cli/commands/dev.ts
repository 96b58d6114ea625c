/** `relay dev`: Relay on this machine, with DynamoDB Local, fauxqs and the maintenance sweep. */
import type { Command } from 'commander';
import { DASHBOARD_PATH } from '../../dashboard/serve.ts';
import { LocalSetupError } from '../../local/preflight.ts';
import { DEFAULT_HOST, DEFAULT_PORT, startLocalStack } from '../../local/stack.ts';
import { examples, type Globals } from '../context.ts';
import { EXIT, Exit } from '../exit.ts';
import { parsePort, stopSignal } from '../serving.ts';

export function addDevCommand(cli: Command): void {
  examples(
    cli
      .command('dev')
      .description('run Relay locally: DynamoDB Local, the API and the maintenance sweep')
      .option(
        '--port <port>',
        'port to listen on (RELAY_PORT)',
        parsePort,
        parsePort(process.env.RELAY_PORT ?? String(DEFAULT_PORT)),
      )
      .option('--host <host>', 'address to bind (RELAY_HOST)', process.env.RELAY_HOST ?? DEFAULT_HOST)
      .option('--data-dir <dir>', 'keep DynamoDB data in this directory across restarts')
      .action(async (opts: { port: number; host: string; dataDir?: string }, command: Command) => {
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
        const token = command.optsWithGlobals<Globals>().token;
        const stack = await startLocalStack({
          host: opts.host,
          port: opts.port,
          token,
          dataDir: opts.dataDir,
        }).catch((error: unknown) => {
          // A busy port, no Java, no token: say what to fix in one line; nothing was left running.
          if (!(error instanceof LocalSetupError)) throw error;
          process.stderr.write(`relay dev: ${error.message}\n`);
          throw new Exit(EXIT.usage);
        });
        const emulators = `DynamoDB Local at ${stack.dynamodbEndpoint}, SQS (fauxqs) at ${stack.sqsEndpoint}`;
        process.stdout.write(welcome(stack.url, token, opts.dataDir, emulators, stack.commandsRunAs));
        await stopSignal('relay dev');
        process.stdout.write('\nstopping: running jobs are given back… (Ctrl-C again to stop at once)\n');
        await stack.stop();
      }),
    'relay dev',
    'relay dev --port 4001 --data-dir .relay-data',
  );
}

/** What `relay dev` prints once it answers: where it and its dashboard are, and three commands to paste. */
export function welcome(
  url: string,
  token: string | undefined,
  dataDir: string | undefined,
  emulators?: string,
  commandsRunAs?: string,
): string {
  const auth = token ? ` -H "authorization: Bearer $RELAY_TOKEN"` : '';
  return [
    `Relay is running at ${url} (${dataDir ? `data kept in ${dataDir}` : 'in memory'})`,
    ...(emulators ? [`Emulators: ${emulators}`] : []),
    ...(commandsRunAs ? [`Managed jobs' commands run ${commandsRunAs}`] : []),
    `Dashboard: ${url}${DASHBOARD_PATH}`,
    '',
    'Try it:',
    `  curl -s -X POST ${url}/v1/jobs -H 'content-type: application/json'${auth} -d '{"queue":"hello","payload":{"greeting":"hi"}}'`,
    `  curl -s${auth} '${url}/v2/queues/hello/jobs?num_jobs=1'`,
    `  npx relay list --queue hello --endpoint ${url}`,
    '',
    'Ctrl-C stops Relay.',
    '',
  ].join('\n');
}
