import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnElement, type Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type IPrincipal, type IRole, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  type FunctionProps,
  type IFunction,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
} from 'aws-cdk-lib/aws-lambda';
import {
  type ICommandHooks,
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { type ILogGroup, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct, RootConstruct } from 'constructs';
import type { EnvName } from '../functions/core/env.ts';
import { DEFAULT_PLATFORM_LOGS, type PlatformLogs } from './function-logging.ts';
import { lambdaAliasArgs } from './lambda-bundling.ts';
import { type IWorkload, WorkloadEnvironment } from './workload.ts';

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
  /**
   * Which of Lambda's system logs the function keeps (lib/function-logging.ts): `'info'` adds each
   * invocation's start, runtime-done and report events.
   *
   * @default 'warn': only the platform's warnings and errors
   */
  readonly platformLogs?: PlatformLogs;
  /**
   * Whether the bundle carries the API's OpenAPI document, `openapi.json` beside the handler
   * (written at bundling by scripts/openapi.mjs), for the function that serves `GET /openapi.json`.
   * The generator itself stays out of every bundle.
   *
   * @default false
   */
  readonly openApiDocument?: boolean;
}

/**
 * A Relay Lambda function with the house defaults, and the role and log group that are its alone.
 *
 * Node.js 24 on ARM64 (cheaper per GB-second than x86), one ESM bundle with source maps built by
 * the esbuild in `node_modules` (never Docker at synth), the AWS SDK bundled in it, an explicit
 * log group with retention, logs in Lambda's JSON format without the platform's per-invocation
 * lines (`platformLogs`), and an explicit timeout. Grants to it reach its role, and
 * those of Relay's constructs also name what they grant in its environment (`IWorkload`).
 */
export class RelayFunction extends Construct implements IWorkload {
  /** The Lambda function. */
  readonly function: IFunction;
  /** The role it runs as: without `logs`, it has no permission until something is granted. */
  readonly role: IRole;
  /** Its own log group, which only its role may write to; none with `logs: false`. */
  readonly logGroup?: ILogGroup;
  readonly grantPrincipal: IPrincipal;
  /** How long one invocation may run: the duration alarm fires well before it. */
  readonly timeout: Duration;
  private readonly environment: WorkloadEnvironment;

  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    super(scope, id);
    validate(this.node.path, props);
    this.timeout = props.timeout;
    const name = logicalPath(this).at(-1) ?? id;
    this.logGroup =
      (props.logs ?? true)
        ? new LogGroup(this, 'Logs', {
            retention: props.logRetention ?? RetentionDays.ONE_MONTH,
            // Logs are diagnostics, not data: they go with the stack.
            removalPolicy: RemovalPolicy.DESTROY,
          })
        : undefined;
    // Our own role instead of AWSLambdaBasicExecutionRole: it may write to this log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Relay function ${name}`,
    });
    this.grantPrincipal = this.role;
    this.logGroup?.grantWrite(this.role);
    // `Default` leaves this construct out of the function's logical ID: it stays the one it had
    // before the function had a construct of its own around it.
    const fn = new NodejsFunction(this, 'Default', {
      role: this.role,
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
      ...(this.logGroup && logging(this.logGroup, props.platformLogs ?? DEFAULT_PLATFORM_LOGS)),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        // The map ships beside the bundle, without the sources, and without `--enable-source-maps`:
        // Node.js would parse it at every cold start. Logged stacks are decoded with it only when
        // one is logged (functions/core/source-stack.ts).
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        // ESM has no `require`; bundled CommonJS dependencies still call it for Node built-ins.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        mainFields: ['module', 'main'],
        // One file loads faster than the runtime's SDK does, file by file from its node_modules:
        // import and first request take well under half the time (`npm run bench`, cold start
        // proxy). It also pins the SDK to the lockfile's version.
        bundleAwsSDK: true,
        // Credentials from the environment only, as Lambda provides them: a smaller, faster bundle.
        esbuildArgs: lambdaAliasArgs(),
        forceDockerBundling: false,
        metafile: true,
        commandHooks: props.openApiDocument ? OPENAPI_HOOKS : undefined,
      },
    });
    this.function = fn;
    // `relayFunction.node.defaultChild` is the CfnFunction, as for any L2 function.
    this.node.defaultChild = fn.node.defaultChild;
    this.environment = new WorkloadEnvironment(this, (variable, value) => fn.addEnvironment(variable, value));
    keepSiblingLogicalIds(this, this.role, 'Role');
    if (this.logGroup) keepSiblingLogicalIds(this, this.logGroup, 'Logs');
  }

  /** Sets one of Relay's environment variables; setting one again to another value fails synthesis. */
  addEnvironment(name: EnvName, value: string): void {
    this.environment.add(name, value);
  }
}

/**
 * Where and how a function with a log group logs. JSON, so Lambda filters by level: Relay writes
 * its log lines and EMF documents to stdout itself (functions/core/log.ts, metrics.ts), whole JSON
 * objects Lambda passes on as they are, while the runtime would wrap console output in
 * `{timestamp, level, requestId, message}`. Its own lines from INFO, not above: a line without a
 * `level`, as every EMF document is, counts as INFO, and a higher level would drop the metrics.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
 */
function logging(logGroup: ILogGroup, platformLogs: PlatformLogs): Partial<FunctionProps> {
  return {
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    applicationLogLevelV2: ApplicationLogLevel.INFO,
    systemLogLevelV2: platformLogs === 'info' ? SystemLogLevel.INFO : SystemLogLevel.WARN,
  };
}

/** Writes the OpenAPI document into the bundle's directory, after esbuild has written the bundle. */
const OPENAPI_HOOKS: ICommandHooks = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: (_inputDir, outputDir) => [
    `node "${path.join(PROJECT_ROOT, 'scripts', 'openapi.mjs')}" "${path.join(outputDir, 'openapi.json')}"`,
  ],
};

/** The construct IDs below its stack that name `construct` in logical IDs: CDK leaves out `Default`. */
function logicalPath(construct: IConstruct): string[] {
  const scopes = construct.node.scopes;
  return scopes
    .slice(scopes.indexOf(Stack.of(construct)) + 1)
    .map((scope) => scope.node.id)
    .filter((id) => id !== 'Default');
}

/**
 * Gives the CloudFormation elements of `child` (the role and its policy, or the log group) the
 * logical IDs they had as the function's siblings, named `<function><suffix>` (`TaskEventsRole`
 * beside `TaskEvents`).
 *
 * Construct IDs are API: a new logical ID replaces the resource, and replacing a log group deletes
 * the logs in it. Only the elements that exist when the function is built are kept: the policy of a
 * function without logs, created by a later grant, gets an ID of the new path (Relay has none).
 */
function keepSiblingLogicalIds(fn: RelayFunction, child: IConstruct, suffix: string): void {
  const siblingPath = logicalPath(fn);
  siblingPath.push(`${siblingPath.pop()}${suffix}`);
  const depth = logicalPath(child).length;
  for (const element of child.node.findAll().filter(CfnElement.isCfnElement)) {
    element.overrideLogicalId(logicalIdAt([...siblingPath, ...logicalPath(element).slice(depth)]));
  }
}

/** The logical ID a stack gives an element whose construct IDs below the stack are `ids`. */
function logicalIdAt(ids: readonly string[]): string {
  const leaf = ids.reduce<Construct>((scope, id) => new Construct(scope, id), new RootConstruct());
  return Names.nodeUniqueId(leaf.node);
}

function validate(where: string, props: RelayFunctionProps): void {
  const seconds = props.timeout.toSeconds();
  if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new Error(
      `${where}: timeout is ${props.timeout.toHumanString()}, but Lambda runs a function for 1 second to ` +
        '15 minutes: pass a Duration in that range.',
    );
  }
  const memory = props.memorySize ?? 512;
  if (!Number.isInteger(memory) || memory < MEMORY_MIB.min || memory > MEMORY_MIB.max) {
    throw new Error(
      `${where}: memorySize is ${memory} MiB, but Lambda accepts a whole number from ${MEMORY_MIB.min} ` +
        `to ${MEMORY_MIB.max}: pass one in that range, or omit it for 512.`,
    );
  }
  if (props.logs === false && props.platformLogs !== undefined) {
    throw new Error(
      `${where}: platformLogs is '${props.platformLogs}', but logs is false, so Lambda's logs of it go nowhere: ` +
        'remove platformLogs, or turn logs on.',
    );
  }
  if (props.logs === false && props.logRetention !== undefined) {
    throw new Error(
      `${where}: logRetention is ${props.logRetention} days, but logs is false, so there is no log group: ` +
        'remove logRetention, or turn logs on.',
    );
  }
}
