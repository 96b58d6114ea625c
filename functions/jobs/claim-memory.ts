/**
 * What a store remembers of its own recent claims on each queue, so that claims cost fewer
 * requests and lose fewer races: when it last looked for expired leases, and how widely its
 * first attempts spread.
 *
 * Per store, as a process on AWS has one: claimers in other processes are seen only through the
 * races this one loses.
 */

/** A claim looks for expired leases at least this often per store and queue. */
export const LEASE_LOOK_MS = 5_000;
/** ... and when `ready` had fewer jobs than it wanted, if it has not looked for this long. */
export const SHORT_LEASE_LOOK_MS = 1_000;
/** The widest spread: the first attempt picks among `spread` times the usual window. */
const MAX_SPREAD = 32;
/** A call that lost a race doubles the spread; one that lost none shrinks it by this factor. */
const CALM_DECAY = 0.9;

interface QueueMemory {
  /** When this store last queried `leases` for the queue (store clock); none yet: −∞. */
  leasesAt: number;
  /** 1: the first attempt takes the head in order. More: it picks at random in a wider window. */
  spread: number;
}

export class ClaimMemory {
  private readonly queues = new Map<string, QueueMemory>();

  private of(queue: string): QueueMemory {
    let memory = this.queues.get(queue);
    if (!memory) {
      memory = { leasesAt: Number.NEGATIVE_INFINITY, spread: 1 };
      this.queues.set(queue, memory);
    }
    return memory;
  }

  /**
   * Whether a claim at `now` queries `leases`: when it has not for `LEASE_LOOK_MS`, or, with
   * `short` (the ready jobs did not fill the claim), for `SHORT_LEASE_LOOK_MS`. Records the look.
   */
  looksForLeases(queue: string, now: number, short: boolean): boolean {
    const memory = this.of(queue);
    const since = now - memory.leasesAt;
    if (since < (short ? SHORT_LEASE_LOOK_MS : LEASE_LOOK_MS)) return false;
    memory.leasesAt = now;
    return true;
  }

  /** How widely the queue's next first attempt spreads (1: not at all). */
  spread(queue: string): number {
    return this.of(queue).spread;
  }

  /** Records whether a claim call lost a race to another claimer. */
  raced(queue: string, lost: boolean): void {
    const memory = this.of(queue);
    memory.spread = lost ? Math.min(memory.spread * 2, MAX_SPREAD) : Math.max(1, memory.spread * CALM_DECAY);
    // Back to in-order first attempts once the spread is nearly gone.
    if (memory.spread < 1.1) memory.spread = 1;
  }
}
