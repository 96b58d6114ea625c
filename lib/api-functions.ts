import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import { type AllowedCommands, addAllowedCommands } from './allowed-commands.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import type { PlatformLogs } from './function-logging.ts';
import type { IJobTable } from './job-table.ts';
import type { RelayApiHandlers } from './relay-api.ts';
import { RelayFunction } from './relay-function.ts';
import type { IShellRunner } from './shell-runner.ts';

export interface ApiFunctionsProps {
  readonly table: IJobTable;
  /**
   * The runner: the native routes stop the Fargate task of a cancelled run.
   *
   * @default none: there is no task to stop
   */
  readonly runner?: IShellRunner;
  /**
   * The dispatch queue, to which the routes that start commands send each job's hint. With it,
   * those routes get a function of their own, `ManagedRoutes`.
   *
   * @default none: managed jobs are off, and there is no `ManagedRoutes`
   */
  readonly dispatchQueue?: IDispatchQueue;
  /**
   * The commands each queue may run, checked by `ManagedRoutes` when a job is submitted.
   *
   * @default any command
   */
  readonly allowedCommands?: AllowedCommands;
  /**
   * How long a managed job's command may run when its payload gives no `timeout`.
   *
   * @default Duration.minutes(5)
   */
  readonly defaultCommandTimeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** Which of Lambda's system logs the function keeps. @default 'warn' (lib/function-logging.ts) */
  readonly platformLogs?: PlatformLogs;
  /** Of each function. @default no reservation */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The functions behind Relay's HTTP API: one per route group of `functions/api/routes.ts`, and the
 * fallback for everything else. Each reads and writes jobs; only `JobRoutes` may stop runner tasks,
 * and only `ManagedRoutes` sends dispatch hints, so only it can start a command.
 */
export class ApiFunctions extends Construct {
  /** The relay-rs routes (v1, seed, v2). */
  readonly relayRoutes: RelayFunction;
  /** The native job routes. */
  readonly jobRoutes: RelayFunction;
  /** 404 and 405 for what the route table does not list. */
  readonly fallback: RelayFunction;
  /** The routes that submit, retry and requeue managed jobs; with a dispatch queue only. */
  readonly managedRoutes?: RelayFunction;
  /** The function of each route group, as `RelayApi` takes them. */
  readonly handlers: RelayApiHandlers;

  constructor(scope: Construct, id: string, props: ApiFunctionsProps) {
    super(scope, id);
    const apiFunction = (name: string, entry: string, description: string, openApiDocument = false) => {
      const fn = new RelayFunction(this, name, {
        entry,
        description,
        openApiDocument,
        timeout: Duration.seconds(29), // API Gateway's integration timeout is 30 s
        memorySize: props.memorySize,
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
        platformLogs: props.platformLogs,
      });
      props.table.grantReadWriteJobs(fn);
      return fn;
    };
    this.relayRoutes = apiFunction('RelayRoutes', 'relay.ts', 'Relay API: relay-rs routes (v1, seed, v2)');
    // The native routes stop the Fargate task of a cancelled run; they start no command.
    // It serves GET /openapi.json too, from the document its bundle carries.
    this.jobRoutes = apiFunction('JobRoutes', 'jobs.ts', 'Relay API: native job routes', true);
    props.runner?.grantStopTasks(this.jobRoutes);
    this.fallback = apiFunction('Fallback', 'fallback.ts', 'Relay API: 404 and 405 for unknown routes');
    if (props.dispatchQueue) {
      // The routes that start commands: they check the allow-list and send each job's hint.
      const managedRoutes = apiFunction(
        'ManagedRoutes',
        'managed.ts',
        'Relay API: routes that start commands (managed jobs)',
      );
      props.dispatchQueue.grantSendHints(managedRoutes);
      addAllowedCommands(managedRoutes, props.allowedCommands);
      const timeout = props.defaultCommandTimeout ?? Duration.minutes(5);
      managedRoutes.addEnvironment(Env.COMMAND_TIMEOUT, String(timeout.toSeconds()));
      this.managedRoutes = managedRoutes;
    }
    this.handlers = {
      relay: this.relayRoutes.function,
      jobs: this.jobRoutes.function,
      managed: this.managedRoutes?.function,
      fallback: this.fallback.function,
    };
  }
}
