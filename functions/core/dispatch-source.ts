/**
 * How SQS feeds the dispatcher: the Lambda event source's defaults (lib/dispatcher.ts), which the
 * local stack's poller copies (functions/local/stack.ts), so hints are taken as fast here as there.
 * Pure and dependency-free: CDK synthesis loads it.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */

/** Hints per dispatcher invocation; the hints of one batch are dispatched concurrently. */
export const DISPATCH_BATCH_SIZE = 10;

/** Dispatcher invocations (batches) the event source runs at once. */
export const DISPATCH_MAX_CONCURRENCY = 20;
