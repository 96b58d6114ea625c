import { Stack } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { EnvName } from '../functions/core/env.ts';

/**
 * What Relay's grants are given to: a function or task that runs Relay's code.
 *
 * A grant adds the permissions to the principal and names the resource in the environment, so a
 * variable is set exactly where its access is granted (`jobTable.grantReadWriteJobs(fn)` also sets
 * `RELAY_TABLE_NAME`). A `RelayFunction` is one, the runner's task (`ShellRunner.task`) another; any
 * `lambda.Function` fits too.
 */
export interface IWorkload extends IGrantable {
  /** Sets one of Relay's environment variables (`functions/core/env.ts`). */
  addEnvironment(name: EnvName, value: string): void;
}

/**
 * The environment of one workload, set one variable at a time by the grants and settings that need
 * it.
 *
 * A variable may be set again only to the same value: a second value means the workload was handed
 * two tables, queues or settings, and the runtime would silently read whichever came last.
 */
export class WorkloadEnvironment {
  private readonly values = new Map<string, string>();

  /** `apply` sets a variable on the function or container; `owner` names it in errors. */
  constructor(
    private readonly owner: IConstruct,
    private readonly apply: (name: EnvName, value: string) => void,
  ) {}

  add(name: EnvName, value: string): void {
    const current = this.values.get(name);
    if (current === value) return;
    if (current !== undefined) {
      const show = (v: string) => JSON.stringify(Stack.of(this.owner).resolve(v));
      throw new Error(
        `${this.owner.node.path}: ${name} is already ${show(current)}, and something now sets it to ` +
          `${show(value)}: a workload reaches one table, one dispatch queue, one runner and one executor, ` +
          'with one set of settings. Grant it those of one Relay only, or give the other a function of its own.',
      );
    }
    this.values.set(name, value);
    this.apply(name, value);
  }
}
