/**
 * The whole of Relay on one machine: DynamoDB Local as a child process, fauxqs (SQS) in-process,
 * the real Lambda handlers behind a node:http adapter (which also serves the web dashboard), the
 * dispatcher fed by a local SQS poller as Lambda's event source feeds it, runs of managed jobs in
 * this process (their commands as its children), and the maintenance sweep on a timer.
 *
 * It wires the same modules the Lambda entry points wire, from explicit settings (the table, the
 * emulators' endpoints and queues, and the caller's environment for the rest); it writes nothing to
 * `process.env`.
 *
 * Everything it starts listens on loopback only (the API too, unless asked otherwise with a token)
 * and ends with it. What can fail for want of setup (the port, Java) is checked before anything
 * starts, and a start that fails later stops what it had started.
 */
import { mkdirSync } from 'node:fs';
import { apiHandlers } from '../api/all-operations.ts';
import { commandSettingsFromEnv } from '../api/commands.ts';
import { contextFor } from '../api/context.ts';
import { openApiDocument } from '../api/openapi.ts';
import { openApiGenerated } from '../api/openapi-source.ts';
import { documentClient, dynamoClient, sqsClient } from '../core/clients.ts';
import { readConfig } from '../core/config.ts';
import { DISPATCH_BATCH_SIZE, DISPATCH_MAX_CONCURRENCY } from '../core/dispatch-source.ts';
import { Env } from '../core/env.ts';
import { describeError, log } from '../core/log.ts';
import { fanOut, metricsFromEnv } from '../core/metrics.ts';
import { dashboardPages } from '../dashboard/serve.ts';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { maintain } from '../dispatch/maintenance.ts';
import { DispatchQueue, ensureDispatchQueues } from '../dispatch/queue.ts';
import { redispatchLost } from '../dispatch/repair.ts';
import { JobStore } from '../jobs/store.ts';
import { ensureTable } from '../jobs/table.ts';
import { prepareDynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { startLocalExecutor } from './executor.ts';
import { ALLOWED_HOSTS_VARIABLE, parseAllowedHosts, startHttpAdapter } from './http-adapter.ts';
import { metricsPage } from './metrics-page.ts';
import { checkPort, LocalSetupError, listenError } from './preflight.ts';
import { PrometheusMetrics } from './prometheus.ts';
import { startSqsLocal } from './sqs-local.ts';
import { startSqsPoller } from './sqs-poller.ts';

/** How often the local maintenance pass reports the backlog gauges: as EventBridge runs it on AWS. */
const BACKLOG_GAUGE_INTERVAL_MS = 60_000;
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
  /**
   * What the Lambda functions get from a deployed stack (the table, the emulators' endpoints, the
   * dispatch queues): for programs that work beside the stack.
   */
  readonly environment: Readonly<Record<string, string>>;
  /** The stack's job store and dispatch queue, for tools that work beside it in this process. */
  readonly store: JobStore;
  readonly dispatch: DispatchQueue;
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

    const table = process.env[Env.TABLE_NAME] ?? LOCAL_TABLE;
    const raw = dynamoClient(dynamo.value.endpoint);
    try {
      await ensureTable(raw, table);
    } finally {
      raw.destroy();
    }

    const queueClient = sqsClient(sqs.value.endpoint);
    started.add(() => queueClient.destroy());
    const queues = await ensureDispatchQueues(queueClient, {
      name: 'relay-dispatch',
      visibilityTimeoutSeconds: 60,
    });
    // What the Lambda functions get from the stack, here for this process.
    const relay = {
      [Env.TABLE_NAME]: table,
      [Env.DYNAMODB_ENDPOINT]: dynamo.value.endpoint,
      [Env.SQS_ENDPOINT]: sqs.value.endpoint,
      [Env.DISPATCH_QUEUE_URL]: queues.queueUrl,
      [Env.DISPATCH_DLQ_URL]: queues.deadLetterUrl,
    };
    const settings: NodeJS.ProcessEnv = { ...process.env, ...relay };
    const config = readConfig(settings);
    // The same records as EMF on AWS, here for `GET /metrics` (and as EMF too, if RELAY_METRICS says).
    const prometheus = new PrometheusMetrics();
    const metrics = fanOut(prometheus, metricsFromEnv(settings));
    const store = new JobStore(documentClient(config.dynamodbEndpoint), config, Date.now, metrics);
    prometheus.countJobs(store);
    const dispatch = new DispatchQueue(queueClient, queues.queueUrl, queues.deadLetterUrl);
    const commands = commandSettingsFromEnv(settings);
    const context = contextFor(store, { dispatch, commands, openapi: openApiGenerated(openApiDocument) });

    const executor = await startLocalExecutor({ store, dispatch, policy: commands.policy, env: settings });
    started.add(executor.stop);
    const poller = await startSqsPoller({
      client: queueClient,
      queueUrl: queues.queueUrl,
      handler: createDispatcher({ store, execute: executor.execute, dispatch, metrics }),
      batchSize: DISPATCH_BATCH_SIZE,
      concurrency: DISPATCH_MAX_CONCURRENCY,
    });
    started.add(poller.stop);
    // The dispatch queue lives only in memory: after a restart with --data-dir, every managed job
    // still waiting is owed a hint. Send them now rather than a grace period later; the sweep
    // repairs the rest, as it does any lost hint.
    await redispatchLost(store, dispatch, Date.now(), 0);

    const http = await startHttpAdapter({
      host,
      port,
      token: options.token,
      allowedHosts,
      files: dashboardPages(),
      pages: { '/metrics': metricsPage(prometheus) },
      handlers: apiHandlers(() => context),
    }).catch((error: unknown) => {
      throw listenError(error, host, port);
    });
    started.add(http.close);

    // The sweep never overlaps itself; a slow run just delays the next one. It runs every second,
    // but reports the backlog gauges (a bounded read of every queue) at most once a minute, as the
    // pass does on AWS: the other passes count only dead jobs.
    let stopping = false;
    let running: Promise<unknown> = Promise.resolve();
    let gaugesAt = Number.NEGATIVE_INFINITY;
    const timer = setInterval(() => {
      running = running.then(async () => {
        if (stopping) return;
        const gauges = Date.now() - gaugesAt >= BACKLOG_GAUGE_INTERVAL_MS;
        if (gauges) gaugesAt = Date.now();
        try {
          await maintain({ store, dispatch, metrics: gauges ? metrics : undefined });
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
      environment: relay,
      store,
      dispatch,
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
