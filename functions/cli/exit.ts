/**
 * How the `relay` command ends: its exit codes, and the errors that choose one.
 *
 * 0 ok; 1 an error (an API error, an unknown job, a job that ended dead or cancelled); 2 a usage
 * or setup error (a wrong argument, a missing or invalid job file, no config, no credentials, a
 * refused bind); 124 `submit --wait --timeout` gave up before the job ended (as timeout(1) does).
 */
import { RelayApiError } from '../sdk/client.ts';

export const EXIT = { ok: 0, error: 1, usage: 2, timeout: 124 } as const;

/** Ends a command with a non-zero exit code when what needed saying is already printed. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The command was called wrongly or cannot start: exit 2, with what to do instead. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** A job or queue the command was given does not exist: exit 1. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
}

/** `submit --wait --timeout` gave up while the job still ran: exit 124. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  readonly code = 'timeout';
}

/** An error as `--json` prints it on stderr: the API's envelope, plus the exit code. */
export function errorJson(error: Error, exitCode: number): string {
  const code =
    error instanceof RelayApiError || 'code' in error ? String((error as { code: unknown }).code) : 'error';
  const status = error instanceof RelayApiError ? { status: error.status } : {};
  return JSON.stringify({ error: { code, message: error.message, ...status, exit_code: exitCode } });
}
