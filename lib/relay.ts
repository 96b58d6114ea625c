import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GROUPS } from '../functions/api/routes.ts';
import { Env } from '../functions/core/env.ts';
import { addAllowedCommands } from './allowed-commands.ts';
import { CommandExecutor } from './command-executor.ts';
import { DispatchQueue } from './dispatch-queue.ts';
import { DISPATCHER_TIMEOUT, Dispatcher } from './dispatcher.ts';
import { JobTable } from './job-table.ts';
import { Maintenance } from './maintenance.ts';
import { RelayAlarms } from './relay-alarms.ts';
import { RelayApi } from './relay-api.ts';
import { RelayDashboard } from './relay-dashboard.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayProps } from './relay-props.ts';
import { validateCommandSettings } from './relay-settings.ts';
import { ShellRunner } from './shell-runner.ts';

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
  /** Every Relay function, by role. */
  readonly functions: Readonly<Record<string, RelayFunction>>;

  constructor(scope: Construct, id: string, props: RelayProps = {}) {
    super(scope, id);
    this.managedJobs = props.managedJobs ?? false;
    validateCommandSettings(props);
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

    const apiFunction = (name: string, entry: string, description: string) => {
      const fn = new RelayFunction(this, name, {
        entry,
        description,
        timeout: Duration.seconds(29), // API Gateway's integration timeout is 30 s
        memorySize: props.memorySize,
        reservedConcurrentExecutions: props.reservedConcurrency,
      });
      this.table.grantReadWriteJobs(fn);
      return fn;
    };
    const relayRoutes = apiFunction('RelayRoutes', 'relay.ts', 'Relay API: relay-rs routes (v1, seed, v2)');
    // The native routes stop the Fargate task of a cancelled run; they start no command.
    const jobRoutes = apiFunction('JobRoutes', 'jobs.ts', 'Relay API: native job routes');
    runner?.grantStopTasks(jobRoutes);
    const fallback = apiFunction('Fallback', 'fallback.ts', 'Relay API: 404 and 405 for unknown routes');
    // The routes that start commands: they check the allow-list and send each job's hint.
    let managedRoutes: RelayFunction | undefined;
    if (dispatchQueue) {
      managedRoutes = apiFunction(
        'ManagedRoutes',
        'managed.ts',
        'Relay API: routes that start commands (managed jobs)',
      );
      dispatchQueue.grantSendHints(managedRoutes);
      addAllowedCommands(managedRoutes, props.allowedCommands);
      const timeout = props.defaultCommandTimeout ?? Duration.minutes(5);
      managedRoutes.addEnvironment(Env.COMMAND_TIMEOUT, String(timeout.toSeconds()));
    }

    this.api = new RelayApi(this, 'Api', {
      handlers: {
        relay: relayRoutes.function,
        jobs: jobRoutes.function,
        managed: managedRoutes?.function,
        fallback: fallback.function,
      },
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
      });
    }
    this.maintenance = new Maintenance(this, 'Maintenance', {
      table: this.table,
      dispatchQueue,
      runner,
      memorySize: props.memorySize,
    });

    let taskEvents: RelayFunction | undefined;
    if (dispatchQueue && runner) {
      taskEvents = new RelayFunction(this, 'TaskEvents', {
        entry: 'task-events.ts',
        description: 'Relay: fails the run of a Fargate task that stopped without ending it',
        timeout: Duration.seconds(30),
        memorySize: props.memorySize,
      });
      this.table.grantReadWriteJobs(taskEvents);
      // A failed run is owed the hint of its retry.
      dispatchQueue.grantSendHints(taskEvents);
      runner.onTaskStopped('TaskStopped', taskEvents.function);
    }

    this.functions = {
      relayRoutes,
      jobRoutes,
      ...(managedRoutes && { managedRoutes }),
      fallback,
      ...(this.dispatcher && { dispatcher: this.dispatcher.function }),
      ...(executor && { executor: executor.function }),
      maintenance: this.maintenance.function,
      ...(taskEvents && { taskEvents }),
    };
    const lambdas = Object.fromEntries(
      Object.entries(this.functions).map(([name, fn]) => [name, fn.function]),
    );
    this.alarms = new RelayAlarms(this, 'Alarms', {
      dispatchQueue,
      functions: lambdas,
      api: this.api.api,
      topic: props.alarmTopic,
      email: props.alarmEmail,
    });
    this.dashboard = new RelayDashboard(this, 'Dashboard', {
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
