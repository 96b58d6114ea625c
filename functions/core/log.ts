/**
 * Structured JSON logs, one line per event, with correlation keys (`queue`, `job_id`, `run_id`,
 * `attempt`) passed as fields. Never pass request bodies, headers or payloads: they may hold secrets.
 */
import { sourceMappedStack } from './source-stack.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

const quiet = () => process.env.RELAY_LOG_LEVEL === 'silent';

export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (quiet()) return;
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...fields });
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
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
