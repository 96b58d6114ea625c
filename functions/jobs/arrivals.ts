/**
 * In-process wake-ups for long-poll claims: an enqueue tells the claims waiting on its queue in the
 * same process, so they claim at once instead of at their next re-query.
 *
 * Process-wide, keyed by table and queue: every store of a process shares it (locally the whole
 * stack is one process). It carries hints only: a woken claim is handed the jobs the enqueue wrote,
 * so it can try to claim them without reading the index first, but it still claims through
 * DynamoDB with the claim's own condition. A claim waiting in another process finds the job at its
 * next re-query (`long-poll.ts`).
 */
import type { JobItem, JobRef } from './item.ts';
import type { ItemKey } from './keys.ts';

/** A pull job just enqueued in this process, as a woken claim may try it without reading `ready`. */
export interface ArrivedJob {
  readonly id: string;
  readonly key: ItemKey;
  /** Its `ready` entry's partition and sort key, and its timeout: what the claim's condition checks. */
  readonly readyPk: string;
  readonly readySk: string;
  readonly timeoutMs: number;
}

/** A waiting claim: how many jobs it asks for, and how to wake it with the jobs it is handed. */
interface Waiter {
  readonly wanted: number;
  readonly wake: (arrived: readonly ArrivedJob[]) => void;
  /** Whether it waits (`until`), rather than still reading the queue after registering. */
  waiting: boolean;
}

const waiters = new Map<string, Waiter[]>();

const keyOf = (table: string, queue: string): string => `${table}\u0000${queue}`;

/**
 * The pull jobs among enqueued ones that a woken claim may be handed, in claim order. Only written
 * items qualify (a bare reference says nothing of the job's `ready` entry); managed jobs are
 * claimed by id by the dispatcher, never by a long poll.
 */
export function arrivedOf(written: readonly JobRef[]): ArrivedJob[] {
  const arrived: ArrivedJob[] = [];
  for (const ref of written) {
    const item = ref as Partial<JobItem>;
    if (item.type !== undefined || typeof item.ready_pk !== 'string' || typeof item.ready_sk !== 'string')
      continue;
    if (typeof item.pk !== 'string' || typeof item.sk !== 'string' || typeof item.timeout_ms !== 'number')
      continue;
    arrived.push({
      id: ref.id,
      key: { pk: item.pk, sk: item.sk },
      readyPk: item.ready_pk,
      readySk: item.ready_sk,
      timeoutMs: item.timeout_ms,
    });
  }
  return arrived.sort((a, b) => a.readySk.localeCompare(b.readySk));
}

/**
 * Wakes the claims waiting on the queue, the longest waiting first, until together they ask for
 * `count` jobs: a batch of 10 wakes one claim of 10, not ten claims that would race for it (and
 * each claim woken would read the queue again once it answered). Each woken claim is handed its
 * own share of `arrived`, so claims woken together do not race either.
 */
export function announce(
  table: string,
  queue: string,
  count: number,
  arrived: readonly ArrivedJob[] = [],
): void {
  const key = keyOf(table, queue);
  const queued = waiters.get(key);
  if (!queued) return;
  let handed = 0;
  while (handed < count && queued.length) {
    const waiter = queued.shift() as Waiter;
    waiter.wake(arrived.slice(handed, handed + waiter.wanted));
    handed += waiter.wanted;
  }
  if (!queued.length) waiters.delete(key);
}

/** A wait for the next enqueue on a queue, registered at once so nothing announced after is missed. */
export interface Arrival {
  /**
   * Resolves on an announcement with the jobs this claim is handed (none when the enqueue wrote
   * nothing it may try directly), or after `ms` with none, whichever comes first.
   */
  until(ms: number): Promise<readonly ArrivedJob[]>;
  /**
   * Stops waiting. Jobs handed to it while it was still claiming (before `until`), other than the
   * ones it `claimed` (their ids: handed jobs are all of its queue), go to the claims still waiting,
   * as a fresh announcement: a claim that found jobs on its own read answers with those, and what it
   * was handed must not wait for a re-query.
   */
  cancel(claimed?: readonly string[]): void;
}

/** Registers a claim of up to `wanted` jobs waiting on a queue. */
export function nextArrival(table: string, queue: string, wanted: number): Arrival {
  const key = keyOf(table, queue);
  let handed: readonly ArrivedJob[] | undefined;
  let taken = false;
  let resolve: (() => void) | undefined;
  const waiter: Waiter = {
    wanted,
    waiting: false,
    wake: (arrived) => {
      handed = arrived;
      resolve?.();
    },
  };
  const leave = () => {
    const queued = waiters.get(key);
    const i = queued?.indexOf(waiter) ?? -1;
    if (queued && i >= 0) queued.splice(i, 1);
    if (queued && !queued.length) waiters.delete(key);
  };
  waiters.set(key, [...(waiters.get(key) ?? []), waiter]);
  return {
    until(ms) {
      taken = true;
      if (handed) return Promise.resolve(handed);
      waiter.waiting = true;
      return new Promise((done) => {
        const timer = setTimeout(() => {
          leave();
          done([]);
        }, ms);
        resolve = () => {
          clearTimeout(timer);
          done(handed ?? []);
        };
      });
    },
    cancel(claimed = []) {
      leave();
      if (taken || !handed?.length) return;
      const gone = new Set(claimed);
      const unclaimed = handed.filter((job) => !gone.has(job.id));
      if (unclaimed.length) announce(table, queue, unclaimed.length, unclaimed);
    },
  };
}

/** How many claims of this process wait on a queue, their own read of it done: what an enqueue there hands jobs to. */
export const waitingClaims = (table: string, queue: string): number =>
  waiters.get(keyOf(table, queue))?.filter((waiter) => waiter.waiting).length ?? 0;
