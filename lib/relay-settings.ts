/**
 * The `Relay` construct's settings of managed jobs and of its metrics, validated eagerly: a wrong
 * value fails synthesis with the value and the fix. (The store's settings are the jobs table's,
 * which checks them.)
 */
import { Duration } from 'aws-cdk-lib';
import type { RelayProps } from './relay-props.ts';

/** The props that configure managed jobs, and so need `managedJobs: true`. */
const MANAGED_ONLY_PROPS = [
  'allowedCommands',
  'defaultCommandTimeout',
  'maxReceiveCount',
  'dispatcherMemorySize',
  'executorMemorySize',
  'dispatcherMaxConcurrency',
  'runnerCpu',
  'runnerMemoryLimitMiB',
  'runnerImage',
  'vpc',
  'runnerSubnets',
] as const satisfies readonly (keyof RelayProps)[];

/** A command's timeout is at most 12 hours (`functions/runner/command.ts`). */
const MAX_COMMAND_TIMEOUT = Duration.hours(12);
/**
 * Lambda holds at most 4 KB of environment variables per function; the allow-list shares them with
 * the table, queue and runner settings. https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
 */
const MAX_ALLOWED_COMMANDS_BYTES = 2048;
const MEMORY_MIB = { min: 128, max: 10_240 };

/**
 * Checks the settings of managed jobs (the allow-list, the default timeout, the executor's memory),
 * and that none is given while managed jobs are off.
 */
export function validateCommandSettings(props: RelayProps): void {
  if (!props.managedJobs) {
    const given = MANAGED_ONLY_PROPS.filter((name) => props[name] !== undefined);
    if (given.length) {
      throw new Error(
        `Relay ${given.join(', ')} ${given.length > 1 ? 'configure' : 'configures'} managed jobs, but ` +
          'managedJobs is off: pass managedJobs: true (for RelayStack: cdk deploy -c managedJobs=true), ' +
          `or remove ${given.length > 1 ? 'them' : 'it'}.`,
      );
    }
    return;
  }
  const timeout = props.defaultCommandTimeout ?? Duration.minutes(5);
  const seconds = timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_COMMAND_TIMEOUT.toSeconds()) {
    throw new Error(
      `Relay defaultCommandTimeout is ${timeout.toHumanString()}, but a command's timeout is whole seconds ` +
        'from 1 second to 12 hours: pass one in that range, or omit it for 5 minutes.',
    );
  }
  const memory = props.executorMemorySize ?? 1024;
  if (!Number.isInteger(memory) || memory < MEMORY_MIB.min || memory > MEMORY_MIB.max) {
    throw new Error(
      `Relay executorMemorySize is ${memory} MiB, but Lambda accepts a whole number from ${MEMORY_MIB.min} ` +
        `to ${MEMORY_MIB.max}: pass one in that range, or omit it for 1024.`,
    );
  }
  const list = props.allowedCommands;
  if (list === undefined) return;
  const emptyQueues = Object.keys(list).filter((queue) => !queue.trim());
  if (emptyQueues.length) {
    throw new Error(
      `Relay allowedCommands has the queue name ${JSON.stringify(emptyQueues[0])}, but queue names are ` +
        'non-empty: name the queue, or use "*" for every queue without an entry of its own.',
    );
  }
  const invalid = Object.entries(list).flatMap(([queue, patterns]) =>
    patterns
      .filter((pattern) => !pattern || pattern.slice(0, -1).includes('*'))
      .map((pattern) => `${queue}: ${JSON.stringify(pattern)}`),
  );
  if (invalid.length) {
    throw new Error(
      `Relay allowedCommands has ${invalid.join(', ')}, but a command is a non-empty string, exact or a ` +
        'prefix ending in "*" (the only place "*" may be): write "/opt/jobs/*" rather than "/opt/*/run.sh".',
    );
  }
  const json = JSON.stringify(list);
  if (Buffer.byteLength(json) > MAX_ALLOWED_COMMANDS_BYTES) {
    throw new Error(
      `Relay allowedCommands is ${Buffer.byteLength(json)} bytes as JSON, but it travels in a Lambda ` +
        `environment variable, which leaves room for ${MAX_ALLOWED_COMMANDS_BYTES}: use prefixes ` +
        '("/opt/jobs/*") or a "*" entry instead of listing every command.',
    );
  }
}

/** The most queues `metricQueues` may name: each is ~14 custom metrics, and the list rides in the environment. */
export const MAX_METRIC_QUEUES = 100;

/** Checks `metricQueues`: queue names, without commas (the list is comma-separated), at most 100. */
export function validateMetricQueues(queues: readonly string[] | undefined): void {
  if (queues === undefined) return;
  const invalid = queues.filter((q) => !q.trim() || q.includes(','));
  if (invalid.length) {
    throw new Error(
      `Relay metricQueues has ${JSON.stringify(invalid)}, but queue names are non-empty and contain no ` +
        'comma: fix or remove them, or pass ["*"] for every queue.',
    );
  }
  if (queues.length > MAX_METRIC_QUEUES) {
    throw new Error(
      `Relay metricQueues names ${queues.length} queues, but at most ${MAX_METRIC_QUEUES} get series of ` +
        'their own: name the ones you graph; every queue still counts in the series over all queues.',
    );
  }
}
