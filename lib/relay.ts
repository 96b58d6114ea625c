import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import { DispatchQueue } from './dispatch-queue.ts';
import { DISPATCHER_TIMEOUT, Dispatcher } from './dispatcher.ts';
import { JobTable } from './job-table.ts';
import { Maintenance } from './maintenance.ts';
import { RelayAlarms } from './relay-alarms.ts';
import { RelayApi } from './relay-api.ts';
import { RelayDashboard } from './relay-dashboard.ts';
import { RelayFunction } from './relay-function.ts';
import { ShellRunner } from './shell-runner.ts';

export interface RelayProps {
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
  /** Receives of one dispatch hint before it moves to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** Memory of the API and maintenance functions, MiB. @default 512 */
  readonly memorySize?: number;
  /** Memory of the dispatcher, which runs short commands inline, MiB. @default 1024 */
  readonly dispatcherMemorySize?: number;
  /** Reserved concurrency of each API function and the dispatcher. @default no reservation */
  readonly reservedConcurrency?: number;
  /** Dispatcher instances running at once. @default 20 */
  readonly dispatcherMaxConcurrency?: number;
  /** @default 512 (0.5 vCPU) */
  readonly runnerCpu?: number;
  /** @default 1024 */
  readonly runnerMemoryLimitMiB?: number;
  /** @default built from functions/runner/Dockerfile */
  readonly runnerImage?: ContainerImage;
  /** @default a new VPC with public subnets and no NAT gateway */
  readonly vpc?: IVpc;
  /** @default private subnets with egress if the VPC has them, else public subnets */
  readonly runnerSubnets?: SubnetSelection;
  /** @default IAM (SigV4); pass an `HttpJwtAuthorizer` for JWTs */
  readonly authorizer?: IHttpRouteAuthorizer;
  /** @default a new encrypted SNS topic */
  readonly alarmTopic?: ITopic;
  /** Email address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
}

/**
 * All of Relay in one construct, to put in any stack: the jobs table, the dispatch queue and its
 * DLQ, the HTTP API, the dispatcher, the Fargate runner, the maintenance sweep, and the dashboard
 * and alarms over them.
 */
export class Relay extends Construct {
  readonly table: JobTable;
  readonly dispatchQueue: DispatchQueue;
  readonly api: RelayApi;
  readonly dispatcher: Dispatcher;
  readonly runner: ShellRunner;
  readonly maintenance: Maintenance;
  readonly dashboard: RelayDashboard;
  readonly alarms: RelayAlarms;
  /** Every Relay function, by role. */
  readonly functions: Readonly<Record<string, RelayFunction>>;

  constructor(scope: Construct, id: string, props: RelayProps = {}) {
    super(scope, id);
    const storeEnvironment = storeSettings(props);
    const destroyTable = props.tableRemovalPolicy === RemovalPolicy.DESTROY;

    this.table = new JobTable(this, 'Jobs', {
      removalPolicy: props.tableRemovalPolicy,
      deletionProtection: !destroyTable,
    });
    this.dispatchQueue = new DispatchQueue(this, 'Dispatch', {
      consumerTimeout: DISPATCHER_TIMEOUT,
      maxReceiveCount: props.maxReceiveCount,
    });
    this.runner = new ShellRunner(this, 'Runner', {
      table: this.table,
      dispatchQueue: this.dispatchQueue,
      storeEnvironment,
      vpc: props.vpc,
      vpcSubnets: props.runnerSubnets,
      cpu: props.runnerCpu,
      memoryLimitMiB: props.runnerMemoryLimitMiB,
      image: props.runnerImage,
    });

    const apiFunction = (name: string, entry: string, description: string, environment = {}) =>
      new RelayFunction(this, name, {
        entry,
        description,
        timeout: Duration.seconds(29), // API Gateway's integration timeout is 30 s
        memorySize: props.memorySize,
        reservedConcurrentExecutions: props.reservedConcurrency,
        environment: { ...storeEnvironment, ...this.table.environment(), ...environment },
      });
    const relayRoutes = apiFunction('RelayRoutes', 'relay.ts', 'Relay API: relay-rs routes (v1, seed, v2)');
    // The native routes enqueue, retry and requeue managed jobs (a hint each) and stop the task of
    // a cancelled run.
    const jobRoutes = apiFunction('JobRoutes', 'jobs.ts', 'Relay API: native job routes', {
      ...this.dispatchQueue.environment(),
      ...this.runner.stopEnvironment(),
    });
    const fallback = apiFunction('Fallback', 'fallback.ts', 'Relay API: 404 and 405 for unknown routes');
    for (const fn of [relayRoutes, jobRoutes, fallback]) this.table.grantReadWriteJobs(fn);
    this.dispatchQueue.grantSendHints(jobRoutes);
    this.runner.grantStopTasks(jobRoutes);

    this.api = new RelayApi(this, 'Api', {
      handlers: { relay: relayRoutes, jobs: jobRoutes, fallback },
      authorizer: props.authorizer,
    });
    this.dispatcher = new Dispatcher(this, 'Dispatcher', {
      table: this.table,
      dispatchQueue: this.dispatchQueue,
      runner: this.runner,
      storeEnvironment,
      memorySize: props.dispatcherMemorySize,
      reservedConcurrentExecutions: props.reservedConcurrency,
      maxConcurrency: props.dispatcherMaxConcurrency,
    });
    this.maintenance = new Maintenance(this, 'Maintenance', {
      table: this.table,
      dispatchQueue: this.dispatchQueue,
      runner: this.runner,
      storeEnvironment,
      memorySize: props.memorySize,
    });

    const taskEvents = new RelayFunction(this, 'TaskEvents', {
      entry: 'task-events.ts',
      description: 'Relay: fails the run of a Fargate task that stopped without ending it',
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      environment: { ...storeEnvironment, ...this.table.environment(), ...this.dispatchQueue.environment() },
    });
    this.table.grantReadWriteJobs(taskEvents);
    this.dispatchQueue.grantSendHints(taskEvents);
    this.dispatchQueue.grantRecordDead(taskEvents);
    this.runner.onTaskStopped('TaskStopped', taskEvents);

    this.functions = {
      relayRoutes,
      jobRoutes,
      fallback,
      dispatcher: this.dispatcher.function,
      maintenance: this.maintenance.function,
      taskEvents,
    };
    this.alarms = new RelayAlarms(this, 'Alarms', {
      dispatchQueue: this.dispatchQueue,
      functions: this.functions,
      api: this.api.api,
      topic: props.alarmTopic,
      email: props.alarmEmail,
    });
    this.dashboard = new RelayDashboard(this, 'Dashboard', {
      dispatchQueue: this.dispatchQueue,
      functions: this.functions,
      api: this.api.api,
      cluster: this.runner.cluster,
      logGroups: [...Object.values(this.functions).map((fn) => fn.logGroup), this.runner.logGroup],
      alarms: this.alarms.alarms,
    });
  }
}

/** The store settings every function and the runner share. */
function storeSettings(props: RelayProps): Record<string, string> {
  const retention = props.retention ?? Duration.days(7);
  const days = retention.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `Relay retention is ${retention.toHumanString()}, but jobs are kept for whole days: pass ` +
        'Duration.days(n) with n ≥ 1, or omit retention for 7 days.',
    );
  }
  const invalid = (props.strictQueues ?? []).filter((q) => !q || q.includes(','));
  if (invalid.length) {
    throw new Error(
      `Relay strictQueues has ${JSON.stringify(invalid)}, but queue names must be non-empty and ` +
        'contain no comma: fix or remove them.',
    );
  }
  return {
    [Env.RETENTION_DAYS]: String(days),
    ...(props.strictQueues?.length ? { [Env.STRICT_QUEUES]: props.strictQueues.join(',') } : {}),
  };
}
