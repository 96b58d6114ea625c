/**
 * In-process wake-ups for long-poll claims: an enqueue tells the claims waiting on its queue in the
 * same process, so they claim at once instead of at their next re-query.
 *
 * Process-wide, keyed by table and queue: every store of a process shares it (locally the whole
 * stack is one process). It carries hints only; a woken claim still claims through DynamoDB, and a
 * claim waiting in another process finds the job at its next re-query (`long-poll.ts`).
 */

type Wake = () => void;

const waiters = new Map<string, Wake[]>();

const keyOf = (table: string, queue: string): string => `${table}\u0000${queue}`;

/** Wakes up to `count` claims waiting on the queue, the longest waiting first. */
export function announce(table: string, queue: string, count: number): void {
  const key = keyOf(table, queue);
  const queued = waiters.get(key);
  if (!queued) return;
  for (const wake of queued.splice(0, count)) wake();
  if (!queued.length) waiters.delete(key);
}

/** A wait for the next enqueue on a queue, registered at once so nothing announced after is missed. */
export interface Arrival {
  /** Resolves on an announcement, or after `ms`, whichever comes first. */
  until(ms: number): Promise<void>;
  /** Stops waiting (an announcement is then passed to the next waiter). */
  cancel(): void;
}

export function nextArrival(table: string, queue: string): Arrival {
  const key = keyOf(table, queue);
  let woken = false;
  let resolve: (() => void) | undefined;
  const wake: Wake = () => {
    woken = true;
    resolve?.();
  };
  const cancel = () => {
    const queued = waiters.get(key);
    const i = queued?.indexOf(wake) ?? -1;
    if (queued && i >= 0) queued.splice(i, 1);
    if (queued && !queued.length) waiters.delete(key);
  };
  waiters.set(key, [...(waiters.get(key) ?? []), wake]);
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
