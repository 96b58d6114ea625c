/**
 * What a child process of a test or benchmark installs in itself: the body of the preload that
 * preload.ts builds. The reliability suite's workers and the runner program (dist/runner.mjs) are
 * programs of their own, whose clients this process cannot hook.
 */
import { addClientHook } from '../../functions/core/clients.ts';
import { errorFaults, type MessageFaults, messageFaults } from './faults.ts';

/** Hooks for a child process; each is off when absent. */
export interface ChildHooks {
  /** Share of DynamoDB and SQS calls that fail (`errorFaults`). */
  readonly errorRate?: number;
  /** Shares of SQS messages dropped, sent twice and delayed (`messageFaults`). */
  readonly messages?: MessageFaults;
  /**
   * Milliseconds the process's `Date.now` is off the real time: one is picked at random per
   * process. Only `Date.now` moves: Relay's store stamps leases, heartbeats and backoffs with it,
   * and `performance.timeOrigin + performance.now()` stays the real time for the suite's records.
   */
  readonly clockSkewMs?: readonly number[];
}

/** Installs `hooks` in this process. */
export function installChildHooks(hooks: ChildHooks): void {
  if (hooks.errorRate) addClientHook(errorFaults(hooks.errorRate));
  const { drop, duplicate, delay } = hooks.messages ?? {};
  if (drop || duplicate || delay) addClientHook(messageFaults({ drop, duplicate, delay }));
  const skews = hooks.clockSkewMs ?? [];
  if (skews.length) {
    const skew = skews[Math.floor(Math.random() * skews.length)] ?? 0;
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() + skew;
  }
}
