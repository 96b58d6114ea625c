/**
 * The whole of Relay on one machine: DynamoDB Local as a child process, fauxqs (SQS) in-process,
 * the real Lambda handlers behind a node:http adapter, the dispatcher fed by a local SQS poller,
 * runs of managed jobs as child processes of the runner program, and the maintenance sweep on a
 * timer.
 *
 * The handlers read their configuration from the environment exactly as they do on Lambda; this
 * module only sets the variables (endpoint and table) before they first run.
 */
import { mkdirSync } from 'node:fs';
import { createApiHandler } from '../api/handler.ts';
import { dynamoClient, sqsClient } from '../core/clients.ts';
import { Env } from '../core/env.ts';
import { describeError, log } from '../core/log.ts';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { ensureDispatchQueues } from '../dispatch/queue.ts';
import { handler as sweep } from '../handlers/maintenance.ts';
import { dispatchFromEnv, storeFromEnv } from '../handlers/services.ts';
import { ensureTable } from '../jobs/table.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { localExecutor } from './executor.ts';
import { startHttpAdapter } from './http-adapter.ts';
import { startSqsLocal } from './sqs-local.ts';
import { startSqsPoller } from './sqs-poller.ts';

export const DEFAULT_PORT = 4000;
export const DEFAULT_HOST = '127.0.0.1';
export const LOCAL_TABLE = 'relay-jobs';

export interface LocalStackOptions {
  readonly host?: string;
  readonly port?: number;
  /** Required when `host` is not a loopback address. */
  readonly token?: string;
  /** Persist DynamoDB data here across restarts; in memory when omitted. */
  readonly dataDir?: string;
  readonly sweepIntervalMs?: number;
}

export interface LocalStack {
  readonly url: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly dispatchQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Who the commands of managed jobs run as. */
  readonly commandsRunAs: string;
  stop(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? DEFAULT_HOST;
  if (!isLoopback(host) && !options.token) {
    throw new Error(
      `binding ${host} exposes Relay beyond this machine: set RELAY_TOKEN to require a bearer token`,
    );
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const [dynamo, sqs] = await Promise.all([
    startDynamoDbLocal({ dataDir: options.dataDir }),
    startSqsLocal(),
  ]);
  try {
    process.env[Env.DYNAMODB_ENDPOINT] = dynamo.endpoint;
    process.env[Env.SQS_ENDPOINT] = sqs.endpoint;
    process.env[Env.TABLE_NAME] ??= LOCAL_TABLE;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const raw = dynamoClient(dynamo.endpoint);
    await ensureTable(raw, process.env[Env.TABLE_NAME] as string);
    raw.destroy();

    // The dispatch queue lives only in memory: after a restart with --data-dir, the sweep's
    // lost-dispatch repair re-sends the hints of managed jobs that are still waiting.
    const queueClient = sqsClient(sqs.endpoint);
    const queues = await ensureDispatchQueues(queueClient, {
      name: 'relay-dispatch',
      visibilityTimeoutSeconds: 60,
    });
    process.env[Env.DISPATCH_QUEUE_URL] = queues.queueUrl;
    process.env[Env.DISPATCH_DLQ_URL] = queues.deadLetterUrl;
    const executor = localExecutor();
    const poller = await startSqsPoller({
      client: queueClient,
      queueUrl: queues.queueUrl,
      handler: createDispatcher({
        store: storeFromEnv(),
        execute: executor.execute,
        dispatch: dispatchFromEnv(),
      }),
    });

    const http = await startHttpAdapter({
      host,
      port: options.port ?? DEFAULT_PORT,
      token: options.token,
      handlers: {
        relay: createApiHandler('relay'),
        jobs: createApiHandler('jobs'),
        managed: createApiHandler('managed'),
        fallback: createApiHandler('fallback'),
      },
    });

    // The sweep never overlaps itself; a slow run just delays the next one.
    let stopping = false;
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(async () => {
        if (stopping) return;
        try {
          await sweep();
        } catch (error) {
          log('warn', 'maintenance sweep failed', describeError(error));
        }
      });
    }, options.sweepIntervalMs ?? 1_000);

    return {
      url: http.url,
      dynamodbEndpoint: dynamo.endpoint,
      sqsEndpoint: sqs.endpoint,
      dispatchQueueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterUrl,
      commandsRunAs: executor.runsAs,
      stop: async () => {
        stopping = true;
        clearInterval(timer);
        await running;
        await http.close();
        await poller.stop();
        await executor.stop();
        queueClient.destroy();
        await Promise.all([dynamo.stop(), sqs.stop()]);
      },
    };
  } catch (error) {
    await Promise.all([dynamo.stop(), sqs.stop()]);
    throw error;
  }
}
