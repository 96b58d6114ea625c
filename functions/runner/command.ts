/**
 * The managed shell job payload: which program to run, with what, and for how long.
 *
 * The command runs without a shell: `command` is the program and `args` reach it verbatim. A user
 * who wants shell syntax asks for it (`{ "command": "/bin/sh", "args": ["-c", "…"] }`).
 */
import * as z from 'zod';
import { LIMITS } from '../jobs/model.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** A command runs for at most as long as a managed job may hold a lease. */
export const MAX_TIMEOUT_MS = LIMITS.maxManagedTimeoutSeconds * SECOND;

/**
 * A command whose payload gives no timeout gets this one (a deployment may choose another, see
 * `settleCommand`): short enough to run inline, so `echo hello` never waits for a Fargate task.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5 * MINUTE;

/**
 * The longest command timeout that runs inline, on the executor Lambda: Lambda stops a function
 * at 15 minutes, and the run needs room to start, to be stopped after its timeout (SIGTERM, then
 * SIGKILL 5 s later) and to report. Longer commands run on Fargate.
 */
export const INLINE_LIMIT_MS = 10 * MINUTE;

export type Runtime = 'lambda' | 'fargate';

/** `30s`, `5m`, `2h`, `1h30m`, `1.5s`: hours, minutes and seconds, each optional, in that order. */
const DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/;

/** Milliseconds in a timeout given as seconds (a number) or a duration string; `undefined` if neither. */
export function parseTimeout(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value * SECOND) : undefined;
  const match = DURATION.exec(value);
  if (!match || value === '') return undefined;
  const [, h = '0', m = '0', s = '0'] = match;
  return Math.round(Number(h) * HOUR + Number(m) * MINUTE + Number(s) * SECOND);
}

/** Renders milliseconds the way timeouts are written: `45s`, `5m`, `1h30m`, `1.5s`. */
export function formatDuration(ms: number): string {
  const hours = Math.floor(ms / HOUR);
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  // Three decimals at most: durations are whole milliseconds.
  const seconds = Number(((ms % MINUTE) / SECOND).toFixed(3));
  const parts = [
    hours > 0 ? `${hours}h` : '',
    minutes > 0 ? `${minutes}m` : '',
    seconds > 0 ? `${seconds}s` : '',
  ].join('');
  return parts || '0s';
}

const timeout = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseTimeout(value);
  if (ms === undefined || ms <= 0 || ms > MAX_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `timeout must be seconds (a number) or a duration like 30s, 5m or 1h30m, more than 0 and at most ${formatDuration(MAX_TIMEOUT_MS)}; got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

// execve takes C strings: a NUL byte would silently cut an argument short, so refuse it up front.
const noNul = (what: string) => z.string().refine((s) => !s.includes('\0'), `${what} must not contain NUL`);
const envName = z
  .string()
  .regex(/^[^=\0]+$/, 'environment variable names must be non-empty without = or NUL');

export const commandSpecSchema = z
  .object({
    command: noNul('command').pipe(z.string().min(1, 'command must not be empty')),
    args: z.array(noNul('args')).default([]),
    env: z.record(envName, noNul('env values')).optional(),
    cwd: noNul('cwd').pipe(z.string().min(1, 'cwd must not be empty')).optional(),
    /**
     * Seconds, or a duration string. Submission writes the deployment's default into a payload
     * without one; a stored payload without one (written before defaults were) gets the built-in.
     */
    timeout: timeout.optional(),
    runtime: z.enum(['lambda', 'fargate']).optional(),
  })
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout ?? DEFAULT_COMMAND_TIMEOUT_MS }));

/** The payload as a caller writes it. */
export type CommandPayload = z.input<typeof commandSpecSchema>;
/** A validated command: `args` present, timeout in milliseconds. */
export type CommandSpec = z.output<typeof commandSpecSchema>;

/** Where a command runs on AWS: as asked, else inline when its timeout allows. */
export function runtimeOf(spec: Pick<CommandSpec, 'runtime' | 'timeoutMs'>): Runtime {
  return spec.runtime ?? (spec.timeoutMs <= INLINE_LIMIT_MS ? 'lambda' : 'fargate');
}

/** A submitted command payload as it is stored: the deployment's default timeout written in when it gives none. */
export function withDefaultTimeout(payload: CommandPayload, defaultTimeoutMs: number): CommandPayload {
  return payload.timeout === undefined ? { ...payload, timeout: formatDuration(defaultTimeoutMs) } : payload;
}

/** Why no executor can honour `spec`, if none can: an inline run longer than Lambda allows. */
export function unrunnable(spec: Pick<CommandSpec, 'runtime' | 'timeoutMs'>): string | undefined {
  if (spec.runtime !== 'lambda' || spec.timeoutMs <= INLINE_LIMIT_MS) return undefined;
  return (
    `runtime "lambda" runs commands of at most ${formatDuration(INLINE_LIMIT_MS)} ` +
    `(Lambda stops a function at 15 minutes), but timeout is ${formatDuration(spec.timeoutMs)}: ` +
    'ask for "fargate", or give a shorter timeout'
  );
}
