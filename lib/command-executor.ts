import { Duration } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import { RelayFunction } from './relay-function.ts';
import type { IWorkload } from './workload.ts';

export interface CommandExecutorProps {
  /**
   * Memory of each run's sandbox, MiB. Every inline command gets its own invocation, so this is one
   * command's budget.
   *
   * @default 1024
   */
  readonly memorySize?: number;
}

/** The executor as the constructs that use it see it. */
export interface ICommandExecutor {
  /** Run commands on the executor, and name it in the workload's environment. */
  grantInvoke(workload: IWorkload): Grant;
}

/**
 * Where inline managed commands run: a Lambda function invoked once per command (with
 * `InvokeWithResponseStream`), outside Relay's trust boundary.
 *
 * Its role has no permission at all, not even to write logs: the command it runs can reach no
 * table, queue, task or log of Relay's, and its credentials are worth nothing. Its environment holds
 * nothing of Relay's either. The output streams back to the caller, the dispatcher, which records it
 * and echoes it to its own log group.
 */
export class CommandExecutor extends Construct implements ICommandExecutor {
  readonly function: RelayFunction;

  constructor(scope: Construct, id: string, props: CommandExecutorProps = {}) {
    super(scope, id);
    this.function = new RelayFunction(this, 'Function', {
      entry: 'executor.ts',
      description: 'Relay executor: runs one managed job command per invocation, with no permissions',
      // Lambda's longest: the dispatcher sends only runs that fit (10 minutes, with room to stop).
      timeout: Duration.minutes(15),
      memorySize: props.memorySize ?? 1024,
      logs: false,
    });
  }

  /**
   * Run commands on the executor: `lambda:InvokeFunction` (which `InvokeWithResponseStream` needs)
   * on this function and nothing else. Sets `RELAY_EXECUTOR_FUNCTION`.
   *
   * Not `function.grantInvoke`: that also grants every version and alias (`<arn>:*`), and the
   * dispatcher only ever invokes the unqualified function.
   */
  grantInvoke(workload: IWorkload): Grant {
    workload.addEnvironment(Env.EXECUTOR_FUNCTION, this.function.function.functionName);
    return Grant.addToPrincipal({
      grantee: workload,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.function.functionArn],
    });
  }
}
