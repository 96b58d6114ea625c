import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { IDispatchQueue } from './dispatch-queue.ts';
import type { PlatformLogs } from './function-logging.ts';
import type { IJobTable } from './job-table.ts';
import { RelayFunction } from './relay-function.ts';
import type { IShellRunner } from './shell-runner.ts';

export interface MaintenanceProps {
  readonly table: IJobTable;
  /**
   * The dispatch queue: the sweep re-sends lost hints and keeps the DLQ in step with dead jobs.
   *
   * @default none: managed jobs are off, the sweep touches the table only
   */
  readonly dispatchQueue?: IDispatchQueue;
  /**
   * The runner: the sweep stops the Fargate task of every run whose lease it expires.
   *
   * @default none: no task to stop
   */
  readonly runner?: IShellRunner;
  /** @default 512 */
  readonly memorySize?: number;
  /** Which of Lambda's system logs the function keeps. @default 'warn' (lib/function-logging.ts) */
  readonly platformLogs?: PlatformLogs;
}

/**
 * The sweep `relay dev` runs every second, here every minute: ends runs whose lease expired
 * (stopping their Fargate task), counts the dead jobs (the `DeadJobs` gauge), and with managed jobs
 * re-sends lost dispatch hints from DynamoDB and keeps the DLQ a mirror of the dead jobs. Sweeps
 * that overlap are harmless: every change is a conditional write.
 */
export class Maintenance extends Construct {
  readonly function: RelayFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: MaintenanceProps) {
    super(scope, id);
    const { table, dispatchQueue, runner } = props;
    this.function = new RelayFunction(this, 'Function', {
      entry: 'maintenance.ts',
      description: 'Relay maintenance: expired leases, dead jobs, lost dispatch hints, dead letters',
      timeout: Duration.minutes(2),
      memorySize: props.memorySize,
      platformLogs: props.platformLogs,
    });
    table.grantReadWriteJobs(this.function);
    if (dispatchQueue) {
      dispatchQueue.grantSendHints(this.function);
      dispatchQueue.grantReconcileDeadLetters(this.function);
    }
    runner?.grantStopTasks(this.function);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the Relay maintenance sweep every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function.function, { retryAttempts: 0 })],
    });
  }
}
