/**
 * The `relay` command: `relay dev` runs Relay locally; the other commands drive a running Relay
 * through the SDK. Output is aligned text, or with `--json` the API's JSON as it came.
 *
 * Commands talk to `--endpoint`, else `RELAY_URL`, else the Relay `relay config --from-stack` saved,
 * else the local default; the SDK signs requests with SigV4 when that is a deployed Relay.
 */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LocalSetupError } from '../local/preflight.ts';
import { DEFAULT_HOST, DEFAULT_PORT, startLocalStack } from '../local/stack.ts';
import {
  DEFAULT_ENDPOINT,
  JOB_STATUSES,
  type Job,
  type JobInput,
  type JobStatus,
  RelayClient,
  RelayCredentialsError,
} from '../sdk/client.ts';
import { API_URL_OUTPUT, ConfigError, configPath, readConfig, stackConfig, writeConfig } from './config.ts';
import { printLogs, waitForJob } from './follow.ts';
import { jobDetail, jobPage, queueList, queueStats, table } from './format.ts';

/** Exit codes: 0 ok, 1 error, 2 usage or setup (config file, stack, AWS credentials). */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** Ends a command with a non-zero exit code when what needed saying is already printed. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** A watched job that ended dead or cancelled fails the command (exit 1); a completed one passes. */
function passOrFail(job: Job): void {
  if (job.status !== 'completed') throw new Exit(EXIT.error);
}

/** Options every command accepts, before or after its name. */
interface Globals {
  /** Unset unless given as `--endpoint` or `RELAY_URL`: see `target`. */
  readonly endpoint?: string;
  readonly token?: string;
  readonly json?: boolean;
}

interface PageOptions {
  readonly limit?: number;
  readonly cursor?: string;
}

/** Stops with a usage error (exit 2), written as commander writes its own. */
const usage = (command: Command, message: string): never =>
  command.error(`error: ${message}`, { exitCode: EXIT.usage, code: 'relay.usage' });

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

function positiveSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
    throw new InvalidArgumentError('must be a positive number of seconds');
  }
  return Number(value);
}

const limitOption = (description = 'at most this many jobs') =>
  new Option('--limit <n>', description).argParser(positiveInt);

/** The Relay commands talk to, and where that choice came from. */
interface Target {
  readonly endpoint: string;
  readonly source: string;
  /** The region a saved deployed Relay is signed for. */
  readonly region?: string;
}

/** `--endpoint`, else `RELAY_URL`, else the saved config, else the local default. */
async function target(command: Command): Promise<Target> {
  const { endpoint } = command.optsWithGlobals<Globals>();
  if (endpoint !== undefined) {
    const fromEnv = command.getOptionValueSourceWithGlobals('endpoint') === 'env';
    return { endpoint, source: fromEnv ? 'RELAY_URL' : '--endpoint' };
  }
  const file = configPath();
  const saved = await readConfig(file);
  return saved ? { ...saved, source: file } : { endpoint: DEFAULT_ENDPOINT, source: 'default' };
}

/**
 * A client for `target`. A saved Relay is signed for its saved region (its URL may be a custom
 * domain); any other endpoint only when the SDK sees it is API Gateway's, or `RELAY_AWS_REGION` asks.
 */
const clientFor = ({ endpoint, region }: Target, token?: string) =>
  new RelayClient({ endpoint, token, sigv4: region ? { region } : undefined });

/** The command's global options and a client for its target. */
async function context(command: Command) {
  const globals = command.optsWithGlobals<Globals>();
  return { globals, client: clientFor(await target(command), globals.token) };
}

/** Prints `value` as JSON with `--json` (nothing for an answer without a body), else `human`. */
function print(globals: Globals, value: unknown, human: string): void {
  if (globals.json) {
    if (value !== undefined) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  } else process.stdout.write(`${human}\n`);
}

/**
 * A job named as `<queue> <id>` or `<queue>/<id>`. The second form splits at the first slash, so
 * a queue whose name holds a slash must be given as two arguments.
 */
function jobRef(command: Command, queue: string, id: string | undefined): [string, string] {
  if (id !== undefined) return [queue, id];
  const slash = queue.indexOf('/');
  if (slash > 0 && slash < queue.length - 1) return [queue.slice(0, slash), queue.slice(slash + 1)];
  return usage(command, 'missing job id: give <queue> <id> or <queue>/<id>');
}

/** A job file's JSON, from a path or `-` for stdin. */
async function readJobFile(source: string): Promise<unknown> {
  const content = source === '-' ? await text(process.stdin) : await readFile(source, 'utf8');
  try {
    return JSON.parse(content);
  } catch (error) {
    throw new Error(`${source === '-' ? 'stdin' : source} is not valid JSON: ${(error as Error).message}`);
  }
}

function program(): Command {
  const cli = new Command('relay')
    .description('Relay: reliable background jobs on AWS, and locally.')
    .addOption(
      new Option(
        '--endpoint <url>',
        `Relay API to talk to (default: the one relay config saved, else ${DEFAULT_ENDPOINT})`,
      ).env('RELAY_URL'),
    )
    .addOption(new Option('--token <token>', 'bearer token for the API').env('RELAY_TOKEN'))
    .option('--json', "print the API's JSON instead of tables")
    // Before any subcommand is added: subcommands copy these settings when they are created.
    .exitOverride();

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
      await stopSignal();
      process.stdout.write('\nstopping: running jobs are given back… (Ctrl-C again to stop at once)\n');
      await stack.stop();
    });

  cli
    .command('submit')
    .description('submit a job from a JSON job file, or from stdin with -')
    .argument('<file>', 'job file, or - for stdin')
    .option('--wait', 'follow the job to its end, then print it; exit 1 unless it completed')
    .addOption(
      new Option('--timeout <seconds>', 'with --wait, give up after this long').argParser(positiveSeconds),
    )
    .action(async (file: string, opts: { wait?: boolean; timeout?: number }, command: Command) => {
      if (opts.timeout !== undefined && !opts.wait) usage(command, '--timeout needs --wait');
      const { globals, client } = await context(command);
      const startedAt = Date.now();
      // Sent as written: the API, not the CLI, decides which fields it accepts.
      const submitted = await client.submit((await readJobFile(file)) as JobInput);
      if (!opts.wait) return print(globals, submitted, jobDetail(submitted));
      const timeoutMs = opts.timeout === undefined ? undefined : opts.timeout * 1000;
      const job = await waitForJob(client, submitted, { startedAt, timeoutMs });
      print(globals, job, jobDetail(job));
      passOrFail(job);
    });

  cli
    .command('logs')
    .description("print a managed job's output: its stdout to stdout, its stderr to stderr")
    .argument('<queue>', 'queue, or <queue>/<id>')
    .argument('[id]', 'job id')
    .option('--run <run_id>', 'only the output of this run')
    .option('-f, --follow', 'keep printing output until the job ends; exit 1 unless it completed')
    .action(
      async (
        queue: string,
        id: string | undefined,
        opts: { run?: string; follow?: boolean },
        command: Command,
      ) => {
        const { globals, client } = await context(command);
        const [q, i] = jobRef(command, queue, id);
        const job = await printLogs(client, q, i, {
          runId: opts.run,
          follow: opts.follow,
          json: globals.json,
        });
        if (job) passOrFail(job);
      },
    );

  cli
    .command('status')
    .description('show a job')
    .argument('<queue>', 'queue, or <queue>/<id>')
    .argument('[id]', 'job id')
    .action(async (queue: string, id: string | undefined, _opts: unknown, command: Command) => {
      const { globals, client } = await context(command);
      const job = await client.status(...jobRef(command, queue, id));
      print(globals, job, jobDetail(job));
    });

  cli
    .command('list')
    .description('list jobs, newest first')
    .option('--queue <queue>', 'only this queue')
    .addOption(new Option('--status <status>', 'only jobs with this status').choices(JOB_STATUSES))
    .addOption(limitOption())
    .option('--cursor <cursor>', 'continue from a previous page')
    .action(async (opts: PageOptions & { queue?: string; status?: JobStatus }, command: Command) => {
      const { globals, client } = await context(command);
      const page = await client.list(opts);
      print(globals, page, jobPage(page, 'no jobs'));
    });

  for (const [name, description] of [
    ['retry', 'run a dead, cancelled or failed job again now'],
    ['cancel', 'cancel a pending, failed or running job'],
  ] as const) {
    cli
      .command(name)
      .description(description)
      .argument('<queue>', 'queue, or <queue>/<id>')
      .argument('[id]', 'job id')
      .action(async (queue: string, id: string | undefined, _opts: unknown, command: Command) => {
        const { globals, client } = await context(command);
        const job = await client[name](...jobRef(command, queue, id));
        print(globals, job, jobDetail(job));
      });
  }

  const dlq = cli.command('dlq').description("inspect and drain a queue's dead-letter queue");
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
    });
  dlq
    .command('requeue')
    .description('put one dead job (or, with --all, every one) back in its queue')
    .argument('<queue>')
    .argument('[id]', 'the dead job to requeue')
    .option('--all', 'requeue every dead job of the queue')
    .addOption(limitOption('with --all, requeue at most this many'))
    .action(
      async (
        queue: string,
        id: string | undefined,
        opts: { all?: boolean; limit?: number },
        command: Command,
      ) => {
        if (id === undefined && !opts.all) usage(command, 'give a job id, or --all');
        if (id !== undefined && opts.all) usage(command, 'give a job id or --all, not both');
        if (opts.limit !== undefined && !opts.all) usage(command, '--limit needs --all');
        const { globals, client } = await context(command);
        if (id !== undefined) {
          const job = await client.dlqRequeue(queue, id);
          return print(globals, job, jobDetail(job));
        }
        const result = await client.dlqRequeueAll(queue, { limit: opts.limit });
        print(globals, result, `requeued ${result.requeued} dead job(s) in ${queue}`);
      },
    );
  dlq
    .command('delete')
    .description('delete a dead job for good')
    .argument('<queue>')
    .argument('<id>')
    .action(async (queue: string, id: string, _opts: unknown, command: Command) => {
      const { globals, client } = await context(command);
      await client.dlqDelete(queue, id);
      print(globals, undefined, `deleted ${id} from the dead-letter queue of ${queue}`);
    });

  cli
    .command('stats')
    .description("count a queue's jobs by status")
    .argument('<queue>')
    .action(async (queue: string, _opts: unknown, command: Command) => {
      const { globals, client } = await context(command);
      const stats = await client.stats(queue);
      print(globals, stats, queueStats(stats));
    });

  cli
    .command('queues')
    .description('list queues with their job counts')
    .action(async (_opts: unknown, command: Command) => {
      const { globals, client } = await context(command);
      const result = await client.queues();
      print(globals, result, queueList(result.queues));
    });

  cli
    .command('config')
    .description('show which Relay commands talk to; with --from-stack, save a deployed Relay as the default')
    .option(
      '--from-stack <name>',
      `save the API URL from this CloudFormation stack's ${API_URL_OUTPUT} output`,
    )
    .option('--region <region>', "with --from-stack, the stack's region (default: the AWS SDK's)")
    .action(async (opts: { fromStack?: string; region?: string }, command: Command) => {
      const globals = command.optsWithGlobals<Globals>();
      const file = configPath();
      if (opts.fromStack === undefined) {
        if (opts.region !== undefined) usage(command, '--region needs --from-stack');
        const found = await target(command);
        const { endpoint, region } = clientFor(found);
        const source = found.source === 'default' ? `default (nothing saved in ${file})` : found.source;
        const rows = [
          ['endpoint', endpoint],
          ['source', source],
          ['signing', region ? `SigV4 for ${region}` : 'none'],
        ];
        const shown = { endpoint, source: found.source, region: region ?? null, config_file: file };
        return print(globals, shown, table(undefined, rows));
      }
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
      const cloudformation = new CloudFormationClient(opts.region ? { region: opts.region } : {});
      const saved = await stackConfig(cloudformation, opts.fromStack);
      await writeConfig(file, saved);
      print(globals, { ...saved, config_file: file }, `saved ${saved.endpoint} (${saved.region}) to ${file}`);
    });

  return cli;
}

/**
 * Resolves at the first SIGINT or SIGTERM. Under `npm start` a terminal's Ctrl-C arrives twice
 * (from the terminal, and forwarded by npm), so a repeat within a second is the same request; a
 * later one stops at once, leaving the children to notice (closed stdin, IPC channel, death signal).
 */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    let first: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now();
        resolve();
      } else if (Date.now() - first > 1_000) {
        process.stderr.write(`relay dev: ${signal} again, stopping at once\n`);
        process.exit(EXIT.error);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`port must be a whole number from 0 to 65535, not \`${value}\``);
  }
  return port;
}

/** What `relay dev` prints once it answers: where it is, and three commands to paste. */
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

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof Exit) return error.code;
    process.stderr.write(`relay: ${(error as Error).message}\n`);
    return error instanceof ConfigError || error instanceof RelayCredentialsError ? EXIT.usage : EXIT.error;
  }
}
