/**
 * The whole of Relay on one machine: DynamoDB Local as a child process, fauxqs (SQS) in-process,
 * the real Lambda handlers behind a node:http adapter, the dispatcher fed by a local SQS poller,
 * runs of managed jobs as child processes of the runner program, and the maintenance sweep on a
 * timer.
 *
 * The handlers read their configuration from the environment exactly as they do on Lambda; this
 * module only sets the variables (endpoint and table) before they first run.
 *
 * Everything it starts listens on loopback only (the API too, unless asked otherwise with a token)
 * and ends with it. What can fail for want of setup (the port, Java) is checked before anything
 * starts, and a start that fails later stops what it had started.
 */
import { mkdirSync } from 'node:fs';
import { createApiHandler } from '../api/handler.ts';
import { dynamoClient, sqsClient } from '../core/clients.ts';
import { Env } from '../core/env.ts';
import { describeError, log } from '../core/log.ts';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { ensureDispatchQueues } from '../dispatch/queue.ts';
import { redispatchLost } from '../dispatch/repair.ts';
import { handler as sweep } from '../handlers/maintenance.ts';
import { apiContextFromEnv, dispatchFromEnv, storeFromEnv } from '../handlers/services.ts';
import { ensureTable } from '../jobs/table.ts';
import { prepareDynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { startLocalExecutor } from './executor.ts';
import { ALLOWED_HOSTS_VARIABLE, parseAllowedHosts, startHttpAdapter } from './http-adapter.ts';
import { checkPort, LocalSetupError, listenError } from './preflight.ts';
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
  /** Host names the API answers for besides its address and loopback. @default RELAY_ALLOWED_HOSTS */
  readonly allowedHosts?: readonly string[];
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

/** Stops, in reverse order, what a start has started so far. */
class Started {
  private readonly stops: (() => Promise<void> | void)[] = [];

  add(stop: () => Promise<void> | void): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        log('warn', 'could not stop part of the local stack', describeError(error));
      }
    }
  }
}

/** `RELAY_ALLOWED_HOSTS` (or the option), read before anything starts: a bad entry is a setup error. */
function allowedHostsOf(given: readonly string[] | undefined): string[] {
  try {
    return given
      ? parseAllowedHosts(given.join(','), 'allowedHosts')
      : parseAllowedHosts(process.env[ALLOWED_HOSTS_VARIABLE]);
  } catch (error) {
    throw new LocalSetupError((error as Error).message, { cause: error });
  }
}

/**
 * Starts the stack. Setup errors (`LocalSetupError`: a non-loopback address without a token, a busy
 * port, no Java) come before anything starts; any failure after leaves nothing running.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!isLoopback(host) && !options.token) {
    throw new LocalSetupError(
      `binding ${host} exposes Relay beyond this machine: set RELAY_TOKEN to require a bearer token`,
    );
  }
  const allowedHosts = allowedHostsOf(options.allowedHosts);
  await checkPort(host, port);
  await prepareDynamoDbLocal();
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });

  const started = new Started();
  try {
    const [dynamo, sqs] = await Promise.allSettled([
      startDynamoDbLocal({ dataDir: options.dataDir }),
      startSqsLocal(),
    ]);
    for (const engine of [dynamo, sqs]) if (engine.status === 'fulfilled') started.add(engine.value.stop);
    if (dynamo.status === 'rejected') throw dynamo.reason;
    if (sqs.status === 'rejected') throw sqs.reason;

    process.env[Env.DYNAMODB_ENDPOINT] = dynamo.value.endpoint;
    process.env[Env.SQS_ENDPOINT] = sqs.value.endpoint;
    process.env[Env.TABLE_NAME] ??= LOCAL_TABLE;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const raw = dynamoClient(dynamo.value.endpoint);
    try {
      await ensureTable(raw, process.env[Env.TABLE_NAME] as string);
    } finally {
      raw.destroy();
    }

    const queueClient = sqsClient(sqs.value.endpoint);
    started.add(() => queueClient.destroy());
    const queues = await ensureDispatchQueues(queueClient, {
      name: 'relay-dispatch',
      visibilityTimeoutSeconds: 60,
    });
    process.env[Env.DISPATCH_QUEUE_URL] = queues.queueUrl;
    process.env[Env.DISPATCH_DLQ_URL] = queues.deadLetterUrl;
    const executor = await startLocalExecutor();
    started.add(executor.stop);
    const dispatch = dispatchFromEnv();
    const poller = await startSqsPoller({
      client: queueClient,
      queueUrl: queues.queueUrl,
      handler: createDispatcher({ store: storeFromEnv(), execute: executor.execute, dispatch }),
    });
    started.add(poller.stop);
    // The dispatch queue lives only in memory: after a restart with --data-dir, every managed job
    // still waiting is owed a hint. Send them now rather than a grace period later; the sweep
    // repairs the rest, as it does any lost hint.
    if (dispatch) await redispatchLost(storeFromEnv(), dispatch, Date.now(), 0);

    const http = await startHttpAdapter({
      host,
      port,
      token: options.token,
      allowedHosts,
      handlers: {
        relay: createApiHandler('relay', apiContextFromEnv),
        jobs: createApiHandler('jobs', apiContextFromEnv),
        managed: createApiHandler('managed', apiContextFromEnv),
        fallback: createApiHandler('fallback', apiContextFromEnv),
      },
    }).catch((error: unknown) => {
      throw listenError(error, host, port);
    });
    started.add(http.close);

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
    started.add(async () => {
      stopping = true;
      clearInterval(timer);
      await running;
    });

    return {
      url: http.url,
      dynamodbEndpoint: dynamo.value.endpoint,
      sqsEndpoint: sqs.value.endpoint,
      dispatchQueueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterUrl,
      commandsRunAs: executor.runsAs,
      // The sweep, the API and the poller stop first, so no new run starts; then the runs going on
      // are given back, while DynamoDB Local still takes their writes; the emulators stop last.
      stop: () => started.stopAll(),
    };
  } catch (error) {
    await started.stopAll();
    throw error;
  }
}
