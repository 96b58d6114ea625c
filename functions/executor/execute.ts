/**
 * The executor: runs exactly one command per call and reports it as events. On AWS it is the body
 * of the executor Lambda, whose role has no permissions and whose sandbox is the run's alone (one
 * invocation at a time): the command can read nothing of Relay's, and whatever it leaves behind is
 * killed before the next invocation (functions/runner/sandbox.ts).
 */
import { log } from '../core/log.ts';
import { runCommand } from '../runner/run.ts';
import type { Identity } from '../runner/sandbox.ts';
import { type ExecutorEvent, executeRequest } from './protocol.ts';

export interface ExecuteOptions {
  readonly identity: Identity;
  /** Stops the command (the dispatcher went away). */
  readonly signal?: AbortSignal;
  /** Whether the stream can take another output event; dropped output is counted instead. */
  readonly canSend?: () => boolean;
  readonly run?: typeof runCommand;
}

/** Runs the requested command to its end, emitting `started`, `output`… and one `ended`. */
export async function execute(
  request: unknown,
  emit: (event: ExecutorEvent) => void,
  options: ExecuteOptions,
): Promise<void> {
  const parsed = executeRequest.safeParse(request);
  if (!parsed.success) {
    // Only the dispatcher invokes the executor, so this is a version mismatch, not a user error.
    log('error', 'executor request is invalid', { issues: parsed.error.issues.length });
    emit(ended({ exitCode: 1, error: 'the executor could not read its request' }));
    return;
  }
  const { run, spec } = parsed.data;
  let dropped = 0;
  const outcome = await (options.run ?? runCommand)(
    spec,
    { identity: options.identity },
    {
      signal: options.signal,
      onStart: (pid) => emit({ kind: 'started', pid }),
      onOutput: (entry) => {
        if (options.canSend && !options.canSend()) {
          dropped += Buffer.byteLength(entry.text);
          return;
        }
        emit({ kind: 'output', ...entry });
      },
    },
  );
  log('info', 'command ended', {
    queue: run.queue,
    job_id: run.id,
    run_id: run.run_id,
    exit_code: outcome.exitCode,
    duration_ms: outcome.durationMs,
  });
  emit({
    kind: 'ended',
    exit_code: outcome.exitCode,
    signal: outcome.signal,
    duration_ms: outcome.durationMs,
    timed_out: outcome.timedOut,
    aborted: outcome.aborted,
    error: outcome.error,
    dropped_bytes: dropped,
  });
}

function ended(opts: { exitCode: number; error: string }): ExecutorEvent {
  return {
    kind: 'ended',
    exit_code: opts.exitCode,
    signal: null,
    duration_ms: 0,
    timed_out: false,
    aborted: false,
    error: opts.error,
    dropped_bytes: 0,
  };
}
