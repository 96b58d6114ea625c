/**
 * The `Relay` construct's props, in a module of their own: the construct (`relay.ts`) and the
 * validation of its settings (`relay-settings.ts`) both read them without importing each other.
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { AllowedCommands } from './allowed-commands.ts';
import type { PlatformLogs } from './function-logging.ts';

/** What a `Relay` can be given. */
export interface RelayProps {
  /**
   * Whether Relay runs commands for you (managed shell jobs): the dispatch queue and its DLQ, the
   * dispatcher, the executor, the Fargate runner and the routes under `/v1/managed/`. Off, Relay is
   * a pull-job system only, and none of those exist.
   *
   * @default false
   */
  readonly managedJobs?: boolean;
  /**
   * The commands each queue may run: queue name (or `*`, for every queue without its own entry) →
   * commands, each exactly as jobs give it (`/opt/jobs/report.sh`) or a prefix ending in `*`
   * (`/opt/jobs/*`). A queue without an entry and no `*` entry may run none. Checked when a job is
   * submitted and again before each run. Managed jobs only.
   *
   * @default any command on any queue
   */
  readonly allowedCommands?: AllowedCommands;
  /**
   * How long a managed job's command may run when its payload gives no `timeout`. Whole seconds,
   * from 1 second to 12 hours. Managed jobs only.
   *
   * @default Duration.minutes(5)
   */
  readonly defaultCommandTimeout?: Duration;
  /**
   * How long a finished job (completed, dead or cancelled) stays readable before DynamoDB's TTL
   * removes it. Whole days.
   *
   * @default Duration.days(7)
   */
  readonly retention?: Duration;
  /** @default [] — every queue is sharded (priority order, ~2,000 jobs/s) */
  readonly strictQueues?: readonly string[];
  /**
   * What happens to the jobs table when it leaves the stack. `DESTROY` also turns off deletion
   * protection.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /** Receives of one dispatch hint before it moves to the DLQ. Managed jobs only. @default 5 */
  readonly maxReceiveCount?: number;
  /** Memory of the API and maintenance functions, MiB. @default 512 */
  readonly memorySize?: number;
  /** Memory of the dispatcher, MiB. Managed jobs only. @default 512 */
  readonly dispatcherMemorySize?: number;
  /**
   * Memory of the executor, MiB, from 128 to 10,240. Each inline command gets an invocation, and so
   * this budget, of its own. Managed jobs only.
   *
   * @default 1024
   */
  readonly executorMemorySize?: number;
  /**
   * Which of Lambda's system logs Relay's functions keep. `'warn'` writes only the platform's
   * warnings and errors; `'info'` adds each invocation's start, runtime-done and report events,
   * three more log events per invocation. The report is the one record, in the logs, of an
   * invocation's memory used, billed duration and init duration: raise this to `'info'` to read
   * them there, or turn on Lambda Insights to have them as metrics. Duration, errors and throttles
   * are Lambda metrics either way, and the alarms read those.
   *
   * @default 'warn'
   */
  readonly platformLogs?: PlatformLogs;
  /** Reserved concurrency of each API function and the dispatcher. @default no reservation */
  readonly reservedConcurrency?: number;
  /** Dispatcher instances running at once. Managed jobs only. @default 20 */
  readonly dispatcherMaxConcurrency?: number;
  /** Managed jobs only. @default 512 (0.5 vCPU) */
  readonly runnerCpu?: number;
  /** Managed jobs only. @default 1024 */
  readonly runnerMemoryLimitMiB?: number;
  /** Managed jobs only. @default built from functions/runner/Dockerfile */
  readonly runnerImage?: ContainerImage;
  /** Where runner tasks run. Managed jobs only. @default a new VPC with public subnets and no NAT gateway */
  readonly vpc?: IVpc;
  /** Managed jobs only. @default private subnets with egress if the VPC has them, else public subnets */
  readonly runnerSubnets?: SubnetSelection;
  /** @default IAM (SigV4); pass an `HttpJwtAuthorizer` for JWTs */
  readonly authorizer?: IHttpRouteAuthorizer;
  /** @default a new encrypted SNS topic */
  readonly alarmTopic?: ITopic;
  /** Email address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
  /**
   * How long a queue's oldest due job may wait for a claim before the `PendingAge` alarm fires
   * (paused queues excepted). At least 2 minutes.
   *
   * @default Duration.minutes(15)
   */
  readonly maxPendingAge?: Duration;
  /**
   * The queues whose metrics get series of their own (a `queue` dimension): each such queue costs
   * ~14 custom CloudWatch metrics. Every other queue counts only in the series over all queues, which
   * the alarms read. `['*']` is every queue; `[]` none. At most 100 names, without commas.
   *
   * @default ['*'] — every queue; list them when queue names are many or made at run time
   */
  readonly metricQueues?: readonly string[];
}
