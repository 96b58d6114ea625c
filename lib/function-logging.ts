/**
 * What Lambda writes to a Relay function's log group besides the function's own output: the
 * setting `RelayFunction` deploys and the benchmark prices, in one module without CDK in it so
 * both read the same value.
 *
 * Every function logs in Lambda's JSON format, its application logs at INFO, and its system logs
 * (the platform's per-invocation events) at `platformLogs`.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
 */

/**
 * Which of Lambda's system logs a function keeps.
 *
 * - `'warn'`: only the platform's warnings and errors. Each invocation's start, runtime-done and
 *   report events (`START`/`END`/`REPORT` in the text format) are INFO, so none is written: three
 *   events per invocation, for figures CloudWatch already has as metrics (`Duration`, `Errors`,
 *   `Throttles`). The report is the one record of an invocation's memory used, init
 *   duration and billed duration: raise this to `'info'` to read them in the logs, or turn on
 *   Lambda Insights for them as metrics.
 * - `'info'`: those events too, three per invocation.
 */
export type PlatformLogs = 'warn' | 'info';

/** The default of `RelayProps.platformLogs` and `RelayFunctionProps.platformLogs`. */
export const DEFAULT_PLATFORM_LOGS: PlatformLogs = 'warn';
