/**
 * Where the CLI finds a deployed Relay: a small JSON file that `relay config --from-stack` writes
 * from the stack's `ApiUrl` output, read by every command that is not given `--endpoint` or
 * `RELAY_URL`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';

/** The stack output holding the API's URL, as the Relay stack names it. */
export const API_URL_OUTPUT = 'ApiUrl';

/** A deployed Relay: its API and the region to sign requests for. */
export interface SavedConfig {
  readonly endpoint: string;
  readonly region: string;
}

/** The CLI's configuration is missing, unreadable or cannot be made: a setup problem (exit 2). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The config file: `RELAY_CONFIG`, else `relay/config.json` in the XDG config directory.
 * https://specifications.freedesktop.org/basedir-spec/latest/
 */
export function configPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.RELAY_CONFIG) return env.RELAY_CONFIG;
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'relay', 'config.json');
}

/** The saved config; undefined when the file does not exist. */
export async function readConfig(file: string): Promise<SavedConfig | undefined> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let config: Partial<Record<keyof SavedConfig, unknown>>;
  try {
    config = JSON.parse(content) as typeof config;
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof config?.endpoint !== 'string' || typeof config.region !== 'string') {
    throw new ConfigError(
      `${file} needs string fields endpoint and region; run relay config --from-stack <name> to rewrite it`,
    );
  }
  return { endpoint: config.endpoint, region: config.region };
}

export async function writeConfig(file: string, config: SavedConfig): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * The endpoint and region of the Relay deployed as `stackName`, from its `ApiUrl` output. Missing
 * credentials, region, stack or output become a `ConfigError` saying what to fix.
 */
export async function stackConfig(
  cloudformation: CloudFormationClient,
  stackName: string,
): Promise<SavedConfig> {
  const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  let region: string;
  try {
    region = await cloudformation.config.region();
  } catch (error) {
    throw new ConfigError('no AWS region: pass --region or set AWS_REGION', { cause: error });
  }
  let stack: Stack | undefined;
  try {
    const answer = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    stack = answer.Stacks?.[0];
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'CredentialsProviderError') {
      throw new ConfigError(
        `no AWS credentials found (${message}); set AWS_PROFILE, or run aws configure or aws sso login`,
        { cause: error },
      );
    }
    // CloudFormation answers a missing stack with a ValidationError, not a not-found code.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    if (name === 'ValidationError' && /does not exist/.test(message)) {
      throw new ConfigError(`stack ${stackName} not found in ${region}`, { cause: error });
    }
    throw error;
  }
  if (!stack) throw new ConfigError(`stack ${stackName} not found in ${region}`);
  const url = stack.Outputs?.find((output) => output.OutputKey === API_URL_OUTPUT)?.OutputValue;
  if (!url) {
    throw new ConfigError(
      `stack ${stackName} (${stack.StackStatus}) in ${region} has no ${API_URL_OUTPUT} output: is it a Relay stack?`,
    );
  }
  return { endpoint: url.replace(/\/+$/, ''), region };
}
