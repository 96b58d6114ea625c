/**
 * In-process wake-ups for long-poll claims: an enqueue tells the claims waiting on its queue in the
 * same process, so they claim at once instead of at their next re-query.
 *
 * Process-wide, keyed by table and queue: every store of a process shares it (locally the whole
 * stack is one process). It carries hints only; a woken claim still claims through DynamoDB, and a
 * claim waiting in another process finds the job at its next re-query (`long-poll.ts`).
 */

/** A waiting claim: how many jobs it asks for, and how to wake it. */
interface Waiter {
  readonly wanted: number;
  readonly wake: () => void;
}

const waiters = new Map<string, Waiter[]>();

const keyOf = (table: string, queue: string): string => `${table}\u0000${queue}`;

/**
 * Wakes the claims waiting on the queue, the longest waiting first, until together they ask for
 * `count` jobs: a batch of 10 wakes one claim of 10, not ten claims that would race for it.
 */
export function announce(table: string, queue: string, count: number): void {
  const key = keyOf(table, queue);
  const queued = waiters.get(key);
  if (!queued) return;
  let left = count;
  while (left > 0 && queued.length) {
    const waiter = queued.shift() as Waiter;
    left -= waiter.wanted;
    waiter.wake();
  }
  if (!queued.length) waiters.delete(key);
}

/** A wait for the next enqueue on a queue, registered at once so nothing announced after is missed. */
export interface Arrival {
  /** Resolves on an announcement, or after `ms`, whichever comes first. */
  until(ms: number): Promise<void>;
  /** Stops waiting (an announcement is then passed to the next waiter). */
  cancel(): void;
}

/** Registers a claim of up to `wanted` jobs waiting on a queue. */
export function nextArrival(table: string, queue: string, wanted: number): Arrival {
  const key = keyOf(table, queue);
  let woken = false;
  let resolve: (() => void) | undefined;
  const waiter: Waiter = {
    wanted,
    wake: () => {
      woken = true;
      resolve?.();
    },
  };
  const cancel = () => {
    const queued = waiters.get(key);
    const i = queued?.indexOf(waiter) ?? -1;
    if (queued && i >= 0) queued.splice(i, 1);
    if (queued && !queued.length) waiters.delete(key);
  };
  waiters.set(key, [...(waiters.get(key) ?? []), waiter]);
  return {
    until(ms) {
      if (woken) return Promise.resolve();
      return new Promise<void>((done) => {
        const timer = setTimeout(() => {
          cancel();
          done();
        }, ms);
        resolve = () => {
          clearTimeout(timer);
          done();
        };
      });
    },
    cancel,
  };
}
