import { Duration } from 'aws-cdk-lib';
import type { IRule } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import type { IDispatchQueue } from './dispatch-queue.ts';
import type { PlatformLogs } from './function-logging.ts';
import type { IJobTable } from './job-table.ts';
import { RelayFunction } from './relay-function.ts';
import type { IShellRunner } from './shell-runner.ts';

export interface TaskEventsProps {
  readonly table: IJobTable;
  /** A failed run is owed the hint of its retry. */
  readonly dispatchQueue: IDispatchQueue;
  /** The runner whose stopped tasks it hears of. */
  readonly runner: IShellRunner;
  /** @default 512 */
  readonly memorySize?: number;
  /** Which of Lambda's system logs the function keeps. @default 'warn' (lib/function-logging.ts) */
  readonly platformLogs?: PlatformLogs;
}

/**
 * Fails the run of a Fargate task that stopped without ending it (out of memory, a failed image
 * pull, a Spot reclaim) as soon as ECS reports the task STOPPED, instead of when its lease expires.
 * The write is fenced by the run id, so an event about a run that already ended changes nothing.
 */
export class TaskEvents extends Construct {
  readonly function: RelayFunction;
  /** The EventBridge rule, in the runner's scope, that sends the runner's STOPPED events here. */
  readonly rule: IRule;

  constructor(scope: Construct, id: string, props: TaskEventsProps) {
    super(scope, id);
    // `Default`: the function, its role and its log group keep the logical IDs they had before
    // this construct wrapped them.
    this.function = new RelayFunction(this, 'Default', {
      entry: 'task-events.ts',
      description: 'Relay: fails the run of a Fargate task that stopped without ending it',
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      platformLogs: props.platformLogs,
    });
    props.table.grantReadWriteJobs(this.function);
    props.dispatchQueue.grantSendHints(this.function);
    this.rule = props.runner.onTaskStopped('TaskStopped', this.function.function);
  }
}
