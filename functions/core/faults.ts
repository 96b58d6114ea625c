/**
 * Fault injection at the AWS client boundary, for the reliability suite (`npm run chaos`): calls
 * that fail with throttling or a 500, and SQS messages that are dropped, sent twice or delayed.
 * Emulators never fail on their own, so these are the only way to exercise Relay's fault paths
 * against real DynamoDB and SQS semantics.
 *
 * A process hooks its own clients with `addClientHook(errorFaults(…))`. Managed runs execute in
 * child processes of the runner, which the parent cannot hook, so every process also reads the
 * `RELAY_FAULT_*` variables below at start (the local executor passes its environment on). Production
 * never sets them; unset, this module installs nothing.
 */
import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { RequestThrottled, SQSServiceException } from '@aws-sdk/client-sqs';
import type { ClientCall, ClientHook } from './clients.ts';

/** Variables a process reads its faults from, each a probability from 0 to 1. Tests only. */
export const FaultEnv = {
  /** Share of DynamoDB and SQS calls that fail: throttled, or a 500 before or after the call took effect. */
  RATE: 'RELAY_FAULT_RATE',
  /** Share of SQS messages that never arrive while anyone waits, though the sender was told they were sent. */
  SQS_DROP: 'RELAY_FAULT_SQS_DROP',
  /** Share of SQS messages sent twice. */
  SQS_DUPLICATE: 'RELAY_FAULT_SQS_DUPLICATE',
  /** Share of SQS messages delayed by up to `MAX_EXTRA_DELAY_SECONDS` more. */
  SQS_DELAY: 'RELAY_FAULT_SQS_DELAY',
} as const;

/** The longest delay a delayed message gets on top of its own. */
export const MAX_EXTRA_DELAY_SECONDS = 10;
/** SQS's longest `DelaySeconds`. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html */
const MAX_DELAY_SECONDS = 900;

/** What a hook did to a call, for a test's tally. */
export type FaultKind = 'throttled' | 'error-before' | 'error-after' | 'dropped' | 'duplicated' | 'delayed';

export interface FaultOptions {
  /** Told of every fault injected. */
  readonly onFault?: (call: ClientCall, kind: FaultKind) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

/** The services whose calls `errorFaults` fails; ECS's own throttling is the executor's concern. */
const FAILING_SERVICES = new Set(['DynamoDB', 'SQS']);

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

/**
 * Installs the faults the `RELAY_FAULT_*` variables ask for, once per process (clients.ts calls it
 * at load). `install` is `addClientHook`, passed in so this module needs nothing from clients.ts
 * at run time.
 */
export function installFaultsFromEnv(
  install: (hook: ClientHook) => unknown,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const rate = probability(env, FaultEnv.RATE);
  const messages = {
    drop: probability(env, FaultEnv.SQS_DROP),
    duplicate: probability(env, FaultEnv.SQS_DUPLICATE),
    delay: probability(env, FaultEnv.SQS_DELAY),
  };
  if (rate) install(errorFaults(rate));
  if (messages.drop || messages.duplicate || messages.delay) install(messageFaults(messages));
}

function probability(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name} must be a probability from 0 to 1; got ${raw}`);
  return value;
}

function throttled(call: ClientCall): Error {
  const message = `injected fault: ${call.service}.${call.operation} throttled`;
  const $metadata = { httpStatusCode: 400 };
  return call.service === 'SQS'
    ? new RequestThrottled({ message, $metadata })
    : new ProvisionedThroughputExceededException({ message, $metadata });
}

function serverError(call: ClientCall): Error {
  const message = `injected fault: ${call.service}.${call.operation} failed with a 500`;
  const $metadata = { httpStatusCode: 500 };
  return call.service === 'SQS'
    ? new SQSServiceException({ name: 'InternalError', $fault: 'server', message, $metadata })
    : new InternalServerError({ message, $metadata });
}
