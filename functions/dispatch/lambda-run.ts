/**
 * Runs an inline command on the executor Lambda instead of in this process: the dispatcher holds
 * the table grants and does the bookkeeping (heartbeats, logs, outcome); the executor, whose role
 * has no permissions, runs the command and streams its output back (`InvokeWithResponseStream`).
 *
 * It has the shape of `runCommand`, so `runJob` uses it unchanged. A lost lease or a cancel aborts
 * the invocation; the executor stops the command when it notices the stream closed, and at its
 * timeout at the latest, and whatever it reports after that is fenced out by the run id.
 */
import { InvokeWithResponseStreamCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { EXECUTOR_PROTOCOL, type ExecuteRequest, type ExecutorEvent } from '../executor/protocol.ts';
import type { CommandSpec } from '../runner/command.ts';
import type { RunRef } from '../runner/job.ts';
import {
  type CommandOutcome,
  DEFAULT_DEPS,
  keepAlive,
  OutputTail,
  type RunDeps,
  type RunHooks,
  timerSet,
} from '../runner/run.ts';

/** The executor could not run the command at all (not invoked, or it crashed before starting it). */
export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';
}

/** How long after the command's timeout the dispatcher stops waiting for the executor. */
const REPORT_GRACE_MS = 30_000;

/** A `runCommand` for one run that executes it on the executor function. */
export function lambdaRun(lambda: Pick<LambdaClient, 'send'>, functionName: string, ref: RunRef) {
  return async (
    spec: CommandSpec,
    deps: Partial<RunDeps> = {},
    hooks: RunHooks = {},
  ): Promise<CommandOutcome> => {
    const started = Date.now();
    const aborted = new AbortController();
    let abortReason: string | undefined;
    const stop = (reason: string) => {
      if (abortReason !== undefined) return;
      abortReason = reason;
      aborted.abort(reason);
    };
    const onAbort = () => stop(String(hooks.signal?.reason ?? 'stopped'));
    if (hooks.signal?.aborted) onAbort();
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    const { after, clearAll } = timerSet();
    let over = false;
    if (hooks.heartbeat) {
      keepAlive(
        { heartbeat: hooks.heartbeat, heartbeatMs: hooks.heartbeatMs ?? 30_000, after },
        () => over,
        () => stop('lease lost'),
      );
    }
    after(spec.timeoutMs + REPORT_GRACE_MS, () => stop('the executor did not report in time'));

    // The last part of the output, as runCommand keeps it: the run's stored log is made of it.
    const tail = new OutputTail(deps.maxBytes ?? DEFAULT_DEPS.maxBytes);
    let startedCommand = false;
    let ended: Extract<ExecutorEvent, { kind: 'ended' }> | undefined;
    // The run is named only for the executor's own log lines.
    const run = { queue: ref.queue, id: ref.id, run_id: ref.runId };
    const request: ExecuteRequest = { version: EXECUTOR_PROTOCOL, run, spec };
    try {
      const response = await lambda.send(
        new InvokeWithResponseStreamCommand({
          FunctionName: functionName,
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
        { abortSignal: aborted.signal },
      );
      const lines = new LineSplitter();
      for await (const event of response.EventStream ?? []) {
        if (event.PayloadChunk?.Payload) {
          for (const line of lines.push(event.PayloadChunk.Payload)) {
            const parsed = JSON.parse(line) as ExecutorEvent;
            if (parsed.kind === 'started') {
              startedCommand = true;
              hooks.onStart?.(parsed.pid);
            } else if (parsed.kind === 'output') {
              const { kind: _, ...entry } = parsed;
              tail.push(entry);
              hooks.onOutput?.(entry);
            } else ended = parsed;
          }
        }
        if (event.InvokeComplete?.ErrorCode) {
          throw new ExecutorError(
            `the executor failed: ${event.InvokeComplete.ErrorCode} ${event.InvokeComplete.ErrorDetails ?? ''}`.trim(),
          );
        }
      }
    } catch (error) {
      if (abortReason === undefined && !startedCommand) {
        // Nothing ran: the caller gives the run back, no retry spent.
        throw error instanceof ExecutorError
          ? error
          : new ExecutorError(`could not invoke the executor: ${(error as Error).message}`, { cause: error });
      }
      if (abortReason === undefined) abortReason = `the executor failed: ${(error as Error).message}`;
    } finally {
      over = true;
      clearAll();
      hooks.signal?.removeEventListener('abort', onAbort);
    }
    // Output the executor could not send is lost from the front of what was sent: count it as dropped.
    const droppedBytes = tail.droppedBytes + (ended?.dropped_bytes ?? 0);
    const base = {
      durationMs: Date.now() - started,
      truncated: droppedBytes > 0,
      droppedBytes,
      tail: tail.entries(),
    };
    if (ended && abortReason === undefined) {
      return {
        ...base,
        exitCode: ended.exit_code,
        signal: ended.signal,
        durationMs: ended.duration_ms,
        timedOut: ended.timed_out,
        aborted: ended.aborted,
        error: ended.error,
      };
    }
    if (abortReason !== undefined && (abortReason === 'lease lost' || hooks.signal?.aborted)) {
      return {
        ...base,
        exitCode: 1,
        signal: null,
        timedOut: false,
        aborted: true,
        error: `stopped: ${abortReason}`,
      };
    }
    // The executor went away mid-run without an outcome: the run failed, and is retried as any failure.
    const error = abortReason ?? 'the executor ended without reporting how the command ended';
    return { ...base, exitCode: 1, signal: null, timedOut: false, aborted: false, error };
  };
}

/** Splits a byte stream into complete UTF-8 lines. */
class LineSplitter {
  private readonly decoder = new TextDecoder();
  private rest = '';

  push(chunk: Uint8Array): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.filter(Boolean);
  }
}
