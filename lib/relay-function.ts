import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The repository root: entries, the lockfile and the runner's Docker context are relative to it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Lambda's limits on a function's timeout and memory. */
const MAX_TIMEOUT_SECONDS = 900;
const MEMORY_MIB = { min: 128, max: 10_240 };

export interface RelayFunctionProps {
  /** The handler module, relative to `functions/handlers/` (`'jobs.ts'`); it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** Always explicit: a function's timeout is part of its contract (the dispatch queue derives its visibility from it). */
  readonly timeout: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default no reservation: the account's unreserved pool */
  readonly reservedConcurrentExecutions?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Whether the function logs to CloudWatch. `false` creates no log group and leaves the role with
   * no permission at all, not even to write logs: only for a function whose caller keeps its output.
   *
   * @default true: its own log group, which its role may write to and nothing else
   */
  readonly logs?: boolean;
  /** Pair each variable with the grant it implies (see `functions/core/env.ts`). */
  readonly environment?: Record<string, string>;
}

/**
 * A Relay Lambda function with the house defaults.
 *
 * Node.js 24 on ARM64 (cheaper per GB-second than x86), one ESM bundle with source maps built by
 * the esbuild in `node_modules` (never Docker at synth), the AWS SDK taken from the runtime, an
 * explicit log group with retention, and an explicit timeout.
 */
export class RelayFunction extends NodejsFunction {
  /** Whether the function writes its own log group (`logGroup`); see `RelayFunctionProps.logs`. */
  readonly writesLogs: boolean;

  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    validate(id, props);
    const writesLogs = props.logs ?? true;
    const logGroup = writesLogs
      ? new LogGroup(scope, `${id}Logs`, {
          retention: props.logRetention ?? RetentionDays.ONE_MONTH,
          // Logs are diagnostics, not data: they go with the stack.
          removalPolicy: RemovalPolicy.DESTROY,
        })
      : undefined;
    // Our own role instead of AWSLambdaBasicExecutionRole: it may write to this log group only.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Relay function ${id}`,
    });
    logGroup?.grantWrite(role);
    super(scope, id, {
      role,
      entry: path.join(PROJECT_ROOT, 'functions', 'handlers', props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 512,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      logGroup,
      environment: {
        ...props.environment,
        // Stack traces point at the TypeScript sources.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // ESM has no `require`; bundled CommonJS dependencies still call it for Node built-ins.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        mainFields: ['module', 'main'],
        forceDockerBundling: false,
        metafile: true,
      },
    });
    this.writesLogs = writesLogs;
  }
}

function validate(id: string, props: RelayFunctionProps): void {
  const seconds = props.timeout.toSeconds();
  if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new Error(
      `${id}: timeout is ${props.timeout.toHumanString()}, but Lambda runs a function for 1 second to ` +
        '15 minutes: pass a Duration in that range.',
    );
  }
  const memory = props.memorySize ?? 512;
  if (!Number.isInteger(memory) || memory < MEMORY_MIB.min || memory > MEMORY_MIB.max) {
    throw new Error(
      `${id}: memorySize is ${memory} MiB, but Lambda accepts a whole number from ${MEMORY_MIB.min} ` +
        `to ${MEMORY_MIB.max}: pass one in that range, or omit it for 512.`,
    );
  }
  if (props.logs === false && props.logRetention !== undefined) {
    throw new Error(
      `${id}: logRetention is ${props.logRetention} days, but logs is false, so there is no log group: ` +
        'remove logRetention, or turn logs on.',
    );
  }
}
