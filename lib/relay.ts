import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GROUPS } from '../functions/api/routes.ts';
import { Env } from '../functions/core/env.ts';
import { ApiFunctions } from './api-functions.ts';
import { CommandExecutor } from './command-executor.ts';
import { DispatchQueue } from './dispatch-queue.ts';
import { DISPATCHER_TIMEOUT, Dispatcher } from './dispatcher.ts';
import { JobTable } from './job-table.ts';
import { Maintenance } from './maintenance.ts';
import { RelayAlarms } from './relay-alarms.ts';
import { RelayApi } from './relay-api.ts';
import { RelayDashboard } from './relay-dashboard.ts';
import type { RelayFunction } from './relay-function.ts';
import type { RelayProps } from './relay-props.ts';
import { validateCommandSettings, validateMetricQueues } from './relay-settings.ts';
import { ShellRunner } from './shell-runner.ts';
import { TaskEvents } from './task-events.ts';
import type { IWorkload } from './workload.ts';

export type { RelayProps } from './relay-props.ts';

/**
 * All of Relay in one construct, to put in any stack: the jobs table, the HTTP API, the maintenance
 * sweep, and the dashboard and alarms over them. With `managedJobs`, also the dispatch queue and its
 * DLQ, the dispatcher, the executor, the Fargate runner and the routes that start commands.
 *
 * Hand out access with intent: `grantSubmitJobs` for producers, workers and operators,
 * `grantRunCommands` for whoever may start commands.
 */
export class Relay extends Construct {
  /** Whether this Relay runs managed shell jobs. */
  readonly managedJobs: boolean;
  readonly table: JobTable;
  readonly api: RelayApi;
  readonly maintenance: Maintenance;
  readonly dashboard: RelayDashboard;
  readonly alarms: RelayAlarms;
  /** With managed jobs only. */
  readonly dispatchQueue?: DispatchQueue;
  /** With managed jobs only. */
  readonly dispatcher?: Dispatcher;
  /** With managed jobs only. */
  readonly executor?: CommandExecutor;
  /** With managed jobs only. */
  readonly runner?: ShellRunner;
  /** With managed jobs only. */
  readonly taskEvents?: TaskEvents;
  /** The functions behind the API's routes. */
  readonly apiFunctions: ApiFunctions;
  /** Every Relay function, by role. */
  readonly functions: Readonly<Record<string, RelayFunction>>;
  /**
   * This Relay's name in its metrics, the `relay` dimension of each: `<stack name>/<construct path
   * below the stack>` (`RelayStack/Relay`), unique in an account and region.
   */
  readonly metricsName: string;

  constructor(scope: Construct, id: string, props: RelayProps = {}) {
    super(scope, id);
    this.managedJobs = props.managedJobs ?? false;
    validateCommandSettings(props);
    validateMetricQueues(props.metricQueues);
    const stack = Stack.of(this);
    this.metricsName = `${stack.stackName}/${this.node.path.slice(stack.node.path.length + 1)}`;
    const destroyTable = props.tableRemovalPolicy === RemovalPolicy.DESTROY;

    this.table = new JobTable(this, 'Jobs', {
      removalPolicy: props.tableRemovalPolicy,
      deletionProtection: !destroyTable,
      retention: props.retention,
      strictQueues: props.strictQueues,
    });
    if (this.managedJobs) {
      this.dispatchQueue = new DispatchQueue(this, 'Dispatch', {
        consumerTimeout: DISPATCHER_TIMEOUT,
        maxReceiveCount: props.maxReceiveCount,
      });
      this.executor = new CommandExecutor(this, 'Executor', { memorySize: props.executorMemorySize });
      this.runner = new ShellRunner(this, 'Runner', {
        table: this.table,
        dispatchQueue: this.dispatchQueue,
        allowedCommands: props.allowedCommands,
        vpc: props.vpc,
        vpcSubnets: props.runnerSubnets,
        cpu: props.runnerCpu,
        memoryLimitMiB: props.runnerMemoryLimitMiB,
        image: props.runnerImage,
      });
    }
    const { dispatchQueue, runner, executor } = this;

    // `Default`: CDK leaves this id out of logical IDs, so the API functions keep those they had
    // when they were Relay's own children.
    this.apiFunctions = new ApiFunctions(this, 'Default', {
      table: this.table,
      runner,
      dispatchQueue,
      allowedCommands: props.allowedCommands,
      defaultCommandTimeout: props.defaultCommandTimeout,
      memorySize: props.memorySize,
      reservedConcurrentExecutions: props.reservedConcurrency,
      platformLogs: props.platformLogs,
    });
    this.api = new RelayApi(this, 'Api', {
      handlers: this.apiFunctions.handlers,
      authorizer: props.authorizer,
    });
    if (dispatchQueue && runner && executor) {
      this.dispatcher = new Dispatcher(this, 'Dispatcher', {
        table: this.table,
        dispatchQueue,
        runner,
        executor,
        allowedCommands: props.allowedCommands,
        memorySize: props.dispatcherMemorySize,
        reservedConcurrentExecutions: props.reservedConcurrency,
        maxConcurrency: props.dispatcherMaxConcurrency,
        platformLogs: props.platformLogs,
      });
    }
    this.maintenance = new Maintenance(this, 'Maintenance', {
      table: this.table,
      dispatchQueue,
      runner,
      memorySize: props.memorySize,
      platformLogs: props.platformLogs,
    });

    if (dispatchQueue && runner) {
      this.taskEvents = new TaskEvents(this, 'TaskEvents', {
        table: this.table,
        dispatchQueue,
        runner,
        memorySize: props.memorySize,
        platformLogs: props.platformLogs,
      });
    }

    const { relayRoutes, jobRoutes, managedRoutes, fallback } = this.apiFunctions;
    this.functions = {
      relayRoutes,
      jobRoutes,
      ...(managedRoutes && { managedRoutes }),
      fallback,
      ...(this.dispatcher && { dispatcher: this.dispatcher.function }),
      ...(executor && { executor: executor.function }),
      maintenance: this.maintenance.function,
      ...(this.taskEvents && { taskEvents: this.taskEvents.function }),
    };
    // Every workload that records metrics learns whose they are; the executor records none.
    const recorders: IWorkload[] = Object.values(this.functions).filter((fn) => fn !== executor?.function);
    for (const workload of runner ? [...recorders, runner.task] : recorders) {
      workload.addEnvironment(Env.NAME, this.metricsName);
      if (props.metricQueues) workload.addEnvironment(Env.METRIC_QUEUES, props.metricQueues.join(','));
    }
    const lambdas = Object.fromEntries(
      Object.entries(this.functions).map(([name, fn]) => [name, fn.function]),
    );
    this.alarms = new RelayAlarms(this, 'Alarms', {
      relayName: this.metricsName,
      table: this.table,
      dispatchQueue,
      functions: lambdas,
      functionTimeouts: Object.fromEntries(
        Object.entries(this.functions).map(([name, fn]) => [name, fn.timeout]),
      ),
      maintenance: this.maintenance.function.function,
      api: this.api.api,
      topic: props.alarmTopic,
      email: props.alarmEmail,
      maxPendingAge: props.maxPendingAge,
    });
    this.dashboard = new RelayDashboard(this, 'Dashboard', {
      relayName: this.metricsName,
      table: this.table,
      dispatchQueue,
      functions: lambdas,
      api: this.api.api,
      cluster: runner?.cluster,
      logGroups: [
        ...Object.values(this.functions).flatMap((fn) => (fn.logGroup ? [fn.logGroup] : [])),
        ...(runner ? [runner.logGroup] : []),
      ],
      alarms: this.alarms.alarms,
    });
  }

  /**
   * Let producers, workers and operators use Relay: `execute-api:Invoke` on every route of the API
   * except those that start commands (`/v1/managed/…`). They can enqueue, claim and complete pull
   * jobs, and read, cancel and requeue any job, but never start a command.
   */
  grantSubmitJobs(grantee: IGrantable): Grant {
    return this.api.grantInvokeRoutes(
      grantee,
      GROUPS.filter((group) => group !== 'managed'),
    );
  }

  /**
   * Let a caller start commands: `execute-api:Invoke` on the routes that submit, retry and requeue
   * managed shell jobs (`/v1/managed/…`), and nothing else. Pair it with `grantSubmitJobs` for a
   * caller that also follows its jobs.
   */
  grantRunCommands(grantee: IGrantable): Grant {
    if (!this.managedJobs) {
      throw new Error(
        `${this.node.path}: grantRunCommands needs managed jobs, but managedJobs is off, so no route ` +
          'starts commands: pass managedJobs: true (for RelayStack: cdk deploy -c managedJobs=true), or ' +
          'use grantSubmitJobs.',
      );
    }
    return this.api.grantInvokeRoutes(grantee, ['managed']);
  }
}
