/**
 * The dispatcher's side of one inline run, in a process of its own (as the dispatcher Lambda is):
 * it keeps the run's books in the table and has the command run on the executor function, reached
 * at `RELAY_TEST_LAMBDA_ENDPOINT` (test/support/lambda-service.ts). Arguments: queue, id, run id.
 * Exits 0 once the run's outcome is recorded.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { awsClientConfig } from '../../functions/core/clients.ts';
import { Env } from '../../functions/core/env.ts';
import { inlineExecutor } from '../../functions/dispatch/executors.ts';
import { storeFromEnv } from '../../functions/handlers/services.ts';

const [queue, id, runId] = process.argv.slice(2);
const lambda = new LambdaClient(awsClientConfig(process.env.RELAY_TEST_LAMBDA_ENDPOINT));
const store = storeFromEnv();
const job = await store.get(queue as string, id as string);
if (!job || job.run_id !== runId) {
  console.error(`no run ${runId} of ${queue}/${id}`);
  process.exit(2);
}
await inlineExecutor({
  store,
  executor: { lambda, functionName: process.env[Env.EXECUTOR_FUNCTION] as string },
})(job);
lambda.destroy();
process.exit(0);
