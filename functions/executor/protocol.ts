/**
 * What the dispatcher and the executor Lambda say to each other: one request per invocation (the
 * command and a run reference for correlation), and a stream of newline-delimited JSON events back
 * (response streaming), so output reaches the run's log while the command runs.
 *
 * The executor has no AWS permissions: everything it learns comes in the request, and everything
 * it reports goes back on the stream, where the dispatcher (which holds the table grants) records it.
 */
import * as z from 'zod';
import type { OutputStream } from '../runner/run.ts';

export const EXECUTOR_PROTOCOL = 1;

export const executeRequest = z.strictObject({
  version: z.literal(EXECUTOR_PROTOCOL),
  /** For the executor's own log lines only. */
  run: z.strictObject({ queue: z.string(), id: z.string(), run_id: z.string() }),
  spec: z.strictObject({
    command: z.string().min(1),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    timeoutMs: z.number().int().positive(),
    runtime: z.enum(['lambda', 'fargate']).optional(),
  }),
});
export type ExecuteRequest = z.infer<typeof executeRequest>;

/** One line of the executor's response stream. */
export type ExecutorEvent =
  | { readonly kind: 'started'; readonly pid: number }
  | {
      readonly kind: 'output';
      readonly stream: OutputStream;
      readonly text: string;
      readonly at: number;
      readonly seq: number;
    }
  | {
      readonly kind: 'ended';
      readonly exit_code: number;
      readonly signal: string | null;
      readonly duration_ms: number;
      readonly timed_out: boolean;
      readonly aborted: boolean;
      readonly error: string | null;
      /** Output the executor could not send because the stream fell too far behind. */
      readonly dropped_bytes: number;
    };
