import { DynamoDBClient, type DynamoDBClientConfig, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Credentials for the embedded emulators: they accept any key, and static ones stop the SDK from
 * walking the default provider chain (and the EC2 metadata endpoint) on a machine with no AWS access.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'relaylocal', secretAccessKey: 'relaylocal' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * SDK client settings for an endpoint override: static credentials and a region when pointed at a
 * local emulator; the SDK's defaults (credential chain, region from the environment) otherwise.
 */
export function awsClientConfig(
  endpoint?: string,
): Pick<DynamoDBClientConfig, 'endpoint' | 'region' | 'credentials'> {
  if (!endpoint) return {};
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

/**
 * Takes the SDK's logger middleware off a client. With no logger configured, the SDK still hands
 * its no-op logger every call's input and output, first copied member by member against the
 * operation's schema to hide sensitive ones (`schemaLogFilter`): CPU on every call for a log line
 * that is never written. Relay gives its clients no SDK logger, so nothing it logs changes.
 */
export function withoutSdkLogging<T extends { middlewareStack: { remove(name: string): boolean } }>(
  client: T,
): T {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

// ---------------------------------------------------------------------------------------------
// Client hooks
// ---------------------------------------------------------------------------------------------

/** One AWS call as a hook sees it, before the SDK serializes it. */
export interface ClientCall {
  /** `DynamoDB`, `SQS` or `ECS`. */
  readonly service: string;
  /** The API operation: `PutItem`, `SendMessage`, `RunTask`… */
  readonly operation: string;
  /** The command's input; a hook may add to it (`ReturnConsumedCapacity`) before `next`. */
  readonly input: Record<string, unknown>;
}

/**
 * Wraps every AWS call of every Relay client: it may inspect or amend the input, call `next` (or
 * throw instead, to inject a fault), and read the output. Hooks serve benchmarks (request and
 * capacity accounting) and reliability tests (faults an emulator cannot produce), which install
 * them from their side; production code installs none, and then a call costs one array check.
 */
export type ClientHook = (call: ClientCall, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * The installed hooks: one list per process, kept on `globalThis` under a registered symbol. A
 * module preloaded into a bundled program (`node --import <file>`) has its own copy of this module,
 * and must add to the list the program's copy reads.
 */
const HOOKS = Symbol.for('relay.clientHooks');
const registry = globalThis as typeof globalThis & { [HOOKS]?: ClientHook[] };
registry[HOOKS] ??= [];
const hooks: ClientHook[] = registry[HOOKS];

/** Installs a hook on every client, existing and future; returns how to remove it. */
export function addClientHook(hook: ClientHook): () => void {
  hooks.push(hook);
  return () => {
    const at = hooks.indexOf(hook);
    if (at >= 0) hooks.splice(at, 1);
  };
}

type Stack = DynamoDBClient['middlewareStack'];

/** Routes the client's calls through the installed hooks (at call time, so later hooks apply). */
export function hooked<T extends { middlewareStack: unknown }>(client: T, service: string): T {
  (client.middlewareStack as Stack).add(
    (next, context) => async (args) => {
      if (!hooks.length) return next(args);
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      const call: ClientCall = { service, operation, input: args.input as Record<string, unknown> };
      let output: Awaited<ReturnType<typeof next>> | undefined;
      const chain = hooks.reduceRight<() => Promise<unknown>>(
        (inner, hook) => () => hook(call, inner),
        async () => {
          output = await next(args);
          return output.output;
        },
      );
      await chain();
      if (!output) throw new Error(`a client hook on ${service}.${operation} neither called next nor threw`);
      return output;
    },
    { step: 'initialize', name: 'relayClientHooks', priority: 'high' },
  );
  return client;
}

/** The DynamoDB client behind every store, with hooks. */
export function dynamoClient(endpoint?: string): DynamoDBClient {
  const client = hooked(withoutSdkLogging(new DynamoDBClient(awsClientConfig(endpoint))), 'DynamoDB');
  return endpoint ? awaitLocalCommit(client, endpoint) : client;
}

const TRANSACTIONS = new Set(['TransactWriteItemsCommand', 'ExecuteTransactionCommand']);

/**
 * DynamoDB Local answers a write transaction before SQLite has committed it: its
 * `SQLiteDBAccess.commitTransaction` queues the COMMIT on its one SQLite thread and returns without
 * waiting, so a crash right after the answer rolls an acknowledged transaction back (with
 * `--data-dir`, SIGKILL lost whole `unique` batches that had been acknowledged). That thread runs its
 * jobs in order and a `ListTables` waits for its own, so once a `ListTables` sent after the
 * transaction answers, the COMMIT has run: only then is the transaction's answer passed on.
 *
 * Emulators only (an endpoint override); DynamoDB answers after the write is durable. The barrier
 * has its own client, so hooks (call logs, injected faults) do not see it.
 */
function awaitLocalCommit(client: DynamoDBClient, endpoint: string): DynamoDBClient {
  let barrier: DynamoDBClient | undefined;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const output = await next(args);
      if (TRANSACTIONS.has(String(context.commandName))) {
        barrier ??= new DynamoDBClient(awsClientConfig(endpoint));
        await barrier.send(new ListTablesCommand({ Limit: 1 }));
      }
      return output;
    },
    { step: 'initialize', name: 'relayLocalCommitBarrier', priority: 'low' },
  );
  return client;
}

/** A document client that stores `undefined` as absent and keeps numbers as JavaScript numbers. */
export function documentClient(endpoint?: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamoClient(endpoint), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * A client built at its first call: for one that only some requests use (SQS for a managed job's
 * hint, ECS to stop a runner task), so a cold start that needs none does not build it.
 */
export function lazyClient<C extends { send(...args: never[]): unknown }>(make: () => C): Pick<C, 'send'> {
  let client: C | undefined;
  const send = (...args: never[]) => {
    client ??= make();
    return client.send(...args);
  };
  return { send: send as C['send'] };
}

export function sqsClient(endpoint?: string): SQSClient {
  return hooked(withoutSdkLogging(new SQSClient(awsClientConfig(endpoint))), 'SQS');
}

export function ecsClient(): ECSClient {
  return hooked(withoutSdkLogging(new ECSClient({})), 'ECS');
}
