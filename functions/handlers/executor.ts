/**
 * Lambda entry: the executor, invoked by the dispatcher with `InvokeWithResponseStream`, one command
 * per invocation. Its role has no permissions at all and its environment holds nothing of Relay's:
 * the command it runs can reach no table, queue, task or other job. It streams the command's output
 * and outcome back as newline-delimited JSON; the dispatcher does all the bookkeeping.
 *
 * https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html
 */
import type { Writable } from 'node:stream';
import { execute } from '../executor/execute.ts';
import { type Identity, SELF } from '../runner/sandbox.ts';

/** Provided by Lambda's Node.js runtime for response streaming. */
declare const awslambda: {
  streamifyResponse(handler: (event: unknown, stream: Writable) => Promise<void>): unknown;
};

/**
 * Inside Lambda the sandbox runs one invocation at a time, so every other process of its user is
 * this run's and is killed when it ends. Anywhere else (a test harness without its own user) only
 * the command's process group is.
 */
const identity: Identity = process.env.AWS_LAMBDA_FUNCTION_NAME ? { kind: 'sandbox' } : SELF;

/** Output the stream may hold unsent before more is dropped (counted in the `ended` event). */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

export const handler = awslambda.streamifyResponse(async (event, stream) => {
  const gone = new AbortController();
  let finished = false;
  // If the dispatcher hangs up (the job was cancelled, its lease lost), stop the command.
  const hangUp = () => {
    if (!finished) gone.abort('the dispatcher stopped listening');
  };
  stream.once('close', hangUp);
  stream.once('error', hangUp);
  await execute(event, (e) => stream.write(`${JSON.stringify(e)}\n`), {
    identity,
    signal: gone.signal,
    canSend: () => stream.writableLength < MAX_BUFFERED_BYTES,
  });
  finished = true;
  stream.end();
});
