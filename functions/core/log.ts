/**
 * Structured JSON logs, one line per event, with correlation keys (`queue`, `job_id`, `run_id`,
 * `attempt`) passed as fields. Never pass request bodies, headers or payloads: they may hold secrets.
 *
 * Lines go to stdout (stderr for warnings and errors) as they are, not through `console`: in
 * Lambda's JSON log format the Node.js runtime wraps whatever `console.*` is given in
 * `{timestamp, level, requestId, message}`, which would make each line a string inside another
 * JSON object. A whole JSON object written to stdout is an event of its own, and Lambda reads its
 * `level` (and its `timestamp`, the key the Node.js runtime uses) to filter it.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
 */
import { sourceMappedStack } from './source-stack.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

const quiet = () => process.env.RELAY_LOG_LEVEL === 'silent';

export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (quiet()) return;
  const line = JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...fields });
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${line}\n`);
}

/** An error's name, message and stack (its frames in the sources, see source-stack.ts), for the logs only. */
export const describeError = (error: unknown) =>
  error instanceof Error
    ? {
        error: error.name,
        error_message: error.message,
        stack: error.stack && sourceMappedStack(error.stack),
      }
    : { error: String(error) };
