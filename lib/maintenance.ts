import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { DispatchQueue } from './dispatch-queue.ts';
import type { JobTable } from './job-table.ts';
import { RelayFunction } from './relay-function.ts';
import type { ShellRunner } from './shell-runner.ts';

export interface MaintenanceProps {
  readonly table: JobTable;
  readonly dispatchQueue: DispatchQueue;
  readonly runner: ShellRunner;
  /** Store settings shared by every function (retention, shards). */
  readonly storeEnvironment?: Record<string, string>;
  /** @default 512 */
  readonly memorySize?: number;
}

/**
 * The sweep `relay dev` runs every second, here every minute: ends runs whose lease expired
 * (stopping their Fargate task), re-sends lost dispatch hints from DynamoDB, and marks the jobs of
 * dead-lettered hints dead. Sweeps that overlap are harmless: every change is a conditional write.
 */
export class Maintenance extends Construct {
  readonly function: RelayFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: MaintenanceProps) {
    super(scope, id);
    const { table, dispatchQueue, runner } = props;
    this.function = new RelayFunction(this, 'Function', {
      entry: 'maintenance.ts',
      description: 'Relay maintenance: expired leases, lost dispatch hints, dead letters',
      timeout: Duration.minutes(2),
      memorySize: props.memorySize,
      environment: {
        ...props.storeEnvironment,
        ...table.environment(),
        ...dispatchQueue.environment(),
        ...runner.stopEnvironment(),
      },
    });
    table.grantReadWriteJobs(this.function);
    dispatchQueue.grantSendHints(this.function);
    dispatchQueue.grantReadDeadLetters(this.function);
    runner.grantStopTasks(this.function);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the Relay maintenance sweep every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
