/**
 * What every command shares: its global options, the Relay it talks to, and how it prints.
 *
 * Commands talk to `--endpoint`, else `RELAY_URL`, else the Relay `relay config --from-stack` saved,
 * else the local default; the SDK signs requests with SigV4 when that is a deployed Relay.
 */
import { createInterface } from 'node:readline/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ENDPOINT, JOB_STATUSES, type JobFilter, RelayClient } from '../sdk/client.ts';
import { configPath, readConfig } from './config.ts';
import { EXIT, Exit, UsageError } from './exit.ts';

/** Options every command accepts, before or after its name. */
export interface Globals {
  /** Unset unless given as `--endpoint` or `RELAY_URL`: see `target`. */
  readonly endpoint?: string;
  readonly token?: string;
  readonly json?: boolean;
}

export interface PageOptions {
  readonly limit?: number;
  readonly cursor?: string;
}

/** Stops with a usage error (exit 2). */
export const usage = (message: string): never => {
  throw new UsageError(message);
};

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

export function positiveSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
    throw new InvalidArgumentError('must be a positive number of seconds');
  }
  return Number(value);
}

export const limitOption = (description = 'at most this many jobs') =>
  new Option('--limit <n>', description).argParser(positiveInt);

/** Adds the options that select jobs (`GET /v1/jobs`'s filters); the API checks their values. */
export const filterOptions = (command: Command, statuses: readonly string[] = JOB_STATUSES): Command =>
  command
    .addOption(new Option('--status <status>', 'only jobs with this status').choices(statuses))
    .option('--error-contains <text>', 'only jobs whose last error contains this text')
    .option('--created-before <iso>', 'only jobs created before this instant (ISO 8601, with offset)')
    .option('--created-after <iso>', 'only jobs created at or after this instant (ISO 8601, with offset)');

/** The filter `filterOptions` read. */
export const filterOf = (opts: JobFilter): JobFilter => ({
  status: opts.status,
  errorContains: opts.errorContains,
  createdBefore: opts.createdBefore,
  createdAfter: opts.createdAfter,
});

/**
 * Asks `question` on the terminal and stops (exit 1, `refused` on stderr) unless the answer is
 * yes. Without a terminal there is no one to ask: a usage error naming `--yes`.
 */
export async function confirm(question: string, refused: string, command: string): Promise<void> {
  if (!process.stdin.isTTY) usage(`${command} asks first and there is no terminal to ask on: pass --yes`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write(`${refused}\n`);
      throw new Exit(EXIT.error);
    }
  } finally {
    prompt.close();
  }
}

/** Adds usage examples to a command's help. */
export const examples = (command: Command, ...lines: string[]): Command =>
  command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);

/** The Relay commands talk to, and where that choice came from. */
export interface Target {
  readonly endpoint: string;
  readonly source: string;
  /** The region a saved deployed Relay is signed for. */
  readonly region?: string;
}

/** `--endpoint`, else `RELAY_URL`, else the saved config, else the local default. */
export async function target(command: Command): Promise<Target> {
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
export const clientFor = ({ endpoint, region }: Target, token?: string) =>
  new RelayClient({ endpoint, token, sigv4: region ? { region } : undefined });

/** The command's global options and a client for its target. */
export async function context(command: Command) {
  const globals = command.optsWithGlobals<Globals>();
  return { globals, client: clientFor(await target(command), globals.token) };
}

/** Prints `value` as JSON with `--json` (nothing for an answer without a body), else `human`. */
export function print(globals: Globals, value: unknown, human: string): void {
  if (globals.json) {
    if (value !== undefined) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  } else process.stdout.write(`${human}\n`);
}
