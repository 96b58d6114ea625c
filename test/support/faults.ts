/**
 * Fault injection at the AWS client boundary: the one injector of the tests, the reliability suite
 * (`npm run chaos`) and the benchmarks. Emulators never fail on their own, so this is the only way
 * to exercise Relay's fault paths against real DynamoDB and SQS semantics.
 *
 * A fault is a `ClientHook` that throws instead of calling `next`, or changes the call. It applies
 * where it is installed: to every client of this process (`addClientHook`), to one client and the
 * document clients built on it (`onClient`), or to child processes such as the runner
 * (`childHooksPreload` in preload.ts, which installs the same hooks there).
 */
import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { RequestThrottled, SQSServiceException } from '@aws-sdk/client-sqs';
import type { ClientCall, ClientHook } from '../../functions/core/clients.ts';

/** How every injected error's message starts: a test that sees it knows the failure was made up. */
export const INJECTED = 'injected fault';

/** What a hook did to a call, for a test's tally. */
export type FaultKind = 'throttled' | 'error-before' | 'error-after' | 'dropped' | 'duplicated' | 'delayed';

export interface FaultOptions {
  /** Told of every fault injected. */
  readonly onFault?: (call: ClientCall, kind: FaultKind) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

/** The longest delay a delayed message gets on top of its own. */
export const MAX_EXTRA_DELAY_SECONDS = 10;
/** SQS's longest `DelaySeconds`. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html */
const MAX_DELAY_SECONDS = 900;

/** The services whose calls `errorFaults` fails; ECS's own throttling is the executor's concern. */
const FAILING_SERVICES = new Set(['DynamoDB', 'SQS']);

/** Fails, before it is made, every call for which `pick` returns an error; lets the rest through. */
export function failCalls(pick: (call: ClientCall) => Error | undefined): ClientHook {
  return async (call, next) => {
    const error = pick(call);
    if (error) throw error;
    return next();
  };
}

/**
 * Fails `rate` of all DynamoDB and SQS calls. Half of the failures are throttling
 * (`ProvisionedThroughputExceeded`, SQS `RequestThrottled`), thrown before the call is made. The
 * other half are 500s, thrown either before the call or after it took effect: AWS answers a 500
 * when it cannot tell whether a write happened, so the caller must cope with a write that did
 * happen but reports failure.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
 */
export function errorFaults(rate: number, options: FaultOptions = {}): ClientHook {
  const random = options.random ?? Math.random;
  return async (call, next) => {
    if (!FAILING_SERVICES.has(call.service) || random() >= rate) return next();
    const draw = random();
    if (draw < 0.5) {
      options.onFault?.(call, 'throttled');
      throw throttled(call);
    }
    if (draw < 0.75) {
      options.onFault?.(call, 'error-before');
      throw serverError(call);
    }
    await next();
    options.onFault?.(call, 'error-after');
    throw serverError(call);
  };
}

export interface MessageFaults {
  readonly drop?: number;
  readonly duplicate?: number;
  readonly delay?: number;
}

/**
 * Misdelivers SQS messages as a network and a queue may: `drop` of them never arrive while anyone
 * waits (the sender is told they were sent), `duplicate` are sent twice, `delay` arrive up to 10 s
 * late. One draw per message, so the shares add up and should total at most 1.
 */
export function messageFaults(faults: MessageFaults, options: FaultOptions = {}): ClientHook {
  const random = options.random ?? Math.random;
  const { drop = 0, duplicate = 0, delay = 0 } = faults;
  return async (call, next) => {
    if (call.service !== 'SQS' || call.operation !== 'SendMessage') return next();
    const draw = random();
    const input = call.input as { DelaySeconds?: number };
    if (draw < drop) {
      // A hook cannot answer for the call without making it, so a dropped message is held back
      // for SQS's longest delay: it arrives long after any scenario is over, if ever.
      options.onFault?.(call, 'dropped');
      input.DelaySeconds = MAX_DELAY_SECONDS;
      return next();
    }
    if (draw < drop + duplicate) {
      options.onFault?.(call, 'duplicated');
      await next();
      return next();
    }
    if (draw < drop + duplicate + delay) {
      options.onFault?.(call, 'delayed');
      const extra = 1 + Math.floor(random() * MAX_EXTRA_DELAY_SECONDS);
      input.DelaySeconds = Math.min(MAX_DELAY_SECONDS, (input.DelaySeconds ?? 0) + extra);
    }
    return next();
  };
}

/** What DynamoDB (`ProvisionedThroughputExceeded`) or SQS (`RequestThrottled`) answers a caller over its rate. */
export function throttled(call: Pick<ClientCall, 'service' | 'operation'>): Error {
  const message = `${INJECTED}: ${call.service}.${call.operation} throttled`;
  const $metadata = { httpStatusCode: 400 };
  return call.service === 'SQS'
    ? new RequestThrottled({ message, $metadata })
    : new ProvisionedThroughputExceededException({ message, $metadata });
}

/** A 500 from DynamoDB or SQS. */
export function serverError(call: Pick<ClientCall, 'service' | 'operation'>): Error {
  const message = `${INJECTED}: ${call.service}.${call.operation} failed with a 500`;
  const $metadata = { httpStatusCode: 500 };
  return call.service === 'SQS'
    ? new SQSServiceException({ name: 'InternalError', $fault: 'server', message, $metadata })
    : new InternalServerError({ message, $metadata });
}

/** An AWS error of any name, with the fields the SDK sets (`extra`: `CancellationReasons`…). */
export function awsError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${INJECTED}: ${name}`), { name, $metadata: {}, ...extra });
}

interface Hookable {
  readonly middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; priority: 'high' }): void;
    remove(name: string): boolean;
  };
}

let installed = 0;

/**
 * Runs `hook` on the calls of `client` alone: a document client and the client it wraps share
 * their middleware, so either names both. `addClientHook` is the same for every client of the
 * process. Returns how to remove it.
 */
export function onClient(client: object, hook: ClientHook): () => void {
  const stack = (client as Hookable).middlewareStack;
  const name = `relayTestHook${++installed}`;
  const middleware =
    (next: (args: { input: object }) => Promise<{ output: unknown }>, context: { commandName?: string }) =>
    async (args: { input: object }) => {
      const call: ClientCall = {
        service: serviceOf(client),
        operation: String(context.commandName ?? '').replace(/Command$/, ''),
        input: args.input as Record<string, unknown>,
      };
      let result: { output: unknown } | undefined;
      await hook(call, async () => {
        result = await next(args);
        return result.output;
      });
      if (!result)
        throw new Error(`a hook on ${call.service}.${call.operation} neither called next nor threw`);
      return result;
    };
  stack.add(middleware, { step: 'initialize', name, priority: 'high' });
  return () => {
    stack.remove(name);
  };
}

/** `DynamoDB`, `SQS`, `ECS`: the SDK's service id, which is what `ClientCall.service` names too. */
const serviceOf = (client: object) =>
  String((client as { config?: { serviceId?: string } }).config?.serviceId);
