import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { DISPATCH_BATCH_SIZE, DISPATCH_MAX_CONCURRENCY } from '../functions/core/dispatch-source.ts';
import { type AllowedCommands, addAllowedCommands } from './allowed-commands.ts';
import type { ICommandExecutor } from './command-executor.ts';
import { checkWholeNumber, type IDispatchQueue, type WholeNumberRange } from './dispatch-queue.ts';
import type { PlatformLogs } from './function-logging.ts';
import type { IJobTable } from './job-table.ts';
import { RelayFunction } from './relay-function.ts';
import type { IShellRunner } from './shell-runner.ts';

/**
 * The dispatcher's timeout: Lambda's longest, since it waits for the inline runs it sends to the
 * executor (up to 10 minutes each, see functions/dispatch/executors.ts) and records their output.
 * The dispatch queue's visibility timeout is derived from it.
 */
export const DISPATCHER_TIMEOUT = Duration.minutes(15);

/** Lambda's bounds for an SQS event source's maximum concurrency. */
const MAX_CONCURRENCY: WholeNumberRange = { min: 2, max: 1000, by: 'Lambda' };

export interface DispatcherProps {
  readonly table: IJobTable;
  /** Its event source; it also sends on the hints not yet due, and those of retries and chained jobs. */
  readonly dispatchQueue: IDispatchQueue;
  /** Where long commands run, as Fargate tasks it starts. */
  readonly runner: IShellRunner;
  /** Where inline commands run; the dispatcher only keeps their books. */
  readonly executor: ICommandExecutor;
  /**
   * The commands each queue may run, checked again before each run starts.
   *
   * @default any command
   */
  readonly allowedCommands?: AllowedCommands;
  /** @default 512 — commands run on the executor, not here */
  readonly memorySize?: number;
  /** Which of Lambda's system logs the function keeps. @default 'warn' (lib/function-logging.ts) */
  readonly platformLogs?: PlatformLogs;
  /** @default no reservation */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Dispatcher instances the event source may run at once. Bounds what a burst of managed jobs
   * costs, and ECS RunTask's 20 calls/s.
   *
   * @default 20
   */
  readonly maxConcurrency?: number;
  /** @default 10 — the hints of one batch are dispatched concurrently */
  readonly batchSize?: number;
}

/**
 * Consumes dispatch hints: claims each hinted job with one conditional write, sends short commands
 * to the executor (one invocation each) and starts long ones as Fargate tasks, and reports the hints
 * it could not handle so SQS retries only those (`ReportBatchItemFailures`). It never runs a command
 * in its own process, which holds the table, queue and ECS grants.
 */
export class Dispatcher extends Construct {
  readonly function: RelayFunction;

  constructor(scope: Construct, id: string, props: DispatcherProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? DISPATCH_MAX_CONCURRENCY;
    checkWholeNumber('Dispatcher maxConcurrency', maxConcurrency, MAX_CONCURRENCY, DISPATCH_MAX_CONCURRENCY);
    const { table, dispatchQueue, runner, executor } = props;

    this.function = new RelayFunction(this, 'Function', {
      entry: 'dispatcher.ts',
      description: 'Relay dispatcher: claims hinted managed jobs, runs them on the executor or Fargate',
      timeout: DISPATCHER_TIMEOUT,
      memorySize: props.memorySize ?? 512,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      platformLogs: props.platformLogs,
    });
    addAllowedCommands(this.function, props.allowedCommands);
    table.grantReadWriteJobs(this.function);
    // Hints not yet due are sent on; retries and chained jobs get theirs.
    dispatchQueue.grantSendHints(this.function);
    runner.grantRun(this.function);
    executor.grantInvoke(this.function);

    this.function.function.addEventSource(
      new SqsEventSource(dispatchQueue.queue, {
        batchSize: props.batchSize ?? DISPATCH_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
  }
}
